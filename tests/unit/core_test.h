/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the unit suites of the daemon's core: a core opened on a
 * scratch base and storage (no mount), and one-call wrappers around the core
 * API that take the request locks the way the FUSE edge does.
 *
 * Wrappers that act through the core return 0 or -errno and leave asserting
 * to the test; the ones that set a test up (base files, branch creation)
 * fail the test themselves.  Strings they return are malloc'd.
 */
#ifndef CORE_TEST_H
#define CORE_TEST_H

#include "bfsd.h"

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* Assert that the malloc'd string expr equals expect, and free it. */
#define UT_STR_EQ(expr, expect)                     \
	do {                                        \
		char *ut_s_ = (expr);               \
		ck_assert_pstr_eq(ut_s_, (expect)); \
		free(ut_s_);                        \
	} while (0)

struct ut {
	char dir[PATH_MAX];	/* this test's scratch directory */
	char base[PATH_MAX];	/* the base directory */
	char storage[PATH_MAX]; /* the storage directory */
	struct bfsd_fs *fs;	/* NULL while closed */
};

/* A fresh scratch dir with an empty base (the core is not opened). */
void ut_init(struct ut *t);
/* Open the core on t (fails the test on error). */
void ut_open(struct ut *t, bool keep);
/* Close the core (keeping branches only when it was opened with keep). */
void ut_close(struct ut *t);
/* init + open. */
void ut_setup(struct ut *t);

/* Simulate a daemon killed at an arbitrary instant: in a child process,
 * open the core on t, run fn and exit without closing anything.  t must be
 * closed in the caller.  Returns the child's exit status (0 when fn and the
 * open succeeded). */
int ut_crash(struct ut *t, void (*fn)(struct ut *t, void *arg), void *arg);

/* Absolute path of rel in the base / storage (static rotating buffers). */
const char *ut_bpath(const struct ut *t, const char *rel);
const char *ut_spath(const struct ut *t, const char *rel);

/* The base directory, directly (no core); these fail the test on error. */
void ut_base_write(const struct ut *t, const char *rel, const char *data);
void ut_base_mkdir(const struct ut *t, const char *rel);
/* Contents of a base file, or NULL when it cannot be read. */
char *ut_base_read(const struct ut *t, const char *rel);
bool ut_base_exists(const struct ut *t, const char *rel);

/* Create a child of parent (name NULL: generated) and return it. */
struct bfsd_branch *ut_branch(struct ut *t, struct bfsd_branch *parent, const char *name);
/* Commit / abort under tree_lock exclusive, as the control file does. */
int ut_commit(struct ut *t, struct bfsd_branch *b);
int ut_abort(struct ut *t, struct bfsd_branch *b);

/* Write data to path in b: truncate an existing file or create it (0644). */
int ut_write(struct ut *t, struct bfsd_branch *b, const char *path, const char *data);
/* Write data at off into the existing file path (no truncation). */
int ut_pwrite(struct ut *t, struct bfsd_branch *b, const char *path, off_t off, const char *data);
/* Whole contents of path in b, NULL with *err = -errno on failure. */
char *ut_read(struct ut *t, struct bfsd_branch *b, const char *path, int *err);
/* Contents of path in b, or "<-errno name>" style text for failures, so tests
 * can compare with ck_assert_str_eq.  Caller frees. */
char *ut_cat(struct ut *t, struct bfsd_branch *b, const char *path);
int ut_stat(struct ut *t, struct bfsd_branch *b, const char *path, struct stat *st);
bool ut_exists(struct ut *t, struct bfsd_branch *b, const char *path);
/* Sorted names of the directory path in b joined by ',' ("" when empty);
 * "<error N>" when it cannot be listed.  Caller frees. */
char *ut_ls(struct ut *t, struct bfsd_branch *b, const char *path);

int ut_mkdir(struct ut *t, struct bfsd_branch *b, const char *path, mode_t mode);
int ut_mkfifo(struct ut *t, struct bfsd_branch *b, const char *path);
int ut_symlink(struct ut *t, struct bfsd_branch *b, const char *target, const char *path);
int ut_link(struct ut *t, struct bfsd_branch *b, const char *from, const char *to);
int ut_unlink(struct ut *t, struct bfsd_branch *b, const char *path);
int ut_rmdir(struct ut *t, struct bfsd_branch *b, const char *path);
int ut_rename(struct ut *t, struct bfsd_branch *b, const char *from, const char *to,
	      unsigned int flags);
int ut_chmod(struct ut *t, struct bfsd_branch *b, const char *path, mode_t mode);
int ut_chown(struct ut *t, struct bfsd_branch *b, const char *path, uid_t uid, gid_t gid);
int ut_utimens(struct ut *t, struct bfsd_branch *b, const char *path, const struct timespec ts[2]);
int ut_truncate(struct ut *t, struct bfsd_branch *b, const char *path, off_t size);
int ut_setxattr(struct ut *t, struct bfsd_branch *b, const char *path, const char *name,
		const char *val);
/* Value of xattr name (NUL-terminated into val, n bytes): length or -errno. */
ssize_t ut_getxattr(struct ut *t, struct bfsd_branch *b, const char *path, const char *name,
		    char *val, size_t n);
/* listxattr of path in b as one ','-joined sorted string.  Caller frees. */
char *ut_listxattr(struct ut *t, struct bfsd_branch *b, const char *path);
int ut_readlink(struct ut *t, struct bfsd_branch *b, const char *path, char *buf, size_t n);

/* A deterministic text description of the tree at abs (a real directory):
 * one sorted line per object with type, mode, owner, link count group,
 * contents or target and user xattrs.  Caller frees. */
char *ut_tree(const char *abs);
/* The same description of the tree b shows (through the core). */
char *ut_view_tree(struct ut *t, struct bfsd_branch *b);
/* Number of entries below abs (recursive, not counting abs itself). */
int ut_count_entries(const char *abs);

/* Does an object in t's storage have the inode number that b shows as
 * st_ino (an object first made in storage: its number there)? */
bool ut_number_in_storage(struct ut *t, struct bfsd_branch *b, ino_t st_ino);

/* Run suite s; the exit status of a suite binary (a run that executed no
 * test at all counts as a failure). */
int ut_main(Suite *s);

/* Run a shell command (for test setup only); returns its exit status. */
int ut_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
