/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbranchfs internals shared by its source files: the mount handle, the
 * storage state log reader and small path helpers.  Nothing here is public.
 */
#ifndef BFS_CLIENT_H
#define BFS_CLIENT_H

#include <branchfs/branchfs.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct bfs_mount {
	char *root;    /* absolute path of the mount root */
	char *storage; /* storage directory, or NULL when the daemon does not say */
	char *base;    /* base directory (storage/base), or NULL */
	int pid;       /* daemon pid, 0 when unknown */
};

/* mount.c */

/* The mount point (from /proc/self/mountinfo) that holds the absolute path
 * real, and its file system type; *root and *type are malloc'd. */
int bfs__mount_of(char **root, char **type, const char *real);
#define BRANCHFS_FSTYPE "fuse.branchfs"
/* Is dir a fuse.branchfs mount point whose control file answers? */
bool bfs__mounted(const char *dir);
/* Control file of branch (NULL: the root one) of m into out (PATH_MAX). */
int bfs__ctl_path(char *out, const struct bfs_mount *m, const char *branch);
/* Refresh m's daemon pid and storage with FS_IOC_BRANCH_INFO. */
int bfs__refresh_info(struct bfs_mount *m);

/* ctl.c: will the next clean unmount keep the branches (FS_IOC_BRANCH_INFO)? */
int bfs__get_keep(const struct bfs_mount *m, bool *keep);

/* state.c: the branch tree as the storage's state log records it. */
struct bfs_state_branch {
	uint64_t id, gen, parent_gen, parent, epoch;
	int64_t created_ns;
	int nown, nlayers;
	uint64_t *layers; /* top first */
	char *name;
	bool gone;
};

struct bfs_state {
	struct bfs_state_branch *b; /* sorted by id; main (id 0) always present */
	size_t n;
	uint64_t current;
};

/* Read dir/state.  -ENOENT: no dir; -ENODATA: no state log in it. */
int bfs__state_read(struct bfs_state *st, const char *dir);
void bfs__state_free(struct bfs_state *st);
/* Live branch by id or by name, or NULL. */
const struct bfs_state_branch *bfs__state_find(const struct bfs_state *st, uint64_t id);
const struct bfs_state_branch *bfs__state_find_name(const struct bfs_state *st, const char *name);

/*
 * diff.c, diff_renames.c: a branch's changes.  What identifies the object of an entry, for pairing file renames: the raw
 * number of an added non-directory's origin, or of a deleted one in the
 * parent, with the deleted one's path in the parent.
 */
struct bfs_diff_ident {
	uint64_t raw;
	bool known;
	char *ppath; /* deleted: its path in the parent's namespace */
};

struct bfs_diff {
	char *branch;
	char *parent;
	struct bfs_diff_entry *e;
	struct bfs_diff_ident *id; /* parallel to e until the renames are paired */
	size_t n, cap;
};

void bfs__diff_entry_free(struct bfs_diff_entry *e);
void bfs__diff_idents_free(struct bfs_diff *d);
/* Fold a renamed directory's old name (deleted too) into its rename. */
int bfs__diff_fold_renames(struct bfs_diff *d);
/* Make an added non-directory copied from a deleted one its rename. */
int bfs__diff_pair_renames(struct bfs_diff *d);

/* layers.c: reading layer directories. */

/* The value of marker key ("wh", "opaque", "redirect") on path, under
 * either private prefix: its length, or -ENODATA. */
int bfs__marker(const char *path, const char *key, char *val, size_t size);
/* Is path (whose lstat is st) a whiteout? */
bool bfs__is_whiteout(const char *path, const struct stat *st);
/* Disk usage of the non-directories below dir, hard links counted once. */
int bfs__du(uint64_t *bytes, const char *dir);

/* util.c */
char *bfs__strdup(const char *s);
/* out = a "/" b, or the other alone when one is empty; -ENAMETOOLONG. */
int bfs__join(char *out, const char *a, const char *b);
/* An absolute version of path (not resolving symlinks); malloc'd. */
int bfs__absolute(char **out, const char *path);

#endif
