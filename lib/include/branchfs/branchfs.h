/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbranchfs: the client API of branchfs.
 *
 * A program opens a mount (struct bfs_mount) and drives its branches through
 * the mount's control files and ioctls; queries (list, diff) read the
 * mount's storage directory.  There is no socket and no other daemon.
 *
 * Conventions.  Every function that can fail returns 0 (or a count) on
 * success and a negative errno on failure; bfs_strerror() describes the
 * branch-specific ones.  Objects come back through out parameters, which come
 * first.  Each function says who owns what it returns.  A struct bfs_mount
 * may be used by one thread at a time; distinct handles are independent.  The
 * library keeps no file descriptor open in the mount between calls, so an
 * open handle never makes the mount busy.
 */
#ifndef BRANCHFS_BRANCHFS_H
#define BRANCHFS_BRANCHFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(BFS_BUILDING_LIBRARY)
#define BFS_API __attribute__((visibility("default")))
#else
#define BFS_API
#endif

/* Version of the library (and of the package). */
#define BFS_VERSION_MAJOR 0
#define BFS_VERSION_MINOR 1
#define BFS_VERSION_PATCH 0

/* The version string of the library actually loaded, e.g. "0.1.0".  Static. */
BFS_API const char *bfs_version(void);

/* An open branchfs mount (opaque). */
struct bfs_mount;

/*
 * Open the branchfs mount that contains path (its root or any path inside
 * it, including a path inside /@NAME/).  *out gets a handle the caller
 * releases with bfs_close().
 *
 * Errors: -EMEDIUMTYPE when path is not on a branchfs mount, -ENOENT when
 * path does not exist, -ENOTCONN when the daemon is gone.
 */
BFS_API int bfs_open(struct bfs_mount **out, const char *path);

/* Release a handle from bfs_open() or bfs_daemon_start().  NULL is fine. */
BFS_API void bfs_close(struct bfs_mount *m);

/* The mount root (absolute path).  Owned by m, valid until bfs_close(). */
BFS_API const char *bfs_mount_root(const struct bfs_mount *m);

/* The storage directory the daemon uses, or NULL when the daemon does not
 * say (a BranchFS daemon without FS_IOC_BRANCH_INFO).  Owned by m. */
BFS_API const char *bfs_mount_storage(const struct bfs_mount *m);

/* The base directory the mount shows as main (read from the storage), or
 * NULL when unknown.  Owned by m. */
BFS_API const char *bfs_mount_base(const struct bfs_mount *m);

/* The pid of the daemon serving the mount, or 0 when unknown. */
BFS_API int bfs_mount_daemon_pid(const struct bfs_mount *m);

/*
 * Branch names.  A name given by a user is 1 to BFS_NAME_MAX bytes, is not
 * "." or "..", contains no '/', does not start with '@' and is not "main"
 * (reserved for the root branch).  The library also refuses names that
 * start or end with whitespace (the daemon trims a text command, so
 * "create:x " would make "x") and names with control characters (bytes
 * 1-31 and 127: they break the one-name-a-line output of list and diff);
 * branches other clients named so can still be switched to, committed,
 * aborted and listed.
 */
#define BFS_NAME_MAX  255
#define BFS_MAIN_NAME "main"

/*
 * Check a branch name against the rules above.  Returns 0 when it is valid,
 * else -EINVAL; *reason (when reason is not NULL) then gets a static message
 * naming the rule, e.g. "branch names cannot contain '/'".
 */
BFS_API int bfs_name_check(const char **reason, const char *name);

/*
 * Create a child of branch parent (NULL: the mount's current branch).  With
 * name NULL the daemon picks a unique "branch-<uuid>" name; otherwise name
 * must pass bfs_name_check() and be unused (-EEXIST).
 *
 * *name_out (when not NULL) gets the new branch's name and *path_out (when
 * not NULL) its directory "<root>/@NAME"; both are malloc'd and the caller
 * frees them with free().  On failure neither is set.
 *
 * The mount's current branch does not change (see bfs_switch()).
 */
BFS_API int bfs_create(char **name_out, char **path_out, struct bfs_mount *m, const char *parent,
		       const char *name);

/*
 * Commit branch (NULL: the mount's current branch, after which the mount
 * switches to its parent) into its parent.
 *
 * Errors: -ESTALE when a sibling committed first (nothing changed; the
 * branch stays until aborted), -ENOTEMPTY when it has live children, -EPERM
 * for main, -ENOENT for an unknown branch, -ENOSPC when a quota is hit.
 */
BFS_API int bfs_commit(struct bfs_mount *m, const char *branch);

/*
 * Abort (discard) branch (NULL: the mount's current branch, after which the
 * mount switches to its parent).  A stale branch aborts fine.
 *
 * Errors: -ENOTEMPTY when it has live children, -EPERM for main, -ENOENT for
 * an unknown branch.
 */
BFS_API int bfs_abort(struct bfs_mount *m, const char *branch);

/* Make branch the mount's current branch (what the mount root shows).
 * Errors: -ENOENT for an unknown branch. */
BFS_API int bfs_switch(struct bfs_mount *m, const char *branch);

/* The mount's current branch: *name_out gets a malloc'd copy the caller
 * frees with free(). */
BFS_API int bfs_current(char **name_out, struct bfs_mount *m);

/* Keep (true) or discard (false, the default) the branches at the next
 * clean unmount. */
BFS_API int bfs_set_keep(struct bfs_mount *m, bool keep);

/* One branch as the storage directory records it. */
struct bfs_branch_info {
	const char *name;	    /* the branch name */
	const char *parent;	    /* its parent's name; NULL for main */
	uint64_t id;		    /* the daemon's id for it (main is 0) */
	uint64_t generation;	    /* commits into this branch so far */
	uint64_t parent_generation; /* the parent's generation at creation */
	int64_t created_ns;	    /* creation time, ns since the epoch (0: unknown) */
	uint64_t change_bytes;	    /* disk usage of its own changes (0 for main) */
	unsigned int depth;	    /* 0 for main, 1 for its children, ... */
	bool stale;		    /* a sibling committed first: commit will fail */
	bool current;		    /* it is the mount's current branch */
};

/* A list of branches (opaque owner of the entries). */
struct bfs_branch_list;

/*
 * List the branches of the mount, main first, then the tree depth-first
 * with children in creation order (so a child always follows its parent).
 * *out gets a list the caller frees with bfs_branch_list_free().
 *
 * Errors: -ENOTSUP when the daemon does not say where its storage is (use
 * bfs_list_storage()).
 */
BFS_API int bfs_list(struct bfs_branch_list **out, struct bfs_mount *m);

/*
 * The same from a storage directory alone (no mount needed).  Errors:
 * -ENOENT when dir does not exist, -ENOTDIR when it (or a component of its
 * path) is not a directory, -ENODATA when it holds no branchfs state.
 */
BFS_API int bfs_list_storage(struct bfs_branch_list **out, const char *dir);

/* Number of branches in list, and branch i (0 <= i < count).  The entry
 * and its strings are owned by list. */
BFS_API size_t bfs_branch_list_count(const struct bfs_branch_list *list);
BFS_API const struct bfs_branch_info *bfs_branch_list_get(const struct bfs_branch_list *list,
							  size_t i);
/* The entry named name, or NULL.  Owned by list. */
BFS_API const struct bfs_branch_info *bfs_branch_list_find(const struct bfs_branch_list *list,
							   const char *name);
/* Free a list from bfs_list() or bfs_list_storage().  NULL is fine. */
BFS_API void bfs_branch_list_free(struct bfs_branch_list *list);

/* What a diff entry did to its path. */
enum bfs_change {
	BFS_CHANGE_ADDED = 'A',
	BFS_CHANGE_MODIFIED = 'M',
	BFS_CHANGE_DELETED = 'D',
	BFS_CHANGE_RENAMED = 'R',
};

/* File types, independent of <sys/stat.h>. */
enum bfs_file_type {
	BFS_TYPE_UNKNOWN = 0,
	BFS_TYPE_FILE,
	BFS_TYPE_DIR,
	BFS_TYPE_SYMLINK,
	BFS_TYPE_FIFO,
	BFS_TYPE_SOCKET,
	BFS_TYPE_CHAR,
	BFS_TYPE_BLOCK,
};

/* One changed path of a branch relative to its parent. */
struct bfs_diff_entry {
	enum bfs_change change;
	enum bfs_file_type type; /* in the branch; for a deletion, in the parent */
	uint64_t size;		 /* st_size, likewise */
	const char *path;	 /* relative to the branch root */
	const char *old_path;	 /* renamed: where it is in the parent; else NULL */
};

/* The changes of a branch (opaque owner of the entries). */
struct bfs_diff;

/*
 * Diff branch (NULL: the mount's current branch) against its parent as the
 * parent is now.  Entries are sorted by path.  A directory is listed when it
 * was added, deleted, renamed, replaced, or had its mode or owner changed.  A
 * file renamed inside the branch is BFS_CHANGE_RENAMED when the daemon
 * marked its copy with the object it came from (always as root; without
 * root, regular files only); a copy plus a deletion is an addition and a
 * deletion (contents are not compared).
 * *out gets a diff the caller frees with bfs_diff_free().
 *
 * Errors: -EINVAL for main (it has no parent), -ENOENT for an unknown
 * branch, -ENOTSUP when the daemon does not say where its storage is.
 */
BFS_API int bfs_diff(struct bfs_diff **out, struct bfs_mount *m, const char *branch);

/* The branch diffed and its parent.  Owned by d. */
BFS_API const char *bfs_diff_branch(const struct bfs_diff *d);
BFS_API const char *bfs_diff_parent(const struct bfs_diff *d);
/* Number of entries and entry i (0 <= i < count), owned by d. */
BFS_API size_t bfs_diff_count(const struct bfs_diff *d);
BFS_API const struct bfs_diff_entry *bfs_diff_get(const struct bfs_diff *d, size_t i);
/* Free a diff.  NULL is fine. */
BFS_API void bfs_diff_free(struct bfs_diff *d);

/* Options of bfs_daemon_start(); initialise with BFS_DAEMON_OPTIONS_INIT. */
struct bfs_daemon_options {
	unsigned int version;	 /* BFS_DAEMON_OPTIONS_VERSION */
	const char *daemon;	 /* branchfsd to run; NULL: $BRANCHFSD, then PATH */
	const char *base;	 /* the base directory; NULL: the mount point itself */
	const char *storage;	 /* NULL: the daemon's default */
	const char *max_storage; /* storage quota (e.g. "10G"); NULL: none */
	const char *options;	 /* more -o mount options; NULL: none */
	unsigned int timeout_ms; /* how long to wait for the mount; 0: 10 s */
};

#define BFS_DAEMON_OPTIONS_VERSION 1
#define BFS_DAEMON_OPTIONS_INIT                                             \
	{                                                                   \
		BFS_DAEMON_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0 \
	}

/*
 * Mount branchfs at mnt (created when missing) by running the daemon, and
 * return once the mount answers.  *out (when out is not NULL) gets an open
 * handle to release with bfs_close().  When the daemon fails and message is
 * not NULL, *message gets its diagnostics (malloc'd, freed by the caller
 * with free(); NULL when it printed nothing).
 *
 * Errors: -ENOENT when the daemon cannot be found, -EIO when it failed,
 * -ETIMEDOUT when the mount did not answer in time, -EBUSY when a branchfs
 * mount is already at mnt, -ENOTCONN when a mount whose daemon is gone is
 * (bfs_detach() it first).
 */
BFS_API int bfs_daemon_start(struct bfs_mount **out, char **message, const char *mnt,
			     const struct bfs_daemon_options *opts);

/* Flags of bfs_unmount(). */
#define BFS_UNMOUNT_KEEP 0x1u /* keep the branches for the next mount */

/*
 * Unmount m and wait until the mount is gone and its daemon has exited.
 * Without BFS_UNMOUNT_KEEP the daemon discards every uncommitted branch
 * (unless bfs_set_keep() or the daemon's keep option said otherwise).  An
 * unmount that fails leaves the mount's keep setting as it was before.
 * m stays valid for bfs_mount_root() and must still be closed.
 *
 * Errors: -EBUSY when the mount is in use, -ETIMEDOUT when the daemon did
 * not exit in time.
 */
BFS_API int bfs_unmount(struct bfs_mount *m, unsigned int flags);

/*
 * Detach the branchfs mount at mnt (its mount point, or a path inside it)
 * whose daemon is gone: every access to it fails with ENOTCONN and
 * bfs_open() cannot open it.  Lazily unmounts it, as `fusermount3 -uz`
 * does.  The storage is left as the daemon left it: the branches it had
 * come back at the next mount of that storage.
 *
 * Errors: -EISCONN when the daemon still answers (use bfs_unmount()),
 * -EMEDIUMTYPE when mnt is not on a branchfs mount, -EBUSY when it stayed
 * mounted.
 */
BFS_API int bfs_detach(const char *mnt);

/*
 * A message for err (negative or positive errno) in the words of branches:
 * ESTALE "a sibling committed first", ENOTEMPTY "the branch has live
 * children", ... and strerror() for the rest, its first letter lowercased
 * ("input/output error").  Static (for the rest, thread-local) storage:
 * valid until the next call in the same thread.
 */
BFS_API const char *bfs_strerror(int err);

/*
 * strerror(err) (negative or positive errno) with its first letter
 * lowercased ("no such file or directory"; an acronym such as "RPC struct
 * is bad" stays), for errors about files and commands rather than
 * branches: ENOENT is "no such file or directory" here, "no such branch"
 * in bfs_strerror().  Thread-local storage, valid until the next call in
 * the same thread.
 */
BFS_API const char *bfs_syserr(int err);

#ifdef __cplusplus
}
#endif

#endif
