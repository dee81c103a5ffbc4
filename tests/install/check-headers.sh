#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Every public header compiles on its own, as C11 and as C++, with all
# warnings as errors.
#
#   check-headers.sh CC INCLUDE_DIR
set -u
cc=$1
inc=$2
status=0
count=0
for h in "$inc"/branchfs/*.h; do
	name=branchfs/$(basename "$h")
	count=$((count + 1))
	if ! printf '#include <%s>\n' "$name" |
		"$cc" -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc" -x c -; then
		echo "FAIL: $name does not compile alone as C11" >&2
		status=1
	fi
	# Twice: the include guard works.
	if ! printf '#include <%s>\n#include <%s>\n' "$name" "$name" |
		"$cc" -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc" -x c -; then
		echo "FAIL: $name cannot be included twice" >&2
		status=1
	fi
	if command -v c++ >/dev/null &&
		! printf '#include <%s>\n' "$name" |
		c++ -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc" -x c++ -; then
		echo "FAIL: $name does not compile as C++" >&2
		status=1
	fi
done
echo "headers: $count checked"
[ "$count" -gt 0 ] && exit $status
exit 1
