/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfsd private header: the data model of the daemon and the prototypes of
 * every source file, grouped per file.
 *
 * The core (everything but ll_*.c, node.c, inval.c and main.c) knows nothing
 * of FUSE: it takes a struct bfsd_fs, a branch and logical paths, and returns
 * 0 (or a count) or a negative errno.  Logical paths are relative to a
 * branch's root: "" is the root, "a/b" a descendant; they never start or end
 * with '/'.
 *
 * Lock order (take left before right, never the reverse):
 *
 *   fs->tree_lock  ->  branch->ns_lock  ->  fs->lower_lock
 *       ->  branch->cache_lock | fs->files_lock | fs->nodes_lock
 *
 * tree_lock (rwlock, writer-preferring) protects the branch tree: names,
 * parents, children, generations, layer stacks, the preservation chain and
 * the current branch.  Every request that touches a branch's namespace holds
 * it shared for its duration; create, commit, abort and switch hold it
 * exclusive.  Reads and writes through an open file do not take it, except a
 * write that must first copy up or preserve (bfsd_file_prepare_write).
 *
 * ns_lock (rwlock, per branch) serialises namespace changes inside one
 * branch: lookups, getattr and readdir take it shared, mutations exclusive.
 *
 * lower_lock (rwlock) orders main's copy-before-write against branches that
 * resolve through the preservation chain and the base: preservation holds it
 * exclusive from the copy until the base is changed; branch resolution that
 * reaches below its own layers holds it shared.
 *
 * The leaf locks (cache_lock, files_lock, nodes_lock) are never held across
 * slow I/O or while taking another lock, with two exceptions: files_lock is
 * held while open files are re-pointed (an open and a dup3 each), and the
 * FUSE edge re-points a node's files under nodes_lock, which then takes
 * files_lock (nodes_lock -> files_lock; see ll.h).
 */
#ifndef BFSD_H
#define BFSD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define BFSD_MAIN	  "main"
#define BFSD_CTL_NAME	  ".branchfs_ctl"
#define BFSD_STAGE_PREFIX ".branchfs-stage-"
#define BFSD_COPY_PREFIX  ".branchfs-copy-" /* a commit's copy into the base, being built */
#define BFSD_PART_SUFFIX  ".part"	    /* holds a stage being rebuilt in the base */
#define BFSD_NAME_MAX	  255
/* A longer write to a control file is no command (the kernel would cut one
 * past its max_write into several requests). */
#define BFSD_CMD_MAX 4096

/* Mark an unused parameter of a callback. */
#define BFSD_UNUSED __attribute__((unused))
/* Kept out of the frame of a caller that recurses once per tree level. */
#define BFSD_NOINLINE __attribute__((noinline))

struct bfsd_fs;
struct bfsd_branch;

/* ------------------------------------------------------------------ util.c */

/* A growable byte buffer; len excludes the terminating NUL kept after data. */
struct bfsd_buf {
	char *data;
	size_t len;
	size_t cap;
};

int bfsd_buf_add(struct bfsd_buf *b, const void *p, size_t n);
int bfsd_buf_addf(struct bfsd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bfsd_buf_free(struct bfsd_buf *b);

/* Join parent and name into out (PATH_MAX bytes); "" + "x" = "x". */
int bfsd_path_join(char *out, const char *parent, const char *name);
/* Split path into its parent (written to parent, PATH_MAX) and its last name. */
const char *bfsd_path_split(const char *path, char *parent);
/* "." for the root, path otherwise: the form *at() calls accept. */
const char *bfsd_rel(const char *path);
/* True when a is b or lies below b. */
bool bfsd_path_within(const char *a, const char *b);
/* qsort/bsearch comparison of two char * (an array of strings). */
int bfsd_strcmp_ptr(const void *a, const void *b);
uint64_t bfsd_hash(const void *p, size_t n);
/* Tell a worker thread to stop (*stop under lock, cond signalled), and
 * wait for it to end. */
void bfsd_thread_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop, pthread_t thread);
/* Fill out (37 bytes) with a random canonical lowercase UUID. */
int bfsd_uuid(char out[37]);
uint64_t bfsd_now_ns(void);
/* Does a name fit the rules for a user-chosen branch name? 0 or -EINVAL. */
int bfsd_branch_name_valid(const char *name);
/* strerror(err) (negative or positive) with its first letter lowercased, as
 * every message is ("input/output error"); thread-local storage. */
const char *bfsd_strerror(int err);

/* Create every missing directory of path (absolute), mode 0700. */
int bfsd_mkdir_p(const char *path);
/* Write all of buf; -errno on failure. */
int bfsd_write_all(int fd, const void *buf, size_t n);
/* The same; *written says how much went out, on failure too. */
int bfsd_write_all_n(int fd, const void *buf, size_t n, size_t *written);
/* Remove the tree at dirfd/name, not following symlinks. */
int bfsd_rm_rf_at(int dirfd, const char *name);
/* A stream on the directory open at fd, which it takes: NULL with errno
 * set when it fails (fd is closed) or fd < 0 (an open that failed). */
DIR *bfsd_fdopendir(int fd);

enum { BFSD_LOG_ERR, BFSD_LOG_WARN, BFSD_LOG_INFO, BFSD_LOG_DEBUG };
extern int bfsd_log_level;
/* Errors and warnings also go to stderr (the daemon's, until it detaches). */
extern bool bfsd_log_stderr;
void bfsd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define bfsd_err(...)  bfsd_log(BFSD_LOG_ERR, __VA_ARGS__)
#define bfsd_warn(...) bfsd_log(BFSD_LOG_WARN, __VA_ARGS__)
#define bfsd_info(...) bfsd_log(BFSD_LOG_INFO, __VA_ARGS__)
#define bfsd_dbg(...)  bfsd_log(BFSD_LOG_DEBUG, __VA_ARGS__)

/* ----------------------------------------------------------------- layer.c */

enum bfsd_layer_kind {
	BFSD_LAYER_BASE,     /* the base directory: live, no markers */
	BFSD_LAYER_DELTA,    /* a branch layer in storage */
	BFSD_LAYER_PRESERVE, /* main's copy-before-write layer of one epoch */
	BFSD_LAYER_WORK,     /* storage/work, where copies are built */
};

/*
 * One directory tree holding objects at their logical paths.  Storage layers
 * also hold markers in extended attributes named fs->xattr_prefix + key:
 * "wh" on an empty mode-0 regular file makes it a whiteout (name deleted);
 * "opaque" on a directory hides every layer below it; "redirect" on a
 * directory takes its lower content from the logical path stored there (in
 * the namespace of the layers below); "origin" keeps a copied-up object's
 * inode number so st_ino survives copy-up.
 */
/* Multi-linked files by (dev, ino), each with its names (links.c). */
struct bfsd_link_map {
	struct link_entry **b; /* NULL until made */
	size_t cap, n;
};

struct bfsd_layer {
	uint64_t id; /* storage id; 0 for the base and the work area */
	enum bfsd_layer_kind kind;
	int dirfd;  /* O_DIRECTORY fd of the layer root */
	char *path; /* absolute path of the layer root */
	dev_t dev;
	atomic_int refs;	   /* stacks and open files holding the layer */
	atomic_bool dirty;	   /* written since it became a top (or epoch layer) */
	atomic_int_fast64_t bytes; /* file data charged to it (quota.c) */
	atomic_bool scanned;	   /* bytes counted from disk at mount */
	atomic_int root;	   /* enum bfsd_layer_root */
	struct bfsd_fs *fs;
	pthread_mutex_t links_lock; /* a storage layer's own links (links.c) */
	struct bfsd_link_map links; /* links_lock */
	unsigned links_gen;	    /* fs->lower_gen when made */
	bool held_away;		    /* moved into another layer's held directory (commit.c) */
	int stacks;		    /* live stacks holding it, as fold.c counts; tree_lock */
	bool nofold;		    /* fold.c cannot fold it into the layer below; tree_lock */
	bool fold_checked;	    /* fold.c found no redirect in it (it is frozen); tree_lock */
};

/*
 * Whether a storage layer's root directory carries the attributes of the
 * view's root.  A new top does not until its branch first changes something
 * (bfsd_copyup_root): until then the root's attributes come from the first
 * layer below that does, so making a branch copies no attribute.  A root
 * that carries them has an origin marker, which is how a layer read from
 * disk is known (on first use).
 */
enum bfsd_layer_root {
	BFSD_ROOT_UNKNOWN,
	BFSD_ROOT_BELOW,
	BFSD_ROOT_OWN,
};

int bfsd_layer_open(struct bfsd_fs *fs, enum bfsd_layer_kind kind, uint64_t id, const char *path,
		    struct bfsd_layer **out);
/* A new empty storage layer (a spare one when there is one). */
int bfsd_layer_create(struct bfsd_fs *fs, enum bfsd_layer_kind kind, struct bfsd_layer **out);
/* Make spare layer directories up to BFSD_SPARE_LAYERS. */
void bfsd_layer_refill(struct bfsd_fs *fs);
#define BFSD_SPARE_LAYERS 16
struct bfsd_layer *bfsd_layer_get(struct bfsd_layer *l);
/* Drop a reference; the last one sends a storage layer's tree to the trash
 * (unless fs->keep_layers, or a commit kept it: held_away). */
void bfsd_layer_put(struct bfsd_layer *l);
bool bfsd_layer_is_storage(const struct bfsd_layer *l);
/* Whether l's root carries the view root's attributes (always, for the base). */
bool bfsd_layer_rooted(struct bfsd_layer *l);
/* Rename odir/old to l/phys, replacing what is there; a directory may
 * replace a whiteout (atomically, by exchange). */
int bfsd_layer_rename_in(int odir, const char *old, struct bfsd_layer *l, const char *phys);
/* Absolute path of phys inside l into out (PATH_MAX).  Storage layers only:
 * the base is addressed through bfsd_at_open. */
int bfsd_layer_abspath(const struct bfsd_layer *l, const char *phys, char *out);

/*
 * Where to address phys of layer l with *at() calls: the layer's own
 * descriptor and phys (the root as ".") for a storage layer, at no cost.
 * The base is changed behind our back and the kernel follows a symlink in
 * any component but the last, so there the parent of phys is opened
 * without following any symlink and name is its last component.  -ENOTDIR
 * when an ancestor is not a directory (or is a symlink), -ENOENT when one
 * is missing.  name points into phys, which must outlive at; release with
 * bfsd_at_close (idempotent, and safe after a failed open).
 */
struct bfsd_at {
	int fd;
	const char *name;
	bool owned; /* fd was opened for this and is closed with it */
};

int bfsd_at_open(const struct bfsd_layer *l, const char *phys, struct bfsd_at *at);
void bfsd_at_close(struct bfsd_at *at);
/* "/proc/self/fd/<fd>/<name>" into out (PATH_MAX), for l*xattr() calls. */
int bfsd_at_abspath(const struct bfsd_at *at, char *out);
/* chmod of at's object itself, never of a symlink's target (-EOPNOTSUPP
 * for a symlink). */
int bfsd_at_chmod(const struct bfsd_at *at, mode_t mode);
/* lstat of l/phys through bfsd_at_open. */
int bfsd_layer_lstat(const struct bfsd_layer *l, const char *phys, struct stat *st);
/* Open l/phys (flags | O_NOFOLLOW | O_CLOEXEC) through bfsd_at_open. */
int bfsd_layer_openat(const struct bfsd_layer *l, const char *phys, int flags);
bool bfsd_layer_is_empty(struct bfsd_layer *l);
/* "<id>.held" into out (48 bytes): the directory of layers/ holding what a
 * fold took out of layer id's tree (fold.c), which goes with the layer. */
void bfsd_layer_held_name(uint64_t id, char *out);

int bfsd_marker_whiteout_make(struct bfsd_layer *l, const char *phys);
/* Given the stat of l/phys, is it a whiteout? */
bool bfsd_marker_is_whiteout(const struct bfsd_layer *l, const char *phys, const struct stat *st);
int bfsd_marker_set(const struct bfsd_layer *l, const char *phys, const char *key, const void *val,
		    size_t len);
/* Value length, or -errno (-ENODATA when absent). */
int bfsd_marker_get(const struct bfsd_layer *l, const char *phys, const char *key, void *val,
		    size_t size);
int bfsd_marker_del(const struct bfsd_layer *l, const char *phys, const char *key);
/* Directory markers: opaque flag, redirect target ("" for none), origin. */
int bfsd_marker_dir(const struct bfsd_layer *l, const char *phys, bool *opaque, char *redirect,
		    uint64_t *origin);
/* The same, for the entry name of the open directory dirfd of layer l. */
int bfsd_marker_get_at(const struct bfsd_layer *l, int dirfd, const char *name, const char *key,
		       void *val, size_t size);
int bfsd_marker_origin_at(const struct bfsd_layer *l, int dirfd, const char *name,
			  uint64_t *origin);
/* Which markers name (in directory dirfd of storage layer l) carries, in one
 * call; -ENOSYS or -ERANGE when it cannot tell that way. */
#define BFSD_MARK_WH	 1u
#define BFSD_MARK_ORIGIN 2u
int bfsd_marker_list_at(const struct bfsd_layer *l, int dirfd, const char *name,
			unsigned int *marks);
bool bfsd_marker_is_whiteout_at(const struct bfsd_layer *l, int dirfd, const char *name,
				const struct stat *st);
/* 1 and *origin when l/phys has an origin marker, 0 when not, -errno. */
int bfsd_marker_origin(const struct bfsd_layer *l, const char *phys, uint64_t *origin);

/*
 * User xattr names as stored in a storage layer: names that collide with the
 * private prefix are escaped (prefix + "u." + rest).  to_layer returns the
 * stored name; from_layer returns the user's name, or NULL for a private
 * marker that must stay hidden.
 */
const char *bfsd_xattr_to_layer(const struct bfsd_fs *fs, const char *name, char *buf, size_t n);
const char *bfsd_xattr_from_layer(const struct bfsd_fs *fs, const char *name);

/* ----------------------------------------------------------------- stack.c */

int bfsd_stack_count(const struct bfsd_fs *fs, const struct bfsd_branch *b);
struct bfsd_layer *bfsd_stack_at(const struct bfsd_fs *fs, const struct bfsd_branch *b, int idx);
/* The layer b writes into: its top, or the base for main. */
struct bfsd_layer *bfsd_branch_top(const struct bfsd_fs *fs, const struct bfsd_branch *b);

/* --------------------------------------------------------------- resolve.c */

struct bfsd_loc {
	struct bfsd_layer *layer;
	int idx; /* index of layer in the branch's stack */
	char *phys;
};

/*
 * Where a logical path lives in a branch.  Immutable once published in the
 * branch cache; reference counted.  type is the S_IFMT of the object, or 0
 * when the name does not exist (its parent does).
 */
struct bfsd_res {
	atomic_int refs;
	uint64_t hash;
	char *path;
	struct bfsd_res *cnext; /* cache chain; branch->cache_lock */
	uint32_t gen;		/* branch->res_gen at resolution */
	uint32_t lower_gen;	/* fs->lower_gen at resolution */
	mode_t type;
	int attr;	   /* index of the loc that carries the attributes */
	bool top_whiteout; /* absent, with a whiteout in the top layer */
	bool opaque;	   /* dir: its topmost copy hides every layer below */
	uint64_t vino;	   /* raw inode number (origin-preserving), unsalted */
	char *lowpath;	   /* logical path below the top layer, when it differs */
	int nloc;	   /* 1 for non-dirs; every contributing copy for dirs */
	struct bfsd_loc loc[];
};

/* Resolve path in b; *out is referenced (bfsd_res_put).  -ENOENT/-ENOTDIR
 * when an ancestor is missing or not a directory. */
int bfsd_resolve(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		 struct bfsd_res **out);
/* As bfsd_resolve, and *st as bfsd_res_stat gives it when the object is
 * there (from the lstat the resolution took, when it took one); on a
 * failing stat, *out is NULL. */
int bfsd_resolve_stat(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		      struct bfsd_res **out, struct stat *st);
/* As bfsd_resolve, and -ENOENT when the object itself is absent. */
int bfsd_resolve_existing(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			  struct bfsd_res **out);
/* Resolve path in the stack of b from index start down, without the cache. */
int bfsd_resolve_from(struct bfsd_fs *fs, struct bfsd_branch *b, int start, const char *path,
		      struct bfsd_res **out);
void bfsd_res_put(struct bfsd_res *r);
/* lstat of the object's attribute carrier (st_ino not rewritten). */
int bfsd_res_stat(const struct bfsd_res *r, struct stat *st);
/* Logical path of r in the namespace just below the top layer. */
const char *bfsd_res_lowpath(const struct bfsd_res *r);
/* Is the object's topmost copy in b's writable layer? */
bool bfsd_res_in_top(const struct bfsd_fs *fs, const struct bfsd_branch *b,
		     const struct bfsd_res *r);
/* Is the object in b's writable layer and nowhere below? */
bool bfsd_res_top_only(const struct bfsd_fs *fs, const struct bfsd_branch *b,
		       const struct bfsd_res *r);

/* Entries a branch's resolution cache holds (about 180 bytes each) before
 * it is emptied: its share of BFSD_RES_CACHE_TOTAL among the live
 * branches, within [BFSD_RES_CACHE_MIN, BFSD_RES_CACHE_MAX]. */
#define BFSD_RES_CACHE_MIN   (1 << 16)
#define BFSD_RES_CACHE_MAX   (1 << 18)
#define BFSD_RES_CACHE_TOTAL (1 << 20)
size_t bfsd_res_cache_limit(const struct bfsd_fs *fs);

void bfsd_cache_init(struct bfsd_branch *b);
void bfsd_cache_free(struct bfsd_branch *b);
/* Forget one cached path. */
void bfsd_cache_drop(struct bfsd_branch *b, const char *path);
/* Forget everything cached for b (lazily: entries become invalid). */
void bfsd_cache_flush(struct bfsd_branch *b);
/* Free every cached entry of b now. */
void bfsd_cache_clear(struct bfsd_branch *b);
/* b is gone: its entries are freed by the reclaimer thread (or now). */
void bfsd_cache_discard(struct bfsd_fs *fs, struct bfsd_branch *b);
/* Free what discards handed over (reclaimer thread, and at close). */
void bfsd_cache_free_garbage(struct bfsd_fs *fs);
/* Forget everything resolved through the lower layers, in every branch. */
void bfsd_cache_lower_changed(struct bfsd_fs *fs);

/* ---------------------------------------------------------------- copyup.c */

/* Copy regular file data: FICLONE, else copy_file_range over data
 * segments (holes stay holes), else read/write. */
int bfsd_copy_data(int in, int out, off_t len);
#define BFSD_XA_SRC_LAYER 1 /* src is in a storage layer (unescape, skip markers) */
#define BFSD_XA_DST_LAYER 2 /* dst is in a storage layer (escape) */
#define BFSD_XA_SYNC	  4 /* also remove dst's visible xattrs that src lacks */
int bfsd_copy_xattrs(struct bfsd_fs *fs, const char *src, const char *dst, int flags);
/* Do a/pa and b/pb show the same extended attributes to users? */
bool bfsd_xattrs_equal(struct bfsd_fs *fs, struct bfsd_layer *a, const char *pa,
		       struct bfsd_layer *b, const char *pb);
/* Give dstl/dphys the xattrs, owner, mode and times of l/phys (and, with
 * origin, an origin marker so st_ino is kept). */
int bfsd_copy_attrs(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
		    struct bfsd_layer *dstl, const char *dphys, bool origin,
		    const struct timespec *times);
/* Copy one object (file, symlink, node, or an empty directory with the
 * attributes of src) from l/phys to dstl/dphys: built aside, renamed into
 * place.  data=false makes an empty regular file; origin!=0 is recorded. */
int bfsd_copy_object(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
		     struct bfsd_layer *dstl, const char *dphys, bool data, uint64_t origin);
/* The same, -ENOENT unless the object is of type want (S_IFMT; 0: any): a
 * path resolved earlier may name something else in the base by now. */
int bfsd_copy_object_as(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
			struct bfsd_layer *dstl, const char *dphys, bool data, uint64_t origin,
			mode_t want);
/* Give b's top layer's root the view root's attributes (enum
 * bfsd_layer_root), before the branch's first change. */
int bfsd_copyup_root(struct bfsd_fs *fs, struct bfsd_branch *b);
/* Make sure every ancestor directory of path exists in b's top layer (and
 * its root has the root's attributes). */
int bfsd_copyup_parents(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path);
/* Bring path into b's top layer (file data, or a directory container). */
int bfsd_copyup(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, bool data);
/* -------------------------------------------------------------- copytree.c */

/* Copy the tree at path, as the stack of b from index start shows it, to
 * dstl/dphys.  Storage targets are built aside and renamed in; a base
 * target is built in place (the caller names a temporary). */
int bfsd_copy_tree(struct bfsd_fs *fs, struct bfsd_branch *b, int start, const char *path,
		   struct bfsd_layer *dstl, const char *dphys);

/* -------------------------------------------------------------- preserve.c */

enum bfsd_change {
	BFSD_CH_MODIFY, /* data or attributes of an existing object change */
	BFSD_CH_REMOVE, /* the name goes away (unlink, rmdir) */
	BFSD_CH_CREATE, /* a name appears, or its object is replaced */
	BFSD_CH_MOVE,	/* the object moves to another name (rename source) */
	BFSD_CH_DROP,	/* the whole tree at the name goes away */
};

/* Before main changes path in the base: keep what live branches still see.
 * 1 when the object itself was moved out of the base, 0, or -errno. */
int bfsd_preserve(struct bfsd_fs *fs, const char *path, enum bfsd_change what);
/* Is preservation needed at all right now (a live branch exists)? */
bool bfsd_preserve_active(struct bfsd_fs *fs);
/* Append l to the preservation chain (loading). */
int bfsd_preserve_push(struct bfsd_fs *fs, struct bfsd_layer *l);
/* Epoch for a new child of main: a new layer when the newest holds anything
 * (*made says so). */
int bfsd_epoch_snapshot(struct bfsd_fs *fs, uint64_t *epoch, bool *made);
/* Undo the snapshot that made the newest layer, before anything used it
 * (tree_lock exclusive since): the creation it was for failed. */
void bfsd_epoch_unsnapshot(struct bfsd_fs *fs);
/* Drop preservation layers no live branch needs any more: recorded in the
 * log first, then sent to the trash. */
void bfsd_epoch_release(struct bfsd_fs *fs);

/* ----------------------------------------------------------------- quota.c */

/* A set of inodes, each counted once. */
struct bfsd_inoset {
	uint64_t *v;
	size_t cap, n;
};

/* Is a quota being enforced? */
bool bfsd_quota_on(const struct bfsd_fs *fs);
/* Charge delta bytes (negative: give back) to storage layer l; -ENOSPC when
 * growth would pass the quota (nothing charged then). */
int bfsd_quota_charge(struct bfsd_fs *fs, struct bfsd_layer *l, int64_t delta);
/* While on, this thread's charges are counted but never refused. */
void bfsd_quota_force(bool on);
/* l is being freed: its whole total goes back. */
void bfsd_quota_layer_gone(struct bfsd_fs *fs, struct bfsd_layer *l);
/* Count l's data from disk (at mount, with a quota). */
void bfsd_quota_scan(struct bfsd_fs *fs, struct bfsd_layer *l);
/* Data bytes of the tree at dirfd/name, each inode once. */
int64_t bfsd_quota_tree_bytes(int dirfd, const char *name);
/* A commit moved the object st from layer from to layer to (NULL or the
 * base: out of storage); each inode moves once per commit. */
void bfsd_quota_move(struct bfsd_fs *fs, struct bfsd_layer *from, struct bfsd_layer *to,
		     const struct stat *st);
void bfsd_quota_moves_done(struct bfsd_fs *fs);
/* A fold moved everything of from into to: so do its bytes. */
void bfsd_quota_fold(struct bfsd_fs *fs, struct bfsd_layer *from, struct bfsd_layer *to);
/* "10G", "512M", "4096": bytes (K/M/G/T are powers of 1024). */
int bfsd_quota_parse(const char *s, int64_t *out);

/* ----------------------------------------------------------------- links.c */

/* Build the map now if it is not yet: a walk of the whole base, for a
 * caller about to need it to do before taking locks others wait on. */
void bfsd_links_prepare(struct bfsd_fs *fs);
/* The base paths that still name the multi-linked inode (dev, ino); the
 * map is built on first use.  Free with bfsd_links_free. */
int bfsd_links_names(struct bfsd_fs *fs, dev_t dev, ino_t ino, char ***out, size_t *n);
void bfsd_links_free(char **paths, size_t n);
/* The directories at or below dir holding a known name of a file with a
 * name outside them (the map is built on first use): moving one of them
 * away whole would leave the two names one object in two layers.  Sorted
 * and unique, for bfsd_links_split_has; free with bfsd_links_free.
 * 0 or -ENOMEM. */
int bfsd_links_split_dirs(struct bfsd_fs *fs, const char *dir, char ***out, size_t *n);
bool bfsd_links_split_has(char *const *dirs, size_t n, const char *dir);
/* Whether every name of (dev, ino) is in preservation layer `layer`
 * already (set once preserve_links has put them there): later changes of
 * the file in that epoch need not look at its names again. */
bool bfsd_links_kept(struct bfsd_fs *fs, dev_t dev, ino_t ino, uint64_t layer);
void bfsd_links_set_kept(struct bfsd_fs *fs, dev_t dev, ino_t ino, uint64_t layer);
/* Main's changes to the base, kept in the map (no-ops before it exists).
 * was, fwas, twas: the lstat of what was at path, from and to before the
 * change (st_mode 0: nothing), so that a file's change looks at its own
 * entry only; NULL (not known) or a directory looks at every name. */
void bfsd_links_add(struct bfsd_fs *fs, const char *path, const struct stat *st);
void bfsd_links_forget(struct bfsd_fs *fs, const char *path, const struct stat *was);
void bfsd_links_rename(struct bfsd_fs *fs, const char *from, const char *to, bool exchange,
		       const struct stat *fwas, const struct stat *twas);
void bfsd_links_free_all(struct bfsd_fs *fs);
/* Paths in storage layer l that name (dev, ino), from a map of l made on
 * first need.  Free with bfsd_links_free. */
int bfsd_layer_link_names(struct bfsd_layer *l, dev_t dev, ino_t ino, char ***out, size_t *n);
/* Free l's map (its last reference is gone). */
void bfsd_layer_links_free(struct bfsd_layer *l);
/* Rewrite names, paths in the namespace of layer idx of b's stack, to the
 * paths b shows them at: a directory moved in a layer above shows what
 * was below its old path (its redirect) under its new one.  A name no
 * redirect covers stays; callers check each result by resolving it. */
void bfsd_links_map_up(struct bfsd_fs *fs, struct bfsd_branch *b, int idx, char **names, size_t n);
/* Free what bfsd_links_map_up keeps for b. */
void bfsd_links_moves_free(struct bfsd_branch *b);

/* ------------------------------------------------------------------ file.c */

/* An open regular file: what a FUSE file handle points to. */
struct bfsd_file {
	atomic_int refs; /* the FUSE handle's, and the edge's while it uses it */
	int fd;
	int flags;
	struct bfsd_branch *branch; /* referenced */
	struct bfsd_layer *layer;   /* holding the object; referenced; files_lock */
	dev_t dev;		    /* of the underlying object; files_lock */
	ino_t ino;
	uint64_t write_epoch;	     /* branch's write epoch when last prepared */
	bool base;		     /* opened in main */
	struct bfsd_file *next_same; /* files on the same (dev, ino); files_lock */
	struct bfsd_file **pprev_same;
	/* The FUSE edge's list of the open files of one kernel node (ll.h);
	 * mount->nodes_lock. */
	struct bfsd_file *node_next;
};

struct bfsd_cred {
	uid_t uid;
	gid_t gid;
	mode_t umask; /* the caller's: applied unless a default ACL decides */
};

int bfsd_file_open(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, int flags,
		   struct bfsd_file **out);
int bfsd_file_create(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, int flags,
		     mode_t mode, const struct bfsd_cred *cred, struct bfsd_file **out,
		     struct stat *st);
struct bfsd_file *bfsd_file_get(struct bfsd_file *f);
/* Drop a reference; the last one closes f. */
void bfsd_file_close(struct bfsd_fs *fs, struct bfsd_file *f);
/* Open for reading and writing: what a process can map shared and
 * writable (counted in its branch's rdwr_files). */
bool bfsd_file_rdwr(const struct bfsd_file *f);
/* At exit: close the files the kernel never released. */
void bfsd_files_close_all(struct bfsd_fs *fs);
/* pwrite through f, charging growth to the quota; bytes written or -errno. */
ssize_t bfsd_file_write(struct bfsd_fs *fs, struct bfsd_file *f, const void *buf, size_t size,
			off_t off);
/* fallocate / ftruncate through f, with the quota. */
int bfsd_file_fallocate(struct bfsd_fs *fs, struct bfsd_file *f, int mode, off_t off, off_t len);
int bfsd_file_truncate(struct bfsd_fs *fs, struct bfsd_file *f, off_t size);
/* Truncate the object at (in layer l) to size, with the quota. */
int bfsd_truncate_at(struct bfsd_fs *fs, struct bfsd_layer *l, const struct bfsd_at *at,
		     off_t size);
/* Must the next write copy up or preserve first?  Call under the branch's
 * write_gate held shared. */
bool bfsd_file_needs_prepare(struct bfsd_fs *fs, struct bfsd_file *f);
/* Copy up (branch) or preserve (main) path before writing through f.  Takes
 * the request locks itself.  path NULL: no name shows f's object any more
 * (unlinked, renamed over); a branch's file in a layer it no longer owns
 * gets a private copy, as a deleted file on a disk. */
int bfsd_file_prepare_write(struct bfsd_fs *fs, struct bfsd_file *f, const char *path);
/* setattr through f, whose object no name shows any more. */
int bfsd_file_setattr(struct bfsd_fs *fs, struct bfsd_file *f, const struct stat *attr, int to_set,
		      struct stat *st);
/* Point f at l/phys (what its branch shows at f's name after a commit
 * replaced the object there), opened with f's flags. */
int bfsd_file_repoint(struct bfsd_fs *fs, struct bfsd_file *f, struct bfsd_layer *l,
		      const char *phys);
/* Has main a file open for writing on the object at (at), or below it
 * when it is a directory?  Such an object must stay in the base when the
 * base loses it (the writer keeps writing to it, never to a snapshot). */
bool bfsd_files_main_writing(struct bfsd_fs *fs, const struct bfsd_at *at);
/* Point every open file of branch b (of every branch but main when b is
 * NULL) on (dev, ino) at l/phys instead. */
void bfsd_files_retarget(struct bfsd_fs *fs, struct bfsd_branch *b, dev_t dev, ino_t ino,
			 struct bfsd_layer *l, const char *phys);
/* Has any branch a file open on (dev, ino)? */
bool bfsd_files_open_on(struct bfsd_fs *fs, dev_t dev, ino_t ino);
/* Every open file in layer from is in layer to now (fold.c moved its
 * object there). */
void bfsd_files_relayer(struct bfsd_fs *fs, struct bfsd_layer *from, struct bfsd_layer *to);

/* ------------------------------------------------------------------ view.c */

int bfsd_view_parent(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		     struct bfsd_res **out);
/* Does a layer below b's top have name in the directory parent? */
bool bfsd_view_lower_has(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *parent,
			 const char *name);
/* Must removing path from b's top leave a whiteout? */
bool bfsd_view_need_whiteout(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path);
/* stat of path as b shows it, st_ino rewritten to the view's number. */
int bfsd_view_stat(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, struct stat *st);
/* The same, plus the identity of the underlying object (*dev, *ino). */
int bfsd_view_stat_ident(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			 struct stat *st, dev_t *dev, ino_t *ino);
void bfsd_view_fix_stat(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r,
			struct stat *st);
/* Create a regular file; *fd is opened with flags. */
int bfsd_view_create(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, int flags,
		     mode_t mode, const struct bfsd_cred *cred, int *fd, struct stat *st);
int bfsd_view_mkdir(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, mode_t mode,
		    const struct bfsd_cred *cred, struct stat *st);
int bfsd_view_mknod(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, mode_t mode,
		    dev_t rdev, const struct bfsd_cred *cred, struct stat *st);
int bfsd_view_symlink(struct bfsd_fs *fs, struct bfsd_branch *b, const char *target,
		      const char *path, const struct bfsd_cred *cred, struct stat *st);
int bfsd_view_link(struct bfsd_fs *fs, struct bfsd_branch *b, const char *oldpath,
		   const char *newpath, struct stat *st);
int bfsd_view_unlink(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path);
int bfsd_view_rmdir(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path);
/* Is the directory r empty as b shows it? 1 yes, 0 no, -errno. */
int bfsd_view_dir_empty(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r);
/* Remove whatever b shows at path, recursively; absent is fine. */
int bfsd_view_remove_tree(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path);

/* ---------------------------------------------------------------- rename.c */

int bfsd_view_rename(struct bfsd_fs *fs, struct bfsd_branch *b, const char *from, const char *to,
		     unsigned int flags);

/* ------------------------------------------------------------------ attr.c */

/* Attribute changes, as FUSE setattr asks for them. */
#define BFSD_SET_MODE	   (1 << 0)
#define BFSD_SET_UID	   (1 << 1)
#define BFSD_SET_GID	   (1 << 2)
#define BFSD_SET_SIZE	   (1 << 3)
#define BFSD_SET_ATIME	   (1 << 4)
#define BFSD_SET_MTIME	   (1 << 5)
#define BFSD_SET_ATIME_NOW (1 << 7)
#define BFSD_SET_MTIME_NOW (1 << 8)

/* ts for utimensat from the time bits of to_set (UTIME_OMIT for the rest);
 * false when neither time is to be set. */
bool bfsd_setattr_times(const struct stat *attr, int to_set, struct timespec ts[2]);

int bfsd_view_setattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		      const struct stat *attr, int to_set, struct bfsd_file *f, struct stat *st);
int bfsd_view_readlink(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, char *buf,
		       size_t size);
ssize_t bfsd_view_getxattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			   const char *name, void *buf, size_t size);
ssize_t bfsd_view_listxattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, char *buf,
			    size_t size);
int bfsd_view_setxattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		       const char *name, const void *val, size_t size, int flags);
int bfsd_view_removexattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			  const char *name);
/* Move the storage object l/phys to path in b, replacing what is there;
 * done already (source gone) is success. */
int bfsd_view_put(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, struct bfsd_layer *l,
		  const char *phys);
/* Make path a directory in b (replacing a non-directory), shaped like the
 * storage directory l/phys. */
int bfsd_view_ensure_dir(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			 struct bfsd_layer *l, const char *phys);
/* Give the directory path in b the attributes of the storage dir l/phys
 * (its times, or times[2] when not NULL). */
int bfsd_view_copy_dir_attrs(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			     struct bfsd_layer *l, const char *phys, const struct timespec *times);

/* --------------------------------------------------------------- readdir.c */

struct bfsd_dirent {
	const char *name;
	uint64_t hash;	       /* bfsd_hash of name */
	const struct stat *st; /* the listed copy's stat at listing time, or NULL */
	uint64_t vino;	       /* raw, unsalted */
	mode_t type;	       /* S_IFMT; 0 for a whiteout (BFSD_LIST_WHITEOUTS) */
	int loc;	       /* index into the directory's res->loc */
	bool known;	       /* the list hint knew it */
};

/* Names and stats live in the list's own blocks, freed with it. */
struct bfsd_dirmem;
struct bfsd_dirlist {
	size_t n, cap;
	struct bfsd_dirent *e;
	struct bfsd_dirmem *mem;
};

#define BFSD_LIST_WHITEOUTS 1 /* list whiteouts too, with type 0 */

/* Merged listing of the directory r (no "." / ".."), from the copies of
 * stack index below max_idx, top copy first. */
int bfsd_dir_list(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r, int max_idx,
		  int flags, struct bfsd_dirlist *out);
/*
 * What the caller already knows of listed names: known() marks known, with
 * the raw number in vino, each entry of e[0..n) it knows to be live in the
 * view as an object of its type (e->type, from the dirent; 0 when the
 * dirent had none), so the listing asks the storage nothing about it.
 * Wrong answers list whiteouts: only the FUSE edge's exact name table may
 * give them.
 */
struct bfsd_list_hint {
	void (*known)(void *arg, struct bfsd_dirent *e, size_t n);
	void *arg;
};
int bfsd_dir_list_hinted(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r,
			 int max_idx, int flags, const struct bfsd_list_hint *hint,
			 struct bfsd_dirlist *out);
/* Append an entry named name[0..len) (type 0, no stat); NULL on ENOMEM. */
struct bfsd_dirent *bfsd_dirlist_add(struct bfsd_dirlist *l, const char *name, size_t len);
void bfsd_dirlist_free(struct bfsd_dirlist *l);

/* --------------------------------------------------------------- command.c */

enum bfsd_cmd_op { BFSD_CMD_CREATE, BFSD_CMD_COMMIT, BFSD_CMD_ABORT, BFSD_CMD_SWITCH };

struct bfsd_cmd {
	enum bfsd_cmd_op op;
	bool has_arg;
	char arg[BFSD_NAME_MAX + 1];
};

/* Parse one control-file text command; -EINVAL when it is not one. */
int bfsd_cmd_parse(const char *buf, size_t len, struct bfsd_cmd *out);

/* ---------------------------------------------------------------- branch.c */

struct bfsd_branch {
	uint64_t id; /* 0 for main */
	char *name;
	struct bfsd_branch *parent;   /* tree_lock */
	struct bfsd_branch *children; /* first child; tree_lock */
	struct bfsd_branch *sibling;  /* next sibling; tree_lock */
	struct bfsd_branch *hnext;    /* name hash chain; tree_lock */
	uint64_t gen;		      /* commits into this branch */
	uint64_t parent_gen;	      /* parent's gen when created */
	uint64_t epoch;		      /* main epoch whose chain it sees */
	uint64_t created_ns;	      /* wall clock, for listings */
	int nlayers;		      /* explicit layers, top first; tree_lock */
	int nown;		      /* how many of them hold its own changes */
	struct bfsd_layer **layers;
	bool dead;			  /* committed or aborted; tree_lock */
	atomic_int refs;		  /* the tree, open files and FUSE nodes */
	atomic_uint_fast64_t write_epoch; /* bumped when writers must copy up again */
	pthread_rwlock_t write_gate;	  /* writes shared, freezing exclusive */
	pthread_rwlock_t ns_lock;
	pthread_mutex_t cache_lock;
	atomic_uint res_gen;
	atomic_uint changes; /* bumped by every change to the namespace */
	/* Its files open for reading and writing: the only ones a process can
	 * map shared and writable (see ctl.c, flush_mappings). */
	atomic_int rdwr_files;
	struct bfsd_res **cache; /* by path hash; cache_lock */
	size_t cache_cap, cache_n;
	pthread_mutex_t moves_lock;
	struct bfsd_moves *moves; /* its layers' moved directories (links.c) */
};

struct bfsd_branch *bfsd_branch_get(struct bfsd_branch *b);
void bfsd_branch_put(struct bfsd_branch *b);
int bfsd_branch_alloc(struct bfsd_fs *fs, uint64_t id, const char *name, struct bfsd_branch **out);
/* Link b into the name hash and its parent's children. */
void bfsd_branch_link(struct bfsd_fs *fs, struct bfsd_branch *b);
/* A live branch by name ("main" included). */
struct bfsd_branch *bfsd_branch_find(struct bfsd_fs *fs, const char *name);
struct bfsd_branch *bfsd_branch_find_id(struct bfsd_fs *fs, uint64_t id);
bool bfsd_branch_is_stale(const struct bfsd_branch *b);
/* Live branches other than main. */
int bfsd_branch_count(const struct bfsd_fs *fs);
/* fn on each live branch but main, parents before children. */
void bfsd_branch_each(struct bfsd_fs *fs, void (*fn)(struct bfsd_branch *, void *), void *arg);
/* Create a child of parent named name (NULL: branch-<uuid>), its name into
 * name_out (BFSD_NAME_MAX + 1).  -EINVAL bad name, -EEXIST taken. */
int bfsd_branch_create(struct bfsd_fs *fs, struct bfsd_branch *parent, const char *name,
		       char *name_out);
/* Discard b and all its descendants, no questions asked. */
void bfsd_branch_discard(struct bfsd_fs *fs, struct bfsd_branch *b);
/* Discard stale children that have none of their own; -ENOTEMPTY when any
 * child remains (a live one, or a stale one with children). */
int bfsd_branch_prune_children(struct bfsd_fs *fs, struct bfsd_branch *b);
/* Abort b: -EPERM for main, -ENOTEMPTY for live children. */
int bfsd_branch_abort(struct bfsd_fs *fs, struct bfsd_branch *b);

/* ------------------------------------------------------------------ fold.c */

/* Fold adjacent frozen layers that the same stacks hold, one pair at a time
 * under tree_lock exclusive (taken here); how many pairs were folded. */
int bfsd_fold(struct bfsd_fs *fs);

/* ---------------------------------------------------------------- commit.c */

enum bfsd_op_kind {
	BFSD_OP_STAGE_OUT = 'O', /* move the parent's source dir to a stage name */
	BFSD_OP_DEL = 'D',	 /* remove dst in the parent */
	BFSD_OP_STAGE_IN = 'I',	 /* move the stage name to dst */
	BFSD_OP_MKDIR = 'M',	 /* make dst a directory */
	BFSD_OP_PUT = 'P',	 /* move a stored object to dst */
	BFSD_OP_ATTR = 'A',	 /* give dir dst the attributes of a stored dir */
};

struct bfsd_op {
	enum bfsd_op_kind kind;
	uint64_t layer;		  /* storage layer of src (PUT, MKDIR, ATTR) */
	char *src;		  /* phys path in that layer, or the parent's path (STAGE_OUT) */
	char *dst;		  /* logical path in the parent */
	int stage;		  /* stage number (STAGE_*) */
	struct timespec times[2]; /* ATTR: atime and mtime to give dst */
};

struct bfsd_oplist {
	size_t n, cap;
	struct bfsd_op *op;
};

void bfsd_oplist_free(struct bfsd_oplist *l);
int bfsd_oplist_add(struct bfsd_oplist *l, enum bfsd_op_kind kind, uint64_t layer, const char *src,
		    const char *dst, int stage);
/* The changes of b against the snapshot of its parent, as ops. */
int bfsd_commit_plan(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_oplist *ops);
/* Apply ops[*next..] to b's parent, advancing *next; done(arg, i) after
 * each.  The storage quota does not stop a commit half-way: what it
 * preserves is charged but not refused. */
int bfsd_commit_apply(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_oplist *ops,
		      size_t *next, int (*done)(void *, size_t), void *arg);
/* Commit b into its parent (tree_lock exclusive): -EPERM main, -ESTALE lost
 * the race, -ENOTEMPTY live children (or a stale child with children of its
 * own).  With changed, the applied ops (the parent paths touched) are
 * handed to the caller to free.  When an op or the commit record fails
 * after the plan is journaled, the commit is left pending (see
 * bfsd_commit_resume) and its error returned. */
int bfsd_commit(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_oplist *changed);
/* Make b's commit, stopped at ops[next], the pending one (takes ops). */
void bfsd_commit_set_pending(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_oplist *ops,
			     size_t next);
/* Before the pending commit found at mount goes on: remove what the crash
 * left of the copy into the base it was building. */
void bfsd_commit_sweep_copies(struct bfsd_fs *fs);
/* Finish the pending commit, if any (tree_lock exclusive): 0 once none is
 * left, its error while it still fails.  With changed, as bfsd_commit. */
int bfsd_commit_resume(struct bfsd_fs *fs, struct bfsd_oplist *changed);
/* Record an applied commit: bump the parent's generation, drop b.  When
 * the record cannot be written (or, with durable, what the ops moved cannot
 * be synced) nothing changes and the error is returned: the caller keeps
 * the commit pending and the journal stays. */
int bfsd_commit_finish(struct bfsd_fs *fs, struct bfsd_branch *b);

/* --------------------------------------------------------------- journal.c */

int bfsd_journal_begin(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_oplist *ops);
int bfsd_journal_done(void *fs, size_t i);
int bfsd_journal_end(struct bfsd_fs *fs);
/* At mount: finish a commit a crash interrupted. */
int bfsd_journal_recover(struct bfsd_fs *fs);

/* ----------------------------------------------------------- store.c load.c */

uint32_t bfsd_store_sum(const char *p, size_t n);
int bfsd_store_load(struct bfsd_fs *fs);
int bfsd_store_save_create(struct bfsd_fs *fs, struct bfsd_branch *parent,
			   struct bfsd_branch *child);
int bfsd_store_save_gone(struct bfsd_fs *fs, struct bfsd_branch *b);
int bfsd_store_save_commit(struct bfsd_fs *fs, struct bfsd_branch *b);
int bfsd_store_save_fs(struct bfsd_fs *fs);
/* The B lines of the n branches v, as one transaction. */
int bfsd_store_save_branches(struct bfsd_fs *fs, struct bfsd_branch *const *v, int n);
/* The F record as it is once the oldest drop preservation layers are gone. */
int bfsd_store_save_pres(struct bfsd_fs *fs, size_t drop);
/* Rewrite the log as one snapshot of the current state. */
int bfsd_store_compact(struct bfsd_fs *fs);

/* -------------------------------------------------------------------- fs.c */

struct bfsd_fs {
	char *base_path;
	char *storage_path;
	int storage_fd;
	int work_fd;  /* storage/work: copies under construction */
	int trash_fd; /* storage/trash: trees waiting for the reclaimer */
	int layers_fd;
	int log_fd;
	int lock_fd;
	int journal_fd;
	/* A commit stopped part-way by a failed op: its branch and plan.  It
	 * is finished before any other branch operation and never dropped. */
	struct bfsd_branch *pending;
	struct bfsd_oplist pending_ops;
	struct bfsd_branch *committing; /* while its ops apply */
	/* When an op had to make again directories the parent had removed
	 * above it (attr.c, commit.c): the directories above that op, for the
	 * caller to invalidate with the ops. */
	struct bfsd_oplist remade;
	size_t pending_next;
	dev_t base_dev;
	dev_t storage_dev;
	bool is_root;
	char xattr_prefix[32]; /* "trusted.branchfs." as root, else "user.branchfs." */
	size_t xattr_prefix_len;
	bool keep;			/* keep branches at unmount */
	bool keep_layers;		/* shutting down: never trash layers */
	bool durable;			/* fsync the journal and log at commit */
	int64_t quota;			/* --max-storage bytes; 0: none */
	bool quota_armed;		/* layers counted: enforce */
	atomic_int_fast64_t used;	/* bytes charged to every storage layer */
	struct bfsd_inoset moved;	/* inodes a running commit moved (tree_lock) */
	pthread_mutex_t size_locks[64]; /* serialise size changes per inode */

	pthread_rwlock_t tree_lock;
	struct bfsd_layer *base;
	struct bfsd_layer *work;
	struct bfsd_branch *main;
	struct bfsd_branch *current; /* tree_lock */
	struct bfsd_branch **bhash;  /* by name; tree_lock */
	int nbranches;
	uint64_t next_branch_id;
	pthread_mutex_t spare_lock; /* next_layer_id and the spares (leaf) */
	pthread_mutex_t root_lock;  /* a top's root taking its attributes */
	uint64_t next_layer_id;
	uint64_t spare[BFSD_SPARE_LAYERS];
	int nspare, spare_making; /* made, being made */
	atomic_uint_fast64_t tmp_seq;

	/* Preservation chain: pres[i] is the layer of epoch pres_first + i. */
	struct bfsd_layer **pres;
	size_t npres, pres_cap;
	uint64_t pres_first;
	uint64_t next_epoch;
	pthread_rwlock_t lower_lock;
	atomic_uint lower_gen;
	atomic_uint_fast64_t main_write_epoch;

	pthread_mutex_t links_lock;
	struct bfsd_link_map links; /* base hard links (links.c); links_lock */

	pthread_mutex_t files_lock;
	struct bfsd_file **files; /* open files by (dev, ino) */
	atomic_int main_writers;  /* main's files open for writing */

	/* Told of every copy-up (the FUSE edge drops cached attributes:
	 * a directory's copy has its own ctime and link count). */
	void (*on_copyup)(void *ctx, struct bfsd_branch *b, const char *path,
			  const struct stat *copy);
	/* Told when preservation gave the multi-linked base file (dev, ino)
	 * a copy that every branch now shows (the FUSE edge finds the
	 * branches' nodes by the copy's identity from then on). */
	void (*on_preserved)(void *ctx, struct bfsd_fs *fs, dev_t dev, ino_t ino,
			     const struct stat *copy);
	void *hook_ctx;

	pthread_t reclaimer;
	bool reclaimer_running;
	pthread_mutex_t reclaim_lock;
	pthread_cond_t reclaim_cond;
	bool reclaim_stop;
	int reclaim_pending;
	atomic_bool fold_wanted;      /* layers may be foldable (fold.c) since the last fold */
	struct bfsd_garbage *garbage; /* caches of gone branches; reclaim_lock */
	uint64_t *doomed;	      /* layers nothing uses, still in layers/; reclaim_lock */
	size_t ndoomed, doomed_cap;
};

struct bfsd_options {
	const char *base;
	const char *storage;
	bool keep;
	bool durable;
	int64_t quota; /* bytes; 0: none */
};

/* Set up the core on base and storage (no mount): load the tree, finish
 * an interrupted commit. */
int bfsd_fs_open(const struct bfsd_options *opt, struct bfsd_fs **out);
/* The mount ended after serving: discard every branch unless fs->keep (or
 * a commit is unfinished) and make main current for the next mount. */
void bfsd_fs_unmounted(struct bfsd_fs *fs);
/* Tear down, leaving storage as it is: what was in the tree is kept (a
 * daemon that failed to start, or a crash, loses nothing). */
void bfsd_fs_close(struct bfsd_fs *fs);
/* A unique temporary name (NAME_MAX + 1 bytes). */
void bfsd_fs_tmpname(struct bfsd_fs *fs, char *out);
/* The same for a copy b's commit builds in the base, named after b
 * (BFSD_COPY_PREFIX) so that a mount finishing the commit finds it. */
void bfsd_fs_copyname(struct bfsd_fs *fs, const struct bfsd_branch *b, char *out);
/* Raw inode number of an object with stat st (no origin) in layer l. */
uint64_t bfsd_fs_vino(const struct bfsd_fs *fs, const struct bfsd_layer *l, const struct stat *st);
/* Inode number shown in branch b for raw number vino. */
uint64_t bfsd_fs_salt(const struct bfsd_branch *b, uint64_t vino);
int bfsd_fs_switch(struct bfsd_fs *fs, struct bfsd_branch *b);
/* Locks of one request on branch b: tree shared, b's namespace shared or
 * exclusive, and the lower layers shared for a branch other than main. */
void bfsd_lock_op(struct bfsd_fs *fs, struct bfsd_branch *b, bool excl);
void bfsd_unlock_op(struct bfsd_fs *fs, struct bfsd_branch *b);
/* The same without tree_lock, for a caller that holds it already. */
void bfsd_lock_ns(struct bfsd_fs *fs, struct bfsd_branch *b, bool excl);
void bfsd_unlock_ns(struct bfsd_fs *fs, struct bfsd_branch *b);
/* A storage layer nothing uses any more goes to the trash: handed over to
 * be moved later (bfsd_store_tidy, the reclaimer) when the reclaimer runs,
 * moved now otherwise. */
int bfsd_store_trash_layer(struct bfsd_fs *fs, uint64_t id);
/* Layer id's held directory (what folds took out of it), made when
 * missing: an open descriptor, or -errno. */
int bfsd_store_open_held(struct bfsd_fs *fs, uint64_t id);
/* Layer id's held directory, when it has one, moves into layer keeper's:
 * 0 or -errno. */
int bfsd_store_hand_held(struct bfsd_fs *fs, uint64_t id, uint64_t keeper);
/* Storage layer id, whose inode numbers objects moved into layer keeper
 * may name (commit.c), goes into keeper's held directory with its own held
 * directory: 0, or -errno (then it may be where it was). */
int bfsd_store_hold_layer(struct bfsd_fs *fs, uint64_t id, uint64_t keeper);
/* After a control request has replied, in its thread: fold layers when a
 * change of the tree may have made some foldable, refill the spare layers
 * and move the layers handed over to the trash. */
void bfsd_store_tidy(struct bfsd_fs *fs);
void bfsd_store_wake_reclaimer(struct bfsd_fs *fs);
/* Empty the trash now. */
void bfsd_store_reclaim(struct bfsd_fs *fs);
int bfsd_store_start_reclaimer(struct bfsd_fs *fs);
void bfsd_store_stop_reclaimer(struct bfsd_fs *fs);

/* ----------------------------------------------------------------- fault.c */

#ifdef BFSD_FAULT_INJECTION
/* Test builds: die here when BRANCHFSD_FAULT names this point and count. */
void bfsd_fault_point(struct bfsd_fs *fs, const char *name);
/* The same, and -errno when BRANCHFSD_FAULT names this point, count and
 * an error ("name:N:ENOSPC"); 0 otherwise.  Always 0 in other builds. */
int bfsd_fault_fail(struct bfsd_fs *fs, const char *name);
#else
#define bfsd_fault_point(fs, name) ((void)(fs), (void)(name))
#define bfsd_fault_fail(fs, name)  ((void)(fs), (void)(name), 0)
#endif

#endif
