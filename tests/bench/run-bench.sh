#!/bin/bash
# Run the branchfs benchmark: install fuse-overlayfs when it is missing
# (Debian package), build if needed, then run bench under run-suite.sh, which
# bounds the run and removes any mount or daemon left behind.
#
#   run-bench.sh [--build DIR] [bench options...]     (see bench --help)
#
# Example: run-bench.sh --build /tmp/build-bench --json /tmp/bench.json
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build
if [ "${1:-}" = "--build" ]; then
	build=$2
	shift 2
fi

if ! command -v fuse-overlayfs >/dev/null 2>&1; then
	echo "run-bench: installing fuse-overlayfs" >&2
	if [ "$(id -u)" -eq 0 ]; then
		apt-get install -y fuse-overlayfs >&2 || true
	elif command -v sudo >/dev/null 2>&1; then
		sudo apt-get install -y fuse-overlayfs >&2 || true
	fi
	command -v fuse-overlayfs >/dev/null 2>&1 ||
		echo "run-bench: no fuse-overlayfs, the overlay column will be empty" >&2
fi

if [ ! -x "$build/tests/bench/bench" ]; then
	cmake -S "$src" -B "$build" >&2
	make -C "$build" -j2 bench bench_passthrough branchfsd >&2
fi

# Three hours at most for a full run; the smoke run takes seconds.
exec "$src/tests/run-suite.sh" 10800 "$build/tests/bench/bench" "$@"
