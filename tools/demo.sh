#!/bin/bash
# The branchfs demo, on a real mount: two attempts at a change in two
# branches, one committed into the project directory, the other refused.
#
#   tools/demo.sh [BUILD_DIR]      (default: build, relative to the source)
#
# Everything lives in one directory below $TMPDIR (default /tmp), removed
# at the end with the mount, also when a step fails.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
case $build in
/*) ;;
*) build=$here/$build ;;
esac
bin=$(cd "$build" 2>/dev/null && pwd)/tools/branchfs
export BRANCHFSD=$(dirname "$bin")/../fs/branchfsd
[ -x "$bin" ] || { echo "demo: build first (no $bin)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/branchfs-demo.XXXXXX")
mnt=$work/ws
cleanup() {
	"$bin" unmount "$mnt" >/dev/null 2>&1 || fusermount3 -uz "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "a sample project"
mkdir -p "$work/project/src"
printf 'int main(void) { return 1; }\n' >"$work/project/src/main.c"
printf 'demo project\n' >"$work/project/README"
run ls -R "$work/project"

step "mount it (the mount root is the project itself: branch main)"
run "$bin" mount --base "$work/project" --storage "$work/storage" "$mnt"
grep " $mnt " /proc/mounts

step "two branches, each an instant copy-on-write snapshot"
run "$bin" create attempt-a "$mnt"
run "$bin" create attempt-b "$mnt" -p main
run "$bin" list "$mnt"

step "each attempt changes the code its own way"
printf 'int main(void) { return 0; } /* attempt a */\n' >"$mnt/@attempt-a/src/main.c"
printf 'fixed by a\n' >"$mnt/@attempt-a/NOTES"
printf 'int main(void) { return 0; } /* attempt b */\n' >"$mnt/@attempt-b/src/main.c"
rm "$mnt/@attempt-b/README"
run cat "$mnt/@attempt-a/src/main.c" "$mnt/@attempt-b/src/main.c"
run "$bin" diff attempt-a "$mnt"
echo "the project directory is untouched so far:"
run cat "$work/project/src/main.c"

step "commit attempt a: its changes land in the project directory"
run "$bin" switch attempt-a "$mnt"
run "$bin" commit "$mnt"
run cat "$work/project/src/main.c" "$work/project/NOTES"

step "attempt b lost the race: its commit is refused (ESTALE, exit 3)"
run "$bin" switch attempt-b "$mnt"
set +e
printf '$ %s\n' "$bin commit $mnt"
"$bin" commit "$mnt" 2>&1
status=$?
set -e
echo "exit status: $status"
[ "$status" -eq 3 ] || { echo "demo: expected exit status 3" >&2; exit 1; }
echo "attempt b still reads its own snapshot:"
run cat "$mnt/src/main.c"
run "$bin" abort "$mnt"
run cat "$work/project/README"

step "unmount"
run "$bin" unmount "$mnt"
echo
echo "demo complete: attempt a is in $work/project, attempt b is gone"
