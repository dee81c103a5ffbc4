#!/bin/bash
# Run one test suite with a hard time limit, in a private scratch directory,
# and clean up whatever it leaves behind: every branchfs mount below the
# scratch directory is lazily unmounted and every daemon serving one is
# killed, even when the suite crashed or hung.
#
#   run-suite.sh SECONDS COMMAND [ARGS...]
#
# The suite finds its scratch directory in $BFS_TEST_TMP.
set -u
limit=$1
shift
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bfs-test.XXXXXX")
export BFS_TEST_TMP=$scratch

cleanup() {
	local mnt pid
	# Mounts first (deepest first), then any daemon still alive.
	awk -v p="$scratch" '$2 ~ "^"p {print $2}' /proc/mounts | sort -r | while read -r mnt; do
		fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	done
	for pid in $(pgrep -f "branchfsd.*$scratch" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
	rm -rf "$scratch" 2>/dev/null
}
trap cleanup EXIT INT TERM

timeout --kill-after=10 "$limit" "$@"
status=$?
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
	echo "run-suite: $1 exceeded ${limit}s and was killed" >&2
fi
exit $status
