#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Install the build into a temporary prefix and build a tiny external
# program against it with `pkg-config --cflags --libs branchfs`, shared and
# static; check that the headers, library, pkg-config file, CLIs and man
# pages and the reference docs they point to are all installed.  Run by
# run-suite.sh ($BFS_TEST_TMP).
#
#   test-install.sh BUILD_DIR CC
set -u
build=$1
cc=$2
prefix=$BFS_TEST_TMP/prefix
status=0

fail() {
	echo "FAIL: $*" >&2
	status=1
}

cmake --install "$build" --prefix "$prefix" >"$BFS_TEST_TMP/install.log" ||
	{ cat "$BFS_TEST_TMP/install.log" >&2; exit 1; }
pc=$(find "$prefix" -name branchfs.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no branchfs.pc installed" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in include/branchfs/branchfs.h include/branchfs/ioctl.h bin/branchfs sbin/branchfsd \
	share/man/man1/branchfs.1 share/man/man8/branchfsd.8 share/doc/branchfs/cli.md \
	share/doc/branchfs/api.md share/doc/branchfs/errors.md share/doc/branchfs/patterns.md \
	include/branchfs/runner.h include/branchfs/patterns.h bin/branching share/man/man1/branching.1; do
	[ -e "$prefix/$f" ] || fail "$f is not installed"
done
for f in libbranchfs.so libbranchfs.a; do
	[ -e "$libdir/$f" ] || fail "$libdir/$f is not installed"
done

cat >"$BFS_TEST_TMP/prog.c" <<'PROG'
#include <branchfs/branchfs.h>
#include <branchfs/ioctl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct bfs_mount *m = NULL;
	int ret = bfs_open(&m, "/");

	printf("%s|%s|%d\n", bfs_version(), bfs_strerror(-ESTALE), ret == -EMEDIUMTYPE);
	return ret == -EMEDIUMTYPE && m == NULL && FS_IOC_BRANCH_COMMIT == 0x6201u ? 0 : 1;
}
PROG
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs branchfs) || fail "pkg-config --cflags --libs branchfs"
echo "pkg-config: $flags"
version=$(pkg-config --modversion branchfs)
want="$version|a sibling committed first|1"

# Shared: found through the installed libdir.
if "$cc" -std=c11 -Wall -Wextra -pedantic -Werror -o "$BFS_TEST_TMP/prog" \
	"$BFS_TEST_TMP/prog.c" $flags; then
	got=$(LD_LIBRARY_PATH=$libdir "$BFS_TEST_TMP/prog") || fail "the shared program failed"
	[ "$got" = "$want" ] || fail "shared program printed '$got', want '$want'"
	ldd "$BFS_TEST_TMP/prog" | grep -q libbranchfs.so || fail "not linked to libbranchfs.so"
else
	fail "cannot build against the installed library"
fi
# Static, as a user would: pkg-config --static (Libs.private brings
# -pthread), with the shared library out of the way so -lbranchfs can only
# find libbranchfs.a.
sflags=$(pkg-config --static --cflags --libs branchfs) || fail "pkg-config --static"
case " $sflags " in *" -pthread "*) ;; *) fail "pkg-config --static lacks -pthread: $sflags" ;; esac
mkdir -p "$BFS_TEST_TMP/static"
cp "$libdir/libbranchfs.a" "$BFS_TEST_TMP/static/"
if "$cc" -std=c11 -o "$BFS_TEST_TMP/prog-static" "$BFS_TEST_TMP/prog.c" \
	-L"$BFS_TEST_TMP/static" $sflags; then
	got=$("$BFS_TEST_TMP/prog-static") || fail "the static program failed"
	[ "$got" = "$want" ] || fail "static program printed '$got', want '$want'"
	ldd "$BFS_TEST_TMP/prog-static" 2>&1 | grep -q libbranchfs && fail "static program uses libbranchfs.so"
else
	fail "cannot build against the static library with pkg-config --static"
fi
# The runner and pattern API link from the installed library too.
cat >"$BFS_TEST_TMP/runner.c" <<'PROG'
#include <branchfs/patterns.h>
#include <branchfs/runner.h>
#include <stdio.h>

int main(void)
{
	struct bfs_task t = BFS_TASK_SHELL("echo ran; exit 3");
	struct bfs_start s = BFS_START_INIT;
	struct bfs_proc_result *r = NULL;
	struct bfs_outcome *o = NULL;

	s.task = &t;
	if (bfs_run(&r, &s, NULL) || r->exit_code != 3)
		return 1;
	printf("%s", r->out);
	bfs_proc_result_free(r);
	return bfs_speculate(&o, NULL, &t, 1, NULL) == -22 && !o ? 0 : 1;
}
PROG
if "$cc" -std=c11 -Wall -Wextra -pedantic -Werror -o "$BFS_TEST_TMP/runner" \
	"$BFS_TEST_TMP/runner.c" $flags; then
	got=$(LD_LIBRARY_PATH=$libdir "$BFS_TEST_TMP/runner") || fail "the runner program failed"
	[ "$got" = ran ] || fail "runner program printed '$got', want 'ran'"
else
	fail "cannot build a runner program against the installed library"
fi
# Only the API is exported.
nm -D --defined-only "$libdir/libbranchfs.so" | awk '$2 == "T" {print $3}' |
	grep -v '^bfs_[a-z_]*$' | grep -v '^_' && fail "non-API symbols are exported"
# The installed CLI runs from its prefix.
"$prefix/bin/branchfs" --version | grep -q "^branchfs $version$" ||
	fail "the installed branchfs does not run"
"$prefix/bin/branching" --version | grep -q "^branching $version$" ||
	fail "the installed branching does not run"
# The man pages render without warnings.
if command -v groff >/dev/null; then
	for page in man1/branchfs.1 man8/branchfsd.8 man1/branching.1; do
		warn=$(groff -man -Tutf8 -ww -z "$prefix/share/man/$page" 2>&1)
		[ -z "$warn" ] || fail "$page: $warn"
	done
fi
[ $status = 0 ] && echo "install: ok"
exit $status
