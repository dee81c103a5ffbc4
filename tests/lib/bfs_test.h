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
	pid_t guard;	    /* bfs_mount_guard's process, or 0 */
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
/*
 * Unmount and wait for the daemon to exit (kill it after 10 s times
 * CK_TIMEOUT_MULTIPLIER).  True when the daemon exited by itself with
 * status 0 (a clean exit, which discards branches), also when something
 * unmounted it before; otherwise says on stderr what happened.
 */
bool bfs_mount_stop(struct bfs_mount *m);
/*
 * Guard against a wedged mount: unless bfs_mount_stop comes first, abort m's
 * FUSE connection after seconds (through fusectl, mounted when it is not),
 * so every call waiting on it fails (ENOTCONN) and the case fails instead
 * of hanging (and detach the mount).  No signal ends a call whose request
 * the daemon has read.  The seconds are multiplied by Check's
 * CK_TIMEOUT_MULTIPLIER (BFS_TIME_SCALE under ctest), as the cases' own
 * limits are: a busy machine makes a case slower, a wedge never ends.
 */
void bfs_mount_guard(struct bfs_mount *m, int seconds);
/* Kill the daemon with SIGKILL and detach the mount (crash). */
void bfs_mount_crash(struct bfs_mount *m);
/* Wait up to seconds for the daemon to die of SIGKILL on its own (a test
 * fault point fired), then detach the mount as bfs_mount_crash does.  False
 * when it is still running (it is left so) or ended any other way. */
bool bfs_mount_wait_killed(struct bfs_mount *m, int seconds);

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
/* Whether the shell command check succeeds (a tool a case needs is there);
 * when not, "who: no what, case skipped" on stderr. */
bool bfs_have(const char *who, const char *what, const char *check);

/* Read a control file (the root's: the current branch name); malloc'd, NULL
 * with errno on failure. */
char *bfs_ctl_read(const char *ctl);
/* "create:NAME" on the control file of parent (NULL: the mount root's, which
 * acts on the current branch): 0 or -errno. */
int bfs_branch_create(const struct bfs_mount *m, const char *parent, const char *name);
/* Write len bytes at offset off of path (created 0644 if missing, not
 * truncated): 0 or -errno. */
int bfs_pwrite_file(const char *path, const void *data, size_t len, off_t off);

/* What bfs_tree_dump() records beyond names, types, permission bits, sizes,
 * file contents (a hash) and symlink targets. */
enum {
	BFS_DUMP_OWNER = 1 << 0,  /* uid and gid */
	BFS_DUMP_MTIME = 1 << 1,  /* mtime in ns of everything but directories */
	BFS_DUMP_XATTR = 1 << 2,  /* extended attributes, names and values */
	BFS_DUMP_LINKS = 1 << 3,  /* link count and which names share an inode */
	BFS_DUMP_MOUNT = 1 << 4,  /* dir is a mount root: skip @NAME and the ctl */
	BFS_DUMP_NOCTL = 1 << 5,  /* dir is an @NAME root: skip its ctl */
	BFS_DUMP_NODATA = 1 << 6, /* sizes of files, not their contents */
	BFS_DUMP_ALL = BFS_DUMP_OWNER | BFS_DUMP_MTIME | BFS_DUMP_XATTR | BFS_DUMP_LINKS,
};
/* A canonical listing of the tree below dir, one sorted line per object, so
 * that two trees are alike exactly when their dumps are equal.  malloc'd;
 * NULL with errno when dir cannot be walked. */
char *bfs_tree_dump(const char *dir, unsigned int flags);
/* The names in directory dir, sorted, separated by one space ("" when
 * empty); flags BFS_DUMP_MOUNT / BFS_DUMP_NOCTL as for bfs_tree_dump.
 * malloc'd; NULL with errno on failure. */
char *bfs_list_dir(const char *dir, unsigned int flags);
/* The lines of a missing from b and of b missing from a, for failure
 * messages (static buffer). */
const char *bfs_str_diff(const char *a, const char *b);

/* POSIX ACLs through their xattrs (system.posix_acl_access, or
 * system.posix_acl_default when dflt), so no acl tools are needed.
 * Grant: like "setfacl [-d] -m u:UID:PERM path" on an object without an
 * ACL (the other entries come from its mode, the mask is PERM | group).
 * Perm: the permission bits of the named-user entry for uid, -ENOENT when
 * there is none, -errno when the ACL cannot be read. */
int bfs_acl_grant(const char *path, bool dflt, uid_t uid, unsigned int perm);
int bfs_acl_perm(const char *path, bool dflt, uid_t uid);

/* Run fn(arg) in a child process with real and effective uid/gid set to
 * uid/gid, no supplementary groups and umask 022; returns what fn returned
 * (by convention 0 or -errno), or -ECHILD when the child died. */
int bfs_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg);

#endif
