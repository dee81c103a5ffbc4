#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The branchfs command on real mounts: stdout, stderr, exit codes and JSON of
# every subcommand and of every error path.  Run by tests/run-suite.sh (which
# sets $BFS_TEST_TMP and removes whatever mount or daemon a failure leaves).
#
#   test_cli.sh BRANCHFS PASSTHROUGH [FAILCTL]
#
# PASSTHROUGH is the benchmark's floor daemon (tests/bench/passthrough.c), a
# FUSE file system of another kind.  FAILCTL is tests/cli/failctl.c built as
# an LD_PRELOAD module (absent in sanitizer builds: those cases are then
# skipped).
set -u
BFS=$1
PASSTHROUGH=$2
FAILCTL=${3:-}
: "${BFS_TEST_TMP:?run me through tests/run-suite.sh}"
T=$(mktemp -d "$BFS_TEST_TMP/cli.XXXXXX")
T=$(realpath "$T")
base=$T/base
st=$T/storage
mnt=$T/mnt/ws
pass=0
fail=0

cleanup() {
	"$BFS" unmount "$mnt" >/dev/null 2>&1
}
trap cleanup EXIT

# run ARGS...: run branchfs; sets $rc, $out and $err.
run() {
	"$BFS" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

ok() {
	pass=$((pass + 1))
}

bad() {
	fail=$((fail + 1))
	echo "FAIL: $*" >&2
	echo "  rc=$rc" >&2
	echo "  stdout: $out" >&2
	echo "  stderr: $err" >&2
}

# expect RC STDOUT STDERR -- ARGS...: exact exit code, stdout and stderr
# ('*' skips a comparison).
expect() {
	local want_rc=$1 want_out=$2 want_err=$3
	shift 4
	run "$@"
	if [ "$rc" != "$want_rc" ]; then
		bad "branchfs $*: exit code $rc, want $want_rc"
	elif [ "$want_out" != '*' ] && [ "$out" != "$want_out" ]; then
		bad "branchfs $*: stdout, want: $want_out"
	elif [ "$want_err" != '*' ] && [ "$err" != "$want_err" ]; then
		bad "branchfs $*: stderr, want: $want_err"
	else
		ok
	fi
}

# expect_fail RC STDERR -- ARGS...: a failure with that one-line message
# and nothing on stdout.
expect_fail() {
	local want_rc=$1 want_err=$2
	shift 3
	expect "$want_rc" "" "$want_err" -- "$@"
}

not() {
	! "$@"
}

daemon_gone() {
	[ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status"
}

renamed_in_base() {
	[ -f "$base/d2/x" ] && [ ! -e "$base/d1" ]
}

# check DESCRIPTION COMMAND...: a shell condition on the last run.
check() {
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

# j FILTER: a value from the JSON on stdout (jq, else python3).
j() {
	if command -v jq >/dev/null; then
		jq -r "$1" <"$T/out"
	else
		python3 -c 'import json,sys
v=json.load(open(sys.argv[2]))
for k in sys.argv[1].lstrip(".").replace("]","").replace("[",".").split("."):
    if k: v=v[int(k)] if k.isdigit() else v[k]
print("null" if v is None else str(v).lower() if isinstance(v,bool) else v)' "$1" "$T/out"
	fi
}

json_valid() {
	if command -v jq >/dev/null; then
		jq -e . <"$T/out" >/dev/null
	else
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out"
	fi
}

# jeq FILTER VALUE: the JSON on stdout has VALUE at FILTER.
jeq() {
	local got
	got=$(j "$1")
	if [ "$got" = "$2" ]; then ok; else bad "json $1 = '$got', want '$2'"; fi
}

mkdir -p "$base/d1" "$T/plain"
echo base >"$base/a.txt"
echo b >"$base/b.txt"
echo g >"$base/gone.txt"
echo x >"$base/d1/x"

# --- general --------------------------------------------------------------
version=$("$BFS" --version | sed -n 's/^branchfs //p')
expect 0 "branchfs $version" "" -- --version
check "version looks like x.y.z" grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' <<<"$version"
expect 0 '*' "" -- --help
helpout=$out
for c in mount unmount create commit abort switch list status diff; do
	check "--help lists $c" grep -q "^  $c " <<<"$helpout"
	expect 0 '*' "" -- help "$c"
	check "help $c starts with its usage" grep -q "^usage: branchfs $c" <<<"$out"
	expect 0 '*' "" -- "$c" --help
	check "$c --help starts with its usage" grep -q "^usage: branchfs $c" <<<"$out"
done
expect 0 '*' "" -- help
expect_fail 2 "branchfs: help: unknown subcommand 'nope' (see 'branchfs --help')" -- help nope
expect_fail 2 "branchfs: unknown subcommand 'nope' (see 'branchfs --help')" -- nope
expect 2 "" '*' --
check "no arguments prints usage on stderr" grep -q '^usage: branchfs' <<<"$err"
expect_fail 2 "branchfs: list: unknown option '--bogus' (usage: branchfs list [MNT] [--storage DIR] [--json])" -- list --bogus
expect_fail 2 "branchfs: create: missing argument (usage: branchfs create NAME MNT [-p PARENT])" -- create x
expect_fail 2 "branchfs: create: option '-p' needs an argument (usage: branchfs create NAME MNT [-p PARENT])" -- create x y -p
expect_fail 2 "branchfs: switch: unexpected argument 'c' (usage: branchfs switch NAME MNT)" -- switch a b c
expect_fail 2 "branchfs: commit: unexpected argument 'b' (usage: branchfs commit MNT)" -- commit a b
expect_fail 2 "branchfs: abort: unexpected argument 'b' (usage: branchfs abort MNT)" -- abort a b
expect_fail 2 "branchfs: status: unexpected argument 'b' (usage: branchfs status [MNT] [--storage DIR] [--json])" -- status a b
expect_fail 2 "branchfs: diff: unexpected argument 'c' (usage: branchfs diff [BRANCH] [MNT] [--stat] [--json])" -- diff a b c
expect_fail 2 "branchfs: list: unexpected argument 'b' (usage: branchfs list [MNT] [--storage DIR] [--json])" -- list a b
# A long option given a value it does not take is named as written.
expect_fail 2 "branchfs: unmount: option '--keep' takes no argument (usage: branchfs unmount MNT [--keep])" -- unmount --keep=x a
expect_fail 2 "branchfs: list: option '--json' takes no argument (usage: branchfs list [MNT] [--storage DIR] [--json])" -- list --json=1
expect_fail 2 "branchfs: list: unknown option '--bogus=1' (usage: branchfs list [MNT] [--storage DIR] [--json])" -- list --bogus=1
expect_fail 2 "branchfs: list: unknown option '-z' (usage: branchfs list [MNT] [--storage DIR] [--json])" -- list -z
# A failed write of the primary output is an error.
"$BFS" --version >/dev/full 2>"$T/err"
rc=$? out="" err=$(cat "$T/err")
check "write error exits 1" [ "$rc" = 1 ]
check "write error is reported" grep -q '^branchfs: cannot write the output' <<<"$err"

# --- mount ----------------------------------------------------------------
expect_fail 2 "branchfs: mount: missing argument (usage: branchfs mount [--base DIR] [--storage DIR] [--max-storage SIZE] [-o OPTS] MNT)" -- mount --base "$base"
expect_fail 2 "branchfs: mount: invalid size '10X' (usage: branchfs mount [--base DIR] [--storage DIR] [--max-storage SIZE] [-o OPTS] MNT)" -- mount --max-storage 10X "$mnt"
expect_fail 1 "branchfs: cannot mount $mnt: base directory '$T/nope' does not exist" -- mount --base "$T/nope" "$mnt"
BRANCHFSD=$T/no-daemon expect 1 "" '*' -- mount --base "$base" --storage "$st" "$mnt"
check "a missing daemon is one line" [ "$(wc -l <<<"$err")" = 1 ]
check "a missing daemon is named" grep -q "^branchfs: cannot mount $mnt: .*no-daemon" <<<"$err"
# The storage is a file: the daemon's own reason comes back on one line.
echo file >"$T/afile"
expect 1 "" '*' -- mount --base "$base" --storage "$T/afile" "$mnt"
check "daemon failure is one line" [ "$(wc -l <<<"$err")" = 1 ]
check "daemon failure carries its reason" grep -q "^branchfs: cannot mount $mnt: cannot open base .*: not a directory$" <<<"$err"
check "nothing is left mounted" not grep -q " $mnt fuse" /proc/mounts
# A mount point that cannot be made is named as such, not as a missing daemon.
expect_fail 1 "branchfs: cannot mount /proc/no/mnt: cannot make the mount point: no such file or directory" -- mount --base "$base" --storage "$st" /proc/no/mnt
# Places that cannot work together are refused before anything is made: a
# storage inside the base (main would show it), a mount point below the
# base (it would contain itself); relative paths are resolved first.
expect_fail 1 "branchfs: cannot mount $mnt: storage $base/.st is inside the base $base: main would show the branches' data; choose a storage outside the base" -- mount --base "$base" --storage "$base/.st" "$mnt"
check "no storage made inside the base" [ ! -e "$base/.st" ]
expect_fail 1 "branchfs: cannot mount $mnt: storage $base is inside the base $base: main would show the branches' data; choose a storage outside the base" -- mount --base "$base" --storage "$base/../base" "$mnt"
mkdir "$base/inner"
expect_fail 1 "branchfs: cannot mount $base/inner: $base/inner is inside its base $base: the mount would contain itself; mount on the base itself or outside it" -- mount --base "$base" --storage "$st" "$base/inner"
check "nothing is mounted inside the base" not grep -q " $base/inner fuse" /proc/mounts
rmdir "$base/inner"

# The mount point is created; the command returns once the mount answers.
expect 0 "mounted $base at $mnt" "" -- mount --base "$base" --storage "$st" "$mnt"
check "mounted as fuse.branchfs" grep -q "^branchfs $mnt fuse.branchfs " /proc/mounts
check "the base shows at the mount" [ "$(cat "$mnt/a.txt")" = base ]
expect_fail 1 "branchfs: cannot mount $mnt: a branchfs mount is already there" -- mount --base "$base" --storage "$st" "$mnt"

# --- status and list on a fresh mount ----------------------------------------
expect 0 '*' "" -- status --json "$mnt"
check "status --json is valid JSON" json_valid
jeq .mount "$mnt"
jeq .base "$base"
jeq .storage "$st"
jeq .branches 0
jeq .current.name main
jeq .current.parent null
pid=$(j .daemon_pid)
check "status names the daemon" [ -d "/proc/$pid" ]
expect 0 '*' "" -- status "$mnt"
check "status: branch line" grep -qx 'branch:   main' <<<"$out"
check "status: daemon line" grep -qx "daemon:   $pid" <<<"$out"
check "status: mount line" grep -qx "mount:    $mnt" <<<"$out"
expect 0 "* main     -       -" "" -- list "$mnt"

# --- create -------------------------------------------------------------------
expect 0 "created and switched to branch 'feat' (parent 'main')" "" -- create feat "$mnt"
check "the mount is on feat" [ "$(cat "$mnt/.branchfs_ctl")" = feat ]
check "@feat exists" [ -d "$mnt/@feat" ]
expect 0 "created and switched to branch 'sub' (parent 'feat')" "" -- create sub "$mnt" -p feat
# The parent defaults to main (BranchFS's CLI), not to the current branch.
expect 0 "created and switched to branch 'side' (parent 'main')" "" -- create side "$mnt"
expect 0 "created and switched to branch 'side2' (parent 'main')" "" -- create --parent main side2 "$mnt" --storage "$st"
expect_fail 1 "branchfs: branch 'feat' already exists" -- create feat "$mnt"
# A switch that fails after the create takes the new branch away again.
if [ -n "$FAILCTL" ]; then
	LD_PRELOAD=$FAILCTL BFS_FAIL_SWITCH=1 expect_fail 1 "branchfs: cannot switch to the new branch 'sw': input/output error (it was aborted again)" -- create sw "$mnt"
	check "a failed create leaves no branch" [ ! -e "$mnt/@sw" ]
	check "a failed create leaves the mount where it was" [ "$(cat "$mnt/.branchfs_ctl")" = side2 ]
	LD_PRELOAD=$FAILCTL BFS_FAIL_SWITCH=1 BFS_FAIL_ABORT=1 expect_fail 1 "branchfs: cannot switch to the new branch 'sw': input/output error; it is left at $mnt/@sw (aborting it failed: input/output error)" -- create sw "$mnt"
	check "a branch that could not be aborted is where the message says" [ -d "$mnt/@sw" ]
	expect 0 "switched to 'sw'" "" -- switch sw "$mnt"
	expect 0 "aborted 'sw', now on 'main'" "" -- abort "$mnt"
else
	echo "cli: failctl not built (sanitizer build): create rollback not tested"
fi
expect_fail 1 "branchfs: cannot create 'x': parent branch 'nope' does not exist" -- create x "$mnt" -p nope
expect_fail 1 "branchfs: cannot create '': branch names cannot be empty" -- create "" "$mnt"
expect_fail 1 "branchfs: cannot create 'a/b': branch names cannot contain '/'" -- create a/b "$mnt"
expect_fail 1 "branchfs: cannot create '.': '.' and '..' are not branch names" -- create . "$mnt"
expect_fail 1 "branchfs: cannot create '..': '.' and '..' are not branch names" -- create .. "$mnt"
expect_fail 1 "branchfs: cannot create '@x': branch names cannot start with '@'" -- create @x "$mnt"
expect_fail 1 "branchfs: cannot create 'main': 'main' is reserved for the root branch" -- create main "$mnt"
# The daemon trims a command: "x " would silently become "x".
expect_fail 1 "branchfs: cannot create 'x ': branch names cannot start or end with whitespace" -- create "x " "$mnt"
expect_fail 1 "branchfs: cannot create ' x': branch names cannot start or end with whitespace" -- create " x" "$mnt"
expect_fail 1 "branchfs: cannot create 'a$(printf '\t')b': branch names cannot contain control characters" -- create "a$(printf '\t')b" "$mnt"
check "no branch x was made" [ ! -e "$mnt/@x" ]
long=$(printf 'a%.0s' $(seq 256))
expect_fail 1 "branchfs: cannot create '$long': branch names are at most 255 bytes long" -- create "$long" "$mnt"
expect 0 '*' "" -- create "${long:1}" "$mnt" -p main
expect 0 "aborted '${long:1}', now on 'main'" "" -- abort "$mnt"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- create x "$T/plain"
expect_fail 4 "branchfs: $T/none is not a branchfs mount (no such directory)" -- create x "$T/none"

# --- switch -------------------------------------------------------------------
expect 0 "switched to 'feat'" "" -- switch feat "$mnt" --storage "$st"
expect_fail 1 "branchfs: cannot switch to 'nope': no such branch" -- switch nope "$mnt"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- switch feat "$T/plain"

# --- diff -------------------------------------------------------------------
echo changed >"$mnt/a.txt"
printf 12345 >"$mnt/new.txt"
mv "$mnt/d1" "$mnt/d2"
mv "$mnt/b.txt" "$mnt/c.txt"
rm "$mnt/gone.txt"
ln -s a.txt "$mnt/link"
expect 0 "M  a.txt
R  b.txt -> c.txt
R  d1/ -> d2/
D  gone.txt
A  link
A  new.txt" "" -- diff "$mnt"
expect 0 "$out" "" -- diff feat "$mnt" --storage "$st"
expect 0 " a.txt    | M 8B
 c.txt    | R from b.txt
 d2/      | R from d1/
 gone.txt | D
 link     | A 5B
 new.txt  | A 5B
 6 changes: 2 added, 1 modified, 1 deleted, 2 renamed" "" -- diff --stat "$mnt"
expect 0 '*' "" -- diff --json "$mnt"
check "diff --json is valid JSON" json_valid
jeq .branch feat
jeq .parent main
jeq '.changes | length' 6
jeq '.changes[0].status' modified
jeq '.changes[0].path' a.txt
jeq '.changes[0].type' file
jeq '.changes[0].size' 8
jeq '.changes[1].status' renamed
jeq '.changes[1].path' c.txt
jeq '.changes[1].old_path' b.txt
jeq '.changes[1].type' file
jeq '.changes[1].size' 2
jeq '.changes[2].status' renamed
jeq '.changes[2].old_path' d1
jeq '.changes[2].type' dir
jeq '.changes[3].status' deleted
jeq '.changes[3].path' gone.txt
jeq '.changes[3].old_path' null
jeq '.changes[3].type' file
jeq '.changes[3].size' 2
jeq '.changes[4].type' symlink
jeq '.changes[5].old_path' null
# One argument: a mount root (or a path with '/') is MNT, else BRANCH.
echo s >"$mnt/@sub/sub.txt"
(cd "$mnt/@sub" && "$BFS" diff sub >"$T/out" 2>"$T/err")
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
check "diff BRANCH from inside the mount" [ "$rc/$out/$err" = "0/A  sub.txt/" ]
(cd "$mnt" && "$BFS" diff . >"$T/out" 2>"$T/err")
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
check "diff . is the mount" [ "$rc/$(head -1 "$T/out")" = "0/M  a.txt" ]
expect 0 "" "" -- diff side "$mnt"
expect_fail 1 "branchfs: cannot diff 'main': main has no parent" -- diff main "$mnt"
expect_fail 1 "branchfs: cannot diff 'nope': no such branch" -- diff nope "$mnt"
# --json prints nothing on stdout when it fails.
expect_fail 1 "branchfs: cannot diff 'nope': no such branch" -- diff --json nope "$mnt"
expect_fail 1 "branchfs: cannot diff 'main': main has no parent" -- diff --json main "$mnt"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- list --json "$T/plain"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- status --json "$T/plain"
expect_fail 1 "branchfs: cannot read storage '$T/none': no such directory" -- list --json --storage "$T/none"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- diff feat "$T/plain"
(cd "$T/plain" && "$BFS" diff >"$T/out" 2>"$T/err")
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
check "diff outside a mount exits 4" [ "$rc/$out/$err" = "4//branchfs: $T/plain is not a branchfs mount" ]

# Names that need escaping in JSON: the daemon allows any byte but '/' and
# NUL (the CLI refuses control characters, so another client makes it).
weird=$(printf 'we"ird\\na\tme\001')
printf 'create:%s' "$weird" >"$mnt/@feat/.branchfs_ctl"
expect 0 "switched to '$weird'" "" -- switch "$weird" "$mnt"
printf x >"$mnt/$(printf 'f\nile\377')"
expect 0 '*' "" -- diff --json "$weird" "$mnt"
check "escaped names are valid JSON" json_valid
jeq .branch "$weird"
expect 0 '*' "" -- list --json "$mnt"
check "list --json with odd names is valid JSON" json_valid
expect 0 "aborted '$weird', now on 'feat'" "" -- abort "$mnt"

# --- list ---------------------------------------------------------------------
expect 0 '*' "" -- list "$mnt"
check "list: main at the top" grep -Eq '^  main +- +-$' <<<"$(head -1 <<<"$out")"
check "list: current marked, children indented" grep -Eq '^\*   feat +[0-9]+[smhd] +[0-9.]+[BKMG]?$' <<<"$out"
check "list: grandchild indented twice" grep -Eq '^      sub +[0-9]+[smhd] +[0-9.]+[BKMG]$' <<<"$out"
check "list: nothing stale yet" not grep -q stale <<<"$out"
expect 0 '*' "" -- list --json "$mnt"
check "list --json is valid JSON" json_valid
jeq .current feat
jeq .storage "$st"
jeq '.branches[0].name' main
jeq '.branches[0].parent' null
jeq '.branches[0].depth' 0
jeq '.branches[1].name' feat
jeq '.branches[1].parent' main
jeq '.branches[1].current' true
jeq '.branches[2].name' sub
jeq '.branches[2].depth' 2
jeq '.branches[2].stale' false
check "list --json: feat has changes" [ "$(j '.branches[1].change_bytes')" -gt 0 ]
# From inside the mount, and from the storage alone.
(cd "$mnt/@sub" && "$BFS" list >"$T/out2" 2>"$T/err")
check "list from inside the mount shows the tree" grep -q '^\*   feat' "$T/out2"
expect 0 '*' "" -- list --storage "$st"
check "list --storage without a mount" grep -q '^\*   feat' <<<"$out"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- list "$T/plain"
(cd "$T/plain" && "$BFS" list >"$T/out" 2>"$T/err")
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
check "list outside a mount exits 4" [ "$rc/$out/$err" = "4//branchfs: $T/plain is not a branchfs mount" ]
expect_fail 1 "branchfs: cannot read storage '$T/none': no such directory" -- list --storage "$T/none"
expect_fail 1 "branchfs: cannot read storage '$T/plain': not a branchfs storage directory" -- list --storage "$T/plain"
expect_fail 1 "branchfs: cannot read storage '$base/a.txt': not a directory" -- list --storage "$base/a.txt"
expect_fail 1 "branchfs: cannot read storage '$base/a.txt/x': not a directory" -- status --storage "$base/a.txt/x"
expect_fail 1 "branchfs: cannot read storage '$T/none': no such directory" -- status --storage "$T/none"
# A daemon that does not say where its storage is (BranchFS's, without
# FS_IOC_BRANCH_INFO): --storage DIR is where to look.
if [ -n "$FAILCTL" ]; then
	expect 0 '*' "" -- list "$mnt"
	tree=$out
	LD_PRELOAD=$FAILCTL BFS_FAIL_INFO=1 expect_fail 1 "branchfs: cannot list the branches of $mnt: the daemon does not tell where its storage is" -- list "$mnt"
	LD_PRELOAD=$FAILCTL BFS_FAIL_INFO=1 expect 0 '*' "" -- list "$mnt" --storage "$st"
	# The same tree; ages may have ticked over a second meanwhile.
	check "list --storage shows the mount's tree" \
		[ "$(sed -E 's/ +[0-9]+[smhd] +/ AGE /' <<<"$out")" = "$(sed -E 's/ +[0-9]+[smhd] +/ AGE /' <<<"$tree")" ]
	LD_PRELOAD=$FAILCTL BFS_FAIL_INFO=1 expect 0 '*' "" -- list --json "$mnt" --storage "$st"
	jeq .storage "$st"
	jeq .current feat
	LD_PRELOAD=$FAILCTL BFS_FAIL_INFO=1 expect 0 '*' "" -- status --json "$mnt" --storage "$st"
	jeq .mount "$mnt"
	jeq .storage "$st"
	jeq .current.name feat
	LD_PRELOAD=$FAILCTL BFS_FAIL_INFO=1 expect_fail 1 "branchfs: cannot read storage '$T/none': no such directory" -- list "$mnt" --storage "$T/none"
fi

# --- commit and abort -----------------------------------------------------------
expect_fail 1 "branchfs: cannot commit 'feat': the branch has live children" -- commit "$mnt"
expect_fail 1 "branchfs: cannot abort 'feat': the branch has live children" -- abort "$mnt"
check "a refused abort leaves the branch" eval '[ -d "$mnt/@feat" ] && [ -d "$mnt/@sub" ]'
expect 0 "switched to 'sub'" "" -- switch sub "$mnt"
expect 0 "committed 'sub' into 'feat'" "" -- commit --storage "$st" "$mnt"
check "the mount is back on feat" [ "$(cat "$mnt/.branchfs_ctl")" = feat ]
check "sub's file landed in feat" [ -f "$mnt/@feat/sub.txt" ]
expect 0 "committed 'feat' into 'main'" "" -- commit "$mnt"
check "the commit landed in the base" [ "$(cat "$base/a.txt")" = changed ]
check "the rename landed in the base" renamed_in_base
check "the file rename landed in the base" eval '[ -f "$base/c.txt" ] && [ ! -e "$base/b.txt" ]'
check "the deletion landed in the base" [ ! -e "$base/gone.txt" ]
expect 0 '*' "" -- list "$mnt"
check "siblings are marked stale" grep -Eq '^    side +[0-9]+[smhd] +0  stale$' <<<"$out"
expect 0 '*' "" -- status --json "$mnt"
jeq .current.name main
jeq .current.generation 1
expect 0 "switched to 'side'" "" -- switch side "$mnt"
expect 0 '*' "" -- status --json "$mnt"
jeq .current.stale true
expect 0 '*' "" -- status "$mnt"
check "status says stale" grep -qx 'stale:    yes' <<<"$out"
expect_fail 3 "branchfs: cannot commit 'side': a sibling committed first" -- commit "$mnt"
expect 0 "aborted 'side', now on 'main'" "" -- abort "$mnt" --storage "$st"
expect_fail 1 "branchfs: cannot commit 'main': main cannot be committed or aborted" -- commit "$mnt"
expect_fail 1 "branchfs: cannot abort 'main': main cannot be committed or aborted" -- abort "$mnt"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- commit "$T/plain"
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- abort "$T/plain"

# --- unmount ------------------------------------------------------------------
expect_fail 2 "branchfs: unmount: missing argument (usage: branchfs unmount MNT [--keep])" -- unmount
expect_fail 4 "branchfs: $T/plain is not a branchfs mount" -- unmount "$T/plain"
# A process working inside the mount makes it busy.
(cd "$mnt" && exec sleep 60) &
busy=$!
while [ "$(readlink "/proc/$busy/cwd")" != "$mnt" ]; do sleep 0.05; done
expect_fail 1 "branchfs: cannot unmount $mnt: the mount is busy: in use by pid $busy sleep (working directory)" -- unmount "$mnt"
check "a busy mount stays mounted" grep -q " $mnt fuse.branchfs " /proc/mounts
check "a busy mount still answers" [ "$(cat "$mnt/.branchfs_ctl")" = main ]
kill "$busy"
wait "$busy" 2>/dev/null
expect 0 "unmounted $mnt (branches kept)" "" -- unmount "$mnt" --keep
check "the mount is gone" not grep -q " $mnt " /proc/mounts
check "the daemon has exited" daemon_gone "$pid"
expect 0 '*' "" -- list --storage "$st" --json
jeq '.branches | length' 2
jeq '.branches[1].name' side2
jeq .storage "$st"
expect 0 '*' "" -- status --storage "$st" --json
jeq .mount null
jeq .daemon_pid null
jeq .branches 1
expect 0 "mount:    -
base:     -
storage:  $st
daemon:   -
branch:   main
parent:   -
stale:    no
changes:  -
branches: 1" "" -- status --storage "$st"
expect_fail 4 "branchfs: $mnt is not a branchfs mount" -- status "$mnt"
expect 0 "mounted $base at $mnt" "" -- mount --base "$base" --storage "$st" "$mnt"
expect 0 '*' "" -- list --json "$mnt"
jeq '.branches | length' 2
expect 0 "unmounted $mnt" "" -- unmount "$mnt" --storage "$st"
expect 0 '*' "" -- list --storage "$st" --json
jeq '.branches | length' 1

# --- a daemon that died -----------------------------------------------------------
expect 0 '*' "" -- mount --base "$base" --storage "$st" "$mnt"
expect 0 '*' "" -- create survivor "$mnt"
echo s >"$mnt/survivor.txt"
expect 0 '*' "" -- status --json "$mnt"
pid=$(j .daemon_pid)
kill -9 "$pid"
while ! daemon_gone "$pid"; do sleep 0.05; done
for c in list status diff; do
	expect_fail 1 "branchfs: cannot open $mnt: the daemon serving the mount is gone" -- "$c" "$mnt"
done
expect_fail 1 "branchfs: cannot open $mnt: the daemon serving the mount is gone" -- commit "$mnt"
# unmount still cleans up: the mount is detached, the branches stay.
expect 0 "unmounted $mnt" "branchfs: the daemon serving $mnt was gone: the mount was detached, and its branches come back at the next mount of its storage" -- unmount "$mnt"
check "the dead mount is gone" not grep -q " $mnt " /proc/mounts
expect_fail 4 "branchfs: $mnt is not a branchfs mount" -- unmount "$mnt"
expect 0 '*' "" -- mount --base "$base" --storage "$st" "$mnt"
check "the branch of the dead mount came back" [ "$(cat "$mnt/@survivor/survivor.txt")" = s ]
# A mount over a dead one detaches it first: no unmount needed after a crash.
expect 0 '*' "" -- status --json "$mnt"
pid=$(j .daemon_pid)
kill -9 "$pid"
while ! daemon_gone "$pid"; do sleep 0.05; done
expect 0 "mounted $base at $mnt" "branchfs: the daemon serving $mnt was gone: its mount was detached" -- mount --base "$base" --storage "$st" "$mnt"
check "one mount, not one over the dead one" [ "$(grep -c " $mnt " /proc/mounts)" = 1 ]
check "the branch of the dead mount came back again" [ "$(cat "$mnt/@survivor/survivor.txt")" = s ]
expect 0 "unmounted $mnt" "" -- unmount "$mnt"
# A dead mount of another file system is not ours to detach.
other=$T/other
mkdir -p "$other/src" "$other/mnt"
"$PASSTHROUGH" "$other/src" "$other/mnt" &
fs=$!
for _ in $(seq 100); do grep -q " $other/mnt " /proc/mounts && break; sleep 0.05; done
kill -9 "$fs"
wait "$fs" 2>/dev/null
expect_fail 1 "branchfs: cannot mount $other/mnt: a mount of another file system whose daemon is gone is there" -- mount --base "$base" --storage "$st" "$other/mnt"
check "the other file system's dead mount stays" grep -q " $other/mnt " /proc/mounts
fusermount3 -uz "$other/mnt"

# --- a failed unmount --keep leaves no trace ---------------------------------------
# An open file inside makes the mount busy: unmount --keep fails, and the
# keep it asked for must not outlive it.
expect 0 "mounted $base at $mnt" "" -- mount --base "$base" --storage "$st" "$mnt"
expect 0 '*' "" -- create pending "$mnt"
echo p >"$mnt/@pending/p.txt"
sleep 60 <"$mnt/@pending/p.txt" &
busy=$!
while [ "$(readlink "/proc/$busy/fd/0")" != "$mnt/@pending/p.txt" ]; do sleep 0.05; done
expect_fail 1 "branchfs: cannot unmount $mnt: the mount is busy: in use by pid $busy sleep (open file)" -- unmount "$mnt" --keep
check "a busy unmount --keep stays mounted" grep -q " $mnt fuse.branchfs " /proc/mounts
kill "$busy"
wait "$busy" 2>/dev/null
expect 0 "unmounted $mnt" "" -- unmount "$mnt"
expect 0 '*' "" -- list --storage "$st" --json
jeq '.branches | length' 1
expect 0 "mounted $base at $mnt" "" -- mount --base "$base" --storage "$st" "$mnt"
check "a plain unmount after a failed --keep discarded the branch" [ ! -e "$mnt/@pending" ]
expect 0 "* main     -       -" "" -- list "$mnt"
# Not busy, --keep still keeps them (and their files) for the next mount.
expect 0 '*' "" -- create held "$mnt"
echo h >"$mnt/@held/h.txt"
expect 0 "unmounted $mnt (branches kept)" "" -- unmount "$mnt" --keep
expect 0 "mounted $base at $mnt" "" -- mount --base "$base" --storage "$st" "$mnt"
check "unmount --keep kept the branch and its file" [ "$(cat "$mnt/@held/h.txt" 2>/dev/null)" = h ]
expect 0 "unmounted $mnt" "" -- unmount "$mnt"
expect 0 '*' "" -- list --storage "$st" --json
jeq '.branches | length' 1

# --- mount -o -------------------------------------------------------------------
# Options go to the daemon: keep (ours) and allow_other (FUSE's).
expect 0 "mounted $base at $mnt" "" -- mount -o keep,allow_other --base "$base" --storage "$st" "$mnt"
check "-o allow_other reaches the mount" grep -Eq "^branchfs $mnt fuse.branchfs [^ ]*allow_other" /proc/mounts
expect 0 '*' "" -- create kept "$mnt"
# A failed unmount --keep puts back the keep the mount had, not "discard".
(cd "$mnt" && exec sleep 60) &
busy=$!
while [ "$(readlink "/proc/$busy/cwd")" != "$mnt" ]; do sleep 0.05; done
expect_fail 1 "branchfs: cannot unmount $mnt: the mount is busy: in use by pid $busy sleep (working directory)" -- unmount "$mnt" --keep
kill "$busy"
wait "$busy" 2>/dev/null
expect 0 "unmounted $mnt" "" -- unmount "$mnt"
expect 0 '*' "" -- list --storage "$st" --json
check "-o keep kept the branches at a plain unmount" [ "$(j '.branches | length')" -ge 2 ]
jeq '.branches[1].name' kept
expect 1 "" '*' -- mount -o no_such_option --base "$base" --storage "$st" "$mnt"
check "a refused -o option is one line" [ "$(wc -l <<<"$err")" = 1 ]
check "a refused -o option is named" grep -q "^branchfs: cannot mount $mnt: .*no_such_option" <<<"$err"
check "nothing is mounted after a refused option" not grep -q " $mnt fuse" /proc/mounts

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
