/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the test suites: scratch directories, a real branchfs
 * mount per test, file helpers and control-file commands.
 *
 * Every mount lives below $BFS_TEST_TMP (set by tests/run-suite.sh), which
 * unmounts and kills whatever a crashed test leaves behind.
 */
#ifndef BFS_TEST_H
#define BFS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bfs_mount {
	char dir[4096];	    /* this test's own directory */
	char base[4096];    /* the base directory */
	char storage[4096]; /* the storage directory */
	char mnt[4096];	    /* the mount point */
	pid_t pid;	    /* the daemon */
};

/* A fresh directory below $BFS_TEST_TMP (or /tmp); out gets its path. */
void bfs_scratch(char *out, size_t n);
/* Make a scratch dir with base/, storage path and mnt/ (not mounted). */
void bfs_mount_prepare(struct bfs_mount *m);
/* Start the daemon on m (extra: more arguments, NULL-terminated list or
 * NULL), wait until the mount answers; aborts the test on failure. */
void bfs_mount_start(struct bfs_mount *m, const char *const *extra);
/* bfs_mount_start with another daemon binary and, when fault is not NULL,
 * BRANCHFSD_FAULT=fault in its environment (test-only crash points). */
void bfs_mount_start_daemon(struct bfs_mount *m, const char *daemon, const char *fault,
			    const char *const *extra);
/* prepare + start. */
void bfs_mount_setup(struct bfs_mount *m);
/* Unmount and wait for the daemon to exit (kill it after 10 s). */
void bfs_mount_stop(struct bfs_mount *m);
/* Kill the daemon with SIGKILL and detach the mount (crash). */
void bfs_mount_crash(struct bfs_mount *m);

/* Path helpers: out = a/b (and a/b/c). */
const char *bfs_path(char *out, const char *a, const char *b);
/* Write / read whole files; read returns a malloc'd NUL-terminated copy
 * (NULL with errno on failure). */
int bfs_write_file(const char *path, const char *data);
char *bfs_read_file(const char *path);
bool bfs_exists(const char *path);
/* mkdir -p and rm -rf. */
int bfs_mkdirs(const char *path);
int bfs_rm_rf(const char *path);

/* Write a text command to a control file: 0 or -errno. */
int bfs_ctl(const char *ctl, const char *cmd);
/* Control file of the mount root, or of @branch when branch != NULL. */
const char *bfs_ctl_path(char *out, const struct bfs_mount *m, const char *branch);
/* FS_IOC_BRANCH_CREATE on ctl: the new name in name (128 bytes); -errno. */
int bfs_ioc_create(const char *ctl, char *name);
int bfs_ioc_commit(const char *ctl);
int bfs_ioc_abort(const char *ctl);
/* Path of @branch in the mount (out). */
const char *bfs_branch_dir(char *out, const struct bfs_mount *m, const char *branch);
/* Run a shell command line with cwd dir; returns its exit status. */
int bfs_sh(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
