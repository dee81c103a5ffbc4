#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The branching command on a real mount: every subcommand's files in the
# base, stdout, stderr, exit codes and JSON; no @NAME left after any run;
# parallel candidates, timeouts, a crashing candidate, a failing judge, a lost
# first-winner race (exit 3), and SIGTERM/SIGINT to branching (143/130, every
# candidate and branch gone).  Run by tests/run-suite.sh (which sets
# $BFS_TEST_TMP and removes whatever mount or daemon a failure leaves).
#
#   test_branching.sh BRANCHING BRANCHFS
set -u
BR=$1
BFS=$2
: "${BFS_TEST_TMP:?run me through tests/run-suite.sh}"
T=$(mktemp -d "$BFS_TEST_TMP/branching.XXXXXX")
T=$(realpath "$T")
base=$T/base
st=$T/storage
mnt=$T/mnt
pass=0
fail=0

cleanup() {
	"$BFS" unmount "$mnt" >/dev/null 2>&1
}
trap cleanup EXIT

# run ARGS...: run branching in the mount; sets $rc, $out and $err.
run() {
	(cd "$mnt" && "$BR" "$@") >"$T/out" 2>"$T/err"
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
	echo "  stdout: ${out:0:2000}" >&2
	echo "  stderr: ${err:0:2000}" >&2
}

# expect RC STDOUT STDERR -- ARGS...: exact exit code, stdout and stderr
# ('*' skips a comparison).
expect() {
	local want_rc=$1 want_out=$2 want_err=$3
	shift 4
	run "$@"
	if [ "$rc" != "$want_rc" ]; then
		bad "branching $*: exit code $rc, want $want_rc"
	elif [ "$want_out" != '*' ] && [ "$out" != "$want_out" ]; then
		bad "branching $*: stdout, want: $want_out"
	elif [ "$want_err" != '*' ] && [ "$err" != "$want_err" ]; then
		bad "branching $*: stderr, want: $want_err"
	else
		ok
	fi
}

expect_fail() {
	local want_rc=$1 want_err=$2
	shift 3
	expect "$want_rc" "" "$want_err" -- "$@"
}

check() {
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

not() {
	! "$@"
}

absent() {
	local f
	for f; do
		[ ! -e "$f" ] || return 1
	done
}

j() {
	jq -r "$1" <"$T/out"
}

jeq() {
	local got
	got=$(j "$1")
	if [ "$got" = "$2" ]; then ok; else bad "json $1 = '$got', want '$2'"; fi
}

# No branch left: no @NAME at the mount root and only main listed.
no_branches() {
	! ls -A "$mnt" | grep -q '^@' && [ "$("$BFS" list --json "$mnt" | jq '.branches | length')" = 1 ]
}

ms() {
	date +%s%3N
}

# wait_for CMD...: poll CMD every 20 ms until it succeeds (0) or 15 s pass (1).
wait_for() {
	local i
	for ((i = 0; i < 750; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

# gone PID: PID has exited.
gone() {
	! kill -0 "$1" 2>/dev/null
}

# lines FILE N: FILE has N lines.
lines() {
	[ "$(wc -l <"$1")" = "$2" ]
}

# only_files P N W...: of P-0..P-(N-1) only the P-W given are in the base
# (each test its own prefix P).
only_files() {
	local p=$1 n=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		if [[ " $* " == *" $i "* ]]; then
			[ -f "$base/$p-$i" ] || return 1
		else
			[ ! -e "$base/$p-$i" ] || return 1
		fi
	done
}

mkdir -p "$base" "$T/plain"
echo 'int main;' >"$base/app.c"

# --- general --------------------------------------------------------------
version=$("$BR" --version | sed -n 's/^branching //p')
check "version is the library's" [ "$version" = "$("$BFS" --version | sed -n 's/^branchfs //p')" ]
"$BR" --help >"$T/out" 2>"$T/err"
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
check "--help exits 0" [ "$rc" = 0 ]
for c in run speculate best-of-n reflexion tree beam tournament cascade status; do
	check "--help lists $c" grep -q "^  $c " <<<"$out"
	"$BR" help "$c" >"$T/out2" 2>&1
	check "help $c starts with its usage" grep -q "^usage: branching $c" "$T/out2"
	"$BR" "$c" --help >"$T/out2" 2>&1
	check "$c --help starts with its usage" grep -q "^usage: branching $c" "$T/out2"
done
"$BR" >/dev/null 2>"$T/err"
check "no arguments is a usage error" [ $? = 2 ]
"$BR" nope >/dev/null 2>"$T/err"
check "unknown subcommand" [ "$?/$(cat "$T/err")" = "2/branching: unknown subcommand 'nope' (see 'branching --help')" ]

# Not a mount: exit 4, before anything runs.
(cd "$T/plain" && "$BR" speculate -c 'touch "$0.ran"' >"$T/out" 2>"$T/err")
rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
check "outside a mount exits 4" [ "$rc/$out/$err" = "4//branching: $T/plain is not a branchfs mount" ]
(cd "$T/plain" && "$BR" run -w "$T/none" -- true >"$T/out" 2>"$T/err")
rc=$? err=$(cat "$T/err")
check "a missing workspace exits 4" [ "$rc/$err" = "4/branching: $T/none is not a branchfs mount (no such directory)" ]

"$BFS" mount --base "$base" --storage "$st" "$mnt" >/dev/null || { echo "cannot mount" >&2; exit 1; }

# Usage errors.
expect_fail 2 "branching: speculate: no command given (usage: branching speculate -c CMD [-c CMD]... [-j N] [--timeout S] [-w PATH] [--json])" -- speculate
expect_fail 2 "branching: best-of-n: invalid number 'x' (usage: branching best-of-n [-n N] [--evaluate CMD] [--rollout] [-j N] [--timeout S] [-w PATH] [--json] -- CMD [ARGS...])" -- best-of-n -n x -- true
expect_fail 2 '*' -- best-of-n --timeout 0 -- true
check "a zero timeout is refused" grep -q "invalid duration '0' (seconds)" <<<"$err"
expect_fail 2 '*' -- best-of-n --bogus -- true
check "unknown option" grep -q "^branching: best-of-n: unknown option '--bogus'" <<<"$err"
expect_fail 2 '*' -- tournament -- true
check "the judge is required" grep -q "^branching: tournament: --judge is required" <<<"$err"
expect_fail 2 '*' -- cascade --fan-out 1,0 -- true
check "a zero width is refused" grep -q "invalid fan-out '1,0'" <<<"$err"
expect_fail 2 '*' -- best-of-n -c true -- false
check "-c and a command are exclusive" grep -q "not both" <<<"$err"
expect_fail 2 '*' -- run --on-error maybe -- true
check "--on-error values" grep -q "abort or none" <<<"$err"
(cd "$mnt" && setsid -w "$BR" run --ask -- true </dev/null >"$T/out" 2>"$T/err")
rc=$? err=$(cat "$T/err")
check "--ask needs a terminal" [ "$rc" = 2 ]
check "--ask: the message" grep -q "^branching: run: --ask needs a terminal" <<<"$err"

# --- run ------------------------------------------------------------------
expect 0 '*' "" -- run -- sh -c 'echo hello > greet; echo from-cmd'
check "run: the command's output comes first" [ "$(head -1 <<<"$out")" = from-cmd ]
check "run: commit reported" grep -q "^committed 'branch-.*' into 'main'$" <<<"$out"
check "run: committed into the base" [ "$(cat "$base/greet")" = hello ]
expect 3 '*' "" -- run -- sh -c 'echo no > never; exit 3'
check "run: the command's status, branch aborted" [ ! -e "$base/never" ]
check "run: abort reported" grep -q "^aborted 'branch-.*' (status 3)$" <<<"$out"
expect 0 '*' '*' -- run --json -b named -- sh -c 'pwd; echo $BRANCHING_BRANCH > who'
check "run --json: the command's stdout went to stderr" [ "$err" = "$mnt/@named" ]
jeq .command run
jeq .branch named
jeq .parent main
jeq .path "$mnt/@named"
jeq .action committed
jeq .committed true
jeq .exit_code 0
check "run: BRANCHING_BRANCH" [ "$(cat "$base/who")" = named ]
expect 1 '*' '*' -- run --on-error none -b kept -- sh -c 'echo wip > wip; exit 1'
check "run --on-error none: kept" [ "$(cat "$mnt/@kept/wip")" = wip ]
check "run --on-error none: reported" grep -q "^kept 'kept' at $mnt/@kept (status 1)$" <<<"$out"
expect_fail 1 "branching: branch 'kept' already exists" -- run -b kept -- true
expect_fail 1 "branching: cannot create 'a/b': branch names cannot contain '/'" -- run -b a/b -- true
printf abort >"$mnt/@kept/.branchfs_ctl"
expect 127 '*' "branching: cannot run '/nonexistent/cmd': no such file or directory" -- run -- /nonexistent/cmd
check "run: a command that cannot run is aborted" no_branches
expect 126 '*' "branching: cannot run '/dev/null': permission denied" -- run -- /dev/null
expect 127 '*' '*' -- run --json -- /nonexistent/cmd
jeq .action aborted
check "run --json: the reason is one lowercase line on stderr" \
	[ "$err" = "branching: cannot run '/nonexistent/cmd': no such file or directory" ]
expect 124 '*' '*' -- run --timeout 0.3 -- sleep 30
check "run: no branch left" no_branches
# From inside a branch: the branch is the parent.
"$BFS" create feat "$mnt" -p main >/dev/null && "$BFS" switch main "$mnt" >/dev/null
(cd "$mnt/@feat" && "$BR" run -- sh -c 'echo f > in-feat' >"$T/out" 2>"$T/err")
check "run from inside @feat commits into feat" [ -f "$mnt/@feat/in-feat" ]
check "run from inside @feat: not into main" [ ! -e "$base/in-feat" ]
(cd "$mnt/@feat" && "$BR" status --json >"$T/out" 2>"$T/err")
jeq .here feat
jeq .current main
jeq '.branches[0]' feat
expect 0 '*' "" -- run -p feat --json -- true
jeq .parent feat
printf abort >"$mnt/@feat/.branchfs_ctl"
# --ask on a terminal.
if command -v script >/dev/null; then
	(cd "$mnt" && printf 'y\n' | script -qec "$BR run --ask -- sh -c 'echo asked > asked'" /dev/null >"$T/out" 2>&1)
	check "run --ask y commits" [ "$(cat "$base/asked" 2>/dev/null)" = asked ]
	check "run --ask prompts" grep -q "commit 'branch-.*' into 'main' (the command exited with status 0)? \[y/N\]" "$T/out"
	(cd "$mnt" && printf 'n\n' | script -qec "$BR run --ask -- sh -c 'echo no > refused'" /dev/null >"$T/out" 2>&1)
	check "run --ask n aborts" [ ! -e "$base/refused" ]
	check "run --ask n: reported" grep -q "aborted 'branch-" "$T/out"
	# SIGTERM to branching at the prompt: the branch is aborted, 143.  The
	# terminal's input is a FIFO nobody writes (held open by fd 7).
	# The previous run's prompt is still in $T/out until the job truncates
	# it: remove it first.
	rm -f "$T/ppid" "$T/out"
	mkfifo "$T/hold"
	exec 7<>"$T/hold"
	(cd "$mnt" && script -qec "$BR run --ask -- sh -c 'echo \$PPID > $T/ppid; echo asked > sig-asked'" /dev/null <&7 >"$T/out" 2>&1) &
	job=$!
	wait_for grep -q '\[y/N\]' "$T/out"
	check "run --ask: the prompt is shown" grep -q '\[y/N\]' "$T/out"
	check "run --ask: the command wrote its parent's pid" [ -s "$T/ppid" ]
	kill -TERM "$(cat "$T/ppid")"
	if ! wait_for gone "$job"; then
		rc=running out=$(cat "$T/out") err=""
		bad "run --ask: SIGTERM at the prompt did not end branching"
		printf 'n\n' >&7
	fi
	wait "$job"
	rc=$? out=$(cat "$T/out") err=""
	exec 7>&-
	check "run --ask: SIGTERM at the prompt exits 143" [ "$rc" = 143 ]
	check "run --ask: SIGTERM at the prompt is reported" grep -q "branching: interrupted by SIGTERM" "$T/out"
	check "run --ask: SIGTERM at the prompt commits nothing" [ ! -e "$base/sig-asked" ]
	check "run --ask: no branch left after SIGTERM" no_branches
fi
# SIGTERM and SIGINT to branching while the command runs: the command is
# killed, the branch aborted, 128 + the signal.
for sig in TERM INT; do
	rm -f "$T/pid"
	(cd "$mnt" && exec env --default-signal=INT "$BR" run -- \
		sh -c "echo \$\$ > $T/pid; echo x > run-wip; sleep 30" >"$T/out" 2>"$T/err") &
	job=$!
	wait_for [ -s "$T/pid" ]
	kill -s "$sig" "$job"
	wait "$job"
	rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
	want=$([ $sig = TERM ] && echo 143 || echo 130)
	check "run: SIG$sig exits $want" [ "$rc" = "$want" ]
	check "run: SIG$sig reported" [ "$err" = "branching: interrupted by SIG$sig" ]
	check "run: SIG$sig: aborted" grep -q "^aborted 'branch-" <<<"$out"
	check "run: SIG$sig: the command is gone" not kill -0 "$(cat "$T/pid")" 2>/dev/null
	check "run: SIG$sig: nothing committed" [ ! -e "$base/run-wip" ]
	check "run: SIG$sig: no branch left" no_branches
done

# --- speculate --------------------------------------------------------------
t0=$(ms)
expect 0 '*' "" -- speculate -c 'echo A > result; echo a > only-a; exit 1' \
	-c 'sleep 0.3; echo B > result; echo b > only-b' -c 'echo C > only-c; sleep 30'
check "speculate: bounded by the winner, not the sleeper" [ $(($(ms) - t0)) -lt 5000 ]
check "speculate: verdict" [ "$(head -1 <<<"$out")" = "committed candidate 1 into 'main'" ]
check "speculate: winner's files" [ "$(cat "$base/result")/$(cat "$base/only-b")" = B/b ]
check "speculate: losers' files absent" absent "$base/only-a" "$base/only-c"
check "speculate: no branch left" no_branches
expect 0 '*' "" -- speculate --json -c 'exit 2' -c 'sleep 0.2; echo ok >&2'
jeq .command speculate
jeq .committed true
jeq .winner 1
jeq .candidates 2
jeq '.results | length' 2
jeq '.results[0].success' false
jeq '.results[0].exit_code' 2
jeq '.results[0].error' "exit status 2"
jeq '.results[1].stderr' "ok"
jeq '.results[1].committed' true
jeq .interrupted null
jeq .error null
check "speculate --json: paths are in the mount" grep -q "^$mnt/@branch-" <<<"$(j '.results[1].path')"
expect 1 '*' "branching: nothing committed: no candidate succeeded" -- speculate -c false -c 'kill -SEGV $$'
check "speculate: a crash is a failure" grep -q "killed by signal 11" <<<"$out"
t0=$(ms)
expect 1 '*' '*' -- speculate --timeout 0.5 --grace 0.3 -c 'sleep 30' -c "trap '' TERM; while :; do sleep 0.1; done"
check "speculate --timeout bounds wall time" [ $(($(ms) - t0)) -lt 3000 ]
check "speculate: timeouts reported" [ "$(grep -c timeout <<<"$out")" = 2 ]
check "speculate: no branch left after timeouts" no_branches
# A commit into main behind the candidates' backs: they all lose the race.
expect 3 '*' '*' -- speculate -c "printf create:intruder > $mnt/@main/.branchfs_ctl && echo i > $mnt/@intruder/intruder && printf commit > $mnt/@intruder/.branchfs_ctl"
check "speculate: lost race message" [ "$err" = "branching: cannot commit candidate 0 into 'main': a sibling committed first" ]
check "speculate: the intruder's commit stands" [ -f "$base/intruder" ]
check "speculate: no branch left after the conflict" no_branches

# --- best-of-n ----------------------------------------------------------------
# Eight sleeps of 1 s end well under 2 s, which two or four at a time
# cannot (4 s, 2 s); the slack covers eight branches on a loaded machine.
t0=$(ms)
expect 0 '*' "" -- best-of-n -n 8 --json -- sh -c 'sleep 1; echo $BRANCHING_ATTEMPT > n; touch bon-$BRANCHING_ATTEMPT; echo $((BRANCHING_ATTEMPT % 3)) >&3'
took=$(($(ms) - t0))
check "best-of-n: 8 x 1 s in parallel ($took ms)" [ "$took" -lt 1900 ]
jeq .command best-of-n
jeq .n 8
jeq .winner.index 2
jeq .winner.score 2
jeq '.results[3].score' 0
check "best-of-n: the best's file" [ "$(cat "$base/n")" = 2 ]
check "best-of-n: the losers' files absent" only_files bon 8 2
t0=$(ms)
expect 1 '*' '*' -- speculate -c 'sleep 1; exit 1' -c 'sleep 1; exit 1' -c 'sleep 1; exit 1' \
	-c 'sleep 1; exit 1' -c 'sleep 1; exit 1' -c 'sleep 1; exit 1' -c 'sleep 1; exit 1' -c 'sleep 1; exit 1'
took=$(($(ms) - t0))
check "speculate: 8 x 1 s in parallel ($took ms)" [ "$took" -lt 1900 ]
expect 0 '*' "" -- best-of-n -n 3 --evaluate 'cat score' -- 'echo $(( (BRANCHING_ATTEMPT + 1) % 3 )) > score'
check "best-of-n --evaluate" [ "$(cat "$base/score")" = 2 ]
check "best-of-n: verdict" [ "$(head -1 <<<"$out")" = "committed candidate 1 into 'main'" ]
expect 1 '*' "branching: nothing committed (rollout): the best is candidate 0" -- \
	best-of-n -n 2 --rollout --json -- 'echo x > rolled'
jeq .committed false
jeq .winner.index 0
check "best-of-n --rollout: nothing in the base" [ ! -e "$base/rolled" ]
# While the evaluation of candidate 0 sleeps 1.5 s, candidate 1 writes
# 1 MiB (drained: it gets to its next command) and is killed at its 0.5 s.
rm -f "$T/wrote"
expect 0 '*' "" -- best-of-n -n 2 --json --task-timeout 0.5 --helper-timeout 10 --evaluate 'sleep 1.5; echo 1' \
	-c true -c "head -c 1048576 /dev/zero; touch $T/wrote; sleep 30"
jeq .winner.index 0
jeq '.results[1].timed_out' true
check "best-of-n: a candidate writes 1 MiB while a helper runs" [ -e "$T/wrote" ]
check "best-of-n: its timeout fires while a helper runs ($(j '.results[1].elapsed_ms') ms)" \
	[ "$(j '.results[1].elapsed_ms')" -lt 1300 ]
expect 1 '*' '*' -- best-of-n -n 2 --json -- 'echo 9 >&3; exit 1'
jeq '[.results[].score] | join(",")' "0,0"
jeq .winner null
check "best-of-n: no branch left" no_branches

# --- reflexion ----------------------------------------------------------------
expect 0 '*' "" -- reflexion --retries 4 --json --critique 'echo "attempt $(cat tried) said: $(cat said)"' -- \
	'echo $BRANCHING_ATTEMPT > tried; echo "fb[$BRANCHING_FEEDBACK]" > said; test $BRANCHING_ATTEMPT = 2'
jeq .command reflexion
jeq .attempts 3
jeq .winner 2
jeq '.results[0].feedback' ""
jeq '.results[1].feedback' "attempt 0 said: fb[]"
jeq '.results[2].feedback' "attempt 1 said: fb[attempt 0 said: fb[]]"
check "reflexion: the winner's files" [ "$(cat "$base/tried")" = 2 ]
expect 1 '*' '*' -- reflexion --retries 2 --json -- 'echo "E: bad $BRANCHING_ATTEMPT" >&2; exit 1'
jeq '.results[1].feedback' "exit status 1
E: bad 0"
expect 1 '*' '*' -- reflexion --retries 2 --json --critique 'echo partial; exit 3' -- 'exit 1'
jeq '.results[0].error' "exit status 1; critique failed: exit status 3"
jeq '.results[1].feedback' "exit status 1; critique failed: exit status 3"
check "reflexion: no branch left" no_branches

# --- tree -----------------------------------------------------------------------
expect 0 '*' "" -- tree --depth 2 --json -c 'echo a > L0; touch tree-$BRANCHING_ATTEMPT; echo 1 >&3' \
	-c 'echo b > L0; touch tree-$BRANCHING_ATTEMPT; echo 2 >&3' \
	--expand 'echo "echo \$(cat L0)1 > L1; touch tree-\$BRANCHING_ATTEMPT; echo 1 >&3"; echo "echo \$(cat L0)2 > L1; touch tree-\$BRANCHING_ATTEMPT; echo 3 >&3"'
jeq .command tree
jeq .committed true
jeq .winner 3
jeq '.results[3].level' 1
check "tree: level winners in the base" [ "$(cat "$base/L0")/$(cat "$base/L1")" = b/b2 ]
check "tree: the level losers' files absent" only_files tree 4 1 3
expect 1 '*' '*' -- tree --depth 2 -c true --expand 'echo false'
check "tree: a level without success commits nothing" [ "$(head -1 <<<"$out")" = "nothing committed" ]
check "tree: no branch left" no_branches

# --- beam -----------------------------------------------------------------------
expect 0 '*' "" -- beam --width 2 --depth 2 --json -c 'echo a > B0; touch beam-$BRANCHING_ATTEMPT; echo 1 >&3' \
	-c 'echo b > B0; touch beam-$BRANCHING_ATTEMPT; echo 2 >&3' -c 'echo c > B0; touch beam-$BRANCHING_ATTEMPT; exit 1' \
	--expand 'echo "echo \$(cat B0)x > B1; touch beam-\$BRANCHING_ATTEMPT; echo \$((BRANCHING_ATTEMPT * 10)) >&3"'
jeq .command beam
jeq .committed true
# Beams 1 (b) and 0 (a); children 3 (of b, 30) and 4 (of a, 40): a wins.
jeq .winner 4
jeq '.results[4].group' 0
check "beam: the best beam's files" [ "$(cat "$base/B0")/$(cat "$base/B1")" = a/ax ]
check "beam: the other beam's and the losers' files absent" only_files beam 5 0 4
check "beam: no branch left" no_branches

# --- tournament -------------------------------------------------------------------
expect 0 '*' "" -- tournament -n 5 --json --judge '[ $(cat "$1/q") -ge $(cat "$2/q") ] && echo a || echo b' -- \
	'echo $(( (BRANCHING_ATTEMPT * 7) % 5 )) > q; touch tour-$BRANCHING_ATTEMPT'
jeq .command tournament
jeq .winner 2
jeq '.matches | length' 4
jeq '.matches[0].winner' 1
check "tournament: the champion's file" [ "$(cat "$base/q")" = 4 ]
check "tournament: the losers' files absent" only_files tour 5 2
expect 1 '*' '*' -- tournament -n 3 --json --judge 'exit 2' -- 'echo x > judged'
jeq .committed false
jeq .error "the judge failed on candidates 0 and 1: exit status 2"
jeq '.matches[0].winner' null
check "tournament: failing judge, nothing committed" [ ! -e "$base/judged" ]
check "tournament: the judge's failure on stderr" [ "$err" = "branching: the judge failed on candidates 0 and 1: exit status 2" ]
t0=$(ms)
expect 1 '*' '*' -- tournament -n 2 --timeout 1 --grace 0.2 --judge 'sleep 30' -- true
check "tournament: a hanging judge is killed at the timeout" [ $(($(ms) - t0)) -lt 3000 ]
t0=$(ms)
expect 1 '*' "branching: the judge failed on candidates 0 and 1: timed out after 0.3 s" -- \
	tournament -n 2 --helper-timeout 0.3 --grace 0.2 --judge 'sleep 30' -- true
check "tournament: --helper-timeout bounds the judge alone" [ $(($(ms) - t0)) -lt 3000 ]
check "tournament: no branch left" no_branches

# --- cascade ------------------------------------------------------------------------
expect 0 '*' "" -- cascade --fan-out 1,2,2 --json -- \
	'case "$BRANCHING_FEEDBACK" in *"[candidate 2]"*) echo fixed > cascaded; exit 0;; esac; echo "oops in $BRANCHING_LEVEL" >&2; exit 1'
jeq .command cascade
jeq .committed true
jeq '.results[1].level' 1
jeq '.results[1].feedback' "[candidate 0] exit status 1
oops in 0"
jeq '.results[3].level' 2
check "cascade: committed" [ "$(cat "$base/cascaded")" = fixed ]
expect 1 '*' '*' -- cascade --fan-out 1,1 -- false
check "cascade: no branch left" no_branches

# --- status ------------------------------------------------------------------------
expect 0 '*' "" -- status
check "status: workspace line" grep -qx "workspace: $mnt" <<<"$out"
check "status: no branches" grep -qx "branches:  0" <<<"$out"
expect 0 '*' "" -- status --json -w "$mnt/app.c"
jeq .workspace "$mnt"
jeq .base "$base"
jeq .fstype fuse.branchfs
jeq '.branches | length' 0
expect_fail 2 "branching: status: unexpected argument 'x' (usage: branching status [-w PATH] [--json])" -- status x

# --- signals to branching ------------------------------------------------------------
for sig in TERM INT; do
	rm -f "$T/pids"
	# A background job of a script ignores SIGINT: restore the default.
	(cd "$mnt" && exec env --default-signal=INT "$BR" best-of-n --json -n 3 -- \
		sh -c "echo \$\$ >> $T/pids; echo x > wip-\$BRANCHING_ATTEMPT; sleep 30" >"$T/out" 2>"$T/err") &
	job=$!
	wait_for lines "$T/pids" 3
	kill -s "$sig" "$job"
	wait "$job"
	rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
	want=$([ $sig = TERM ] && echo 143 || echo 130)
	check "SIG$sig: exit $want" [ "$rc" = "$want" ]
	check "SIG$sig: reported" [ "$err" = "branching: interrupted by SIG$sig" ]
	jeq .interrupted "$sig"
	jeq .committed false
	jeq .error "interrupted by SIG$sig"
	alive=0
	for p in $(cat "$T/pids"); do
		kill -0 "$p" 2>/dev/null && alive=1
	done
	check "SIG$sig: the candidates are gone" [ $alive = 0 ]
	check "SIG$sig: nothing committed" [ ! -e "$base/wip-0" ]
	check "SIG$sig: no branch left" no_branches
done

# A failed write of the report is an error.
(cd "$mnt" && "$BR" status >/dev/full 2>"$T/err")
rc=$? err=$(cat "$T/err")
check "write error exits 1" [ "$rc" = 1 ]
check "write error reported" grep -q '^branching: cannot write the output' <<<"$err"

echo "branching: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
