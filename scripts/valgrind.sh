#!/bin/bash
# Run every unit suite once under valgrind (memcheck, full leak check), in
# one process per suite (CK_FORK=no) so leaks and errors are the suite's own.
#
#   scripts/valgrind.sh [BUILD_DIR]        (default: build)
#
# Builds BUILD_DIR first (a plain, unsanitized build).  Forked children
# (the runner's candidates) are not checked: they end with _exit() holding
# a copy of the parent's heap, which memcheck would call lost.  openat2(2),
# which this valgrind does not know, is emulated by a preloaded shim
# (tests/valgrind/openat2_emul.c).  Exit status: 0 when
# every unit suite passed with no valgrind error and no definite or possible
# leak.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=${BFS_JOBS:-2}

command -v valgrind >/dev/null || {
	echo "valgrind: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
}
cmake -S . -B "$build" -DBFS_WERROR=ON -DBFS_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"$jobs"
# valgrind 3.19 fails openat2(2) with ENOSYS: answer it in user space.
shim=$(cd "$build" && pwd)/openat2-emul.so # absolute: candidates run elsewhere
cc -shared -fPIC -O1 -g -Wall -Werror -o "$shim" tests/valgrind/openat2_emul.c -ldl

failed=()
for suite in "$build"/tests/unit/unit_*; do
	[ -x "$suite" ] || continue
	name=$(basename "$suite")
	echo "== $name"
	# run-suite.sh gives the suite its scratch directory and a time limit.
	if ! CK_FORK=no CK_DEFAULT_TIMEOUT=600 tests/run-suite.sh 1200 \
		env LD_PRELOAD="$shim" valgrind --quiet --error-exitcode=1 --leak-check=full \
		--errors-for-leak-kinds=definite,possible --track-fds=no \
		--child-silent-after-fork=yes "$suite"; then
		failed+=("$name")
	fi
done
if [ ${#failed[@]} -ne 0 ]; then
	echo "valgrind: failed: ${failed[*]}" >&2
	exit 1
fi
echo "valgrind: every unit suite passed under memcheck with no error or leak"
