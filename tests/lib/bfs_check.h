/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check assertions for file-system facts, and the main() every suite shares.
 *
 * Each assertion says what was expected and what was found (with the errno
 * text), so a failing test explains itself without a rerun.
 */
#ifndef BFS_CHECK_H
#define BFS_CHECK_H

#include "bfs_test.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A system call (returning -1 on failure) succeeded. */
#define ck_sys(expr)                                                                  \
	do {                                                                          \
		errno = 0;                                                            \
		ck_assert_msg((expr) != -1, "%s failed: %s", #expr, strerror(errno)); \
	} while (0)

/* A system call failed with exactly errno e. */
#define ck_errno(expr, e)                                                                      \
	do {                                                                                   \
		int _r;                                                                        \
		errno = 0;                                                                     \
		_r = (int)(expr);                                                              \
		ck_assert_msg(_r == -1 && errno == (e), "%s: expected %s, got %d (%s)", #expr, \
			      strerror(e), _r, _r == -1 ? strerror(errno) : "no error");       \
	} while (0)

/* A helper returning 0 or -errno returned r. */
#define ck_ret(expr, r)                                                                  \
	do {                                                                             \
		int _r = (expr), _w = (r);                                               \
		ck_assert_msg(_r == _w, "%s: expected %d (%s), got %d (%s)", #expr, _w,  \
			      _w ? strerror(-_w) : "ok", _r, _r ? strerror(-_r) : "ok"); \
	} while (0)

/* The file at path holds exactly the text expect. */
#define ck_file_eq(path, expect)                                                                \
	do {                                                                                    \
		const char *_p = (path), *_x = (expect);                                        \
		char *_s = bfs_read_file(_p);                                                   \
		ck_assert_msg(_s && !strcmp(_s, _x), "%s: expected \"%s\", got %s%s%s", _p, _x, \
			      _s ? "\"" : "", _s ? _s : strerror(errno), _s ? "\"" : "");       \
		free(_s);                                                                       \
	} while (0)

/* Nothing exists at path (lstat fails with ENOENT). */
#define ck_absent(path) ck_errno(lstat((path), &(struct stat){ 0 }), ENOENT)

/* Directory dir lists exactly the names in expect (sorted, space separated). */
#define ck_list_eq(dir, flags, expect)                                                        \
	do {                                                                                  \
		const char *_d = (dir), *_x = (expect);                                       \
		char *_l = bfs_list_dir(_d, (flags));                                         \
		ck_assert_msg(_l && !strcmp(_l, _x), "%s: expected [%s], got %s%s%s", _d, _x, \
			      _l ? "[" : "", _l ? _l : strerror(errno), _l ? "]" : "");       \
		free(_l);                                                                     \
	} while (0)

/* Two tree dumps (bfs_tree_dump) are equal. */
#define ck_tree_eq(a, b)                                                      \
	do {                                                                  \
		const char *_a = (a), *_b = (b);                              \
		ck_assert_msg(_a &&_b && !strcmp(_a, _b), "trees differ: %s", \
			      bfs_str_diff(_a, _b));                          \
	} while (0)

/* The lstat of path, which must succeed. */
static inline struct stat st_of(const char *path)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "lstat %s: %s", path, strerror(errno));
	return st;
}

/* Run s; a run that executed no test proves nothing and fails. */
static inline int bfs_check_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	if (srunner_ntests_run(sr) == 0)
		failed = 1;
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
