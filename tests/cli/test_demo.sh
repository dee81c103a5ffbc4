#!/bin/bash
# The demo (tools/demo.sh) against the build tree, so it cannot rot: it must
# finish with its closing line, with no network (a network namespace of its
# own, where the machine allows one), and leave no mount, daemon or
# directory behind.
#
#   test_demo.sh DEMO BUILD_DIR        (run by run-suite.sh: $BFS_TEST_TMP)
set -u
demo=$1
build=$2
export TMPDIR=$BFS_TEST_TMP
fail() {
	echo "test_demo: $*" >&2
	exit 1
}

offline=()
if unshare --net true 2>/dev/null; then
	offline=(unshare --net)
	unshare --net ip link show 2>/dev/null | grep -q 'state UP' &&
		fail "a new network namespace has a link up"
else
	echo "test_demo: no network namespace here; running with the network"
fi
out=$("${offline[@]}" bash "$demo" "$build" 2>&1)
status=$?
printf '%s\n' "$out"
[ $status -eq 0 ] || fail "the demo exited with $status"
grep -q '^demo complete: attempt a is in ' <<<"$out" || fail "no closing line"
grep -q 'exit status: 3' <<<"$out" || fail "the losing commit did not exit with 3"
awk -v p="$TMPDIR" 'index($2, p) == 1' /proc/mounts | grep -q . &&
	fail "a mount is left: $(awk -v p="$TMPDIR" 'index($2, p) == 1 {print $2}' /proc/mounts)"
pgrep -f "branchfsd.*$TMPDIR" >/dev/null && fail "a daemon is left"
left=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 -name 'branchfs-demo.*')
[ -z "$left" ] || fail "left behind: $left"
echo "test_demo: ok"
