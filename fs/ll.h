/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfsd FUSE edge: kernel nodes, cache invalidation, control files and
 * the low-level handlers.  Only the files declared here include libfuse.
 *
 * Kernel nodes.  A node is what a FUSE node id names: the mount root, an
 * @NAME directory, a control file, or an object of a branch's view.  View
 * nodes are keyed by (parent, name, branch) and remember whether they were
 * reached through the mount root (which shows the current branch) or
 * through @NAME; the two are distinct kernel inodes ("twins") for the same
 * branch path, and a change through one invalidates the other.
 *
 * Invalidations are collected during a request (struct bfsd_inval) and sent
 * with no lock held: the other view's entries and attributes before the
 * reply (bfsd_inval_now, with a bounded wait for the entries), the rest
 * after it.  Commit, abort and switch send theirs before replying, so a
 * read right after sees the new state.
 *
 * Lock order: a listing's lock (ll_readdir.c) -> fs locks (bfsd.h) ->
 * mount->nodes_lock -> fs->files_lock.  nodes_lock is a leaf but for one
 * case: a commit re-points a node's open files under it
 * (bfsd_node_repoint), which takes files_lock.  mount->lists_lock,
 * mount->pending_lock, mount->held_lock and mount->notify_lock are leaves.
 */
#ifndef BFSD_LL_H
#define BFSD_LL_H

#include "bfsd.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

enum bfsd_node_kind {
	BFSD_NODE_ROOT,	  /* the mount root: the current branch plus @NAME entries */
	BFSD_NODE_BROOT,  /* /@NAME: the root of branch NAME's view */
	BFSD_NODE_CTL,	  /* a .branchfs_ctl file (branch NULL: the root's) */
	BFSD_NODE_OBJECT, /* a file, directory or other object of a view */
};

/* One name of a node: (parent, name) in the hash that lookups search. */
struct bfsd_alias {
	struct bfsd_node *node;
	struct bfsd_node *parent; /* referenced */
	uint64_t hash;		  /* of (parent, name, branch) */
	char *name;		  /* sname, or allocated when longer */
	struct bfsd_alias *hnext; /* hash chain */
	struct bfsd_alias *next;  /* the node's other names */
	struct bfsd_alias **npprev;
	struct bfsd_alias *rnext; /* names directly under the mount root */
	struct bfsd_alias **rpprev;
	char sname[40];
};

/*
 * A node is one object as the kernel sees it: a file with several names
 * (hard links, or one name through both views of its branch) is one node
 * with several aliases, so the kernel keeps one inode, one attribute
 * cache, one page cache and one set of locks for it.  Everything here is
 * under mount->nodes_lock.
 */
struct bfsd_node {
	enum bfsd_node_kind kind;
	struct bfsd_branch *branch; /* referenced; NULL for ROOT and the root ctl */
	bool via_root;		    /* first reached through the mount root */
	/* Its names, those through /@NAME/ first (path_locked prefers them);
	 * atail is the last one's next (NULL until the first is added). */
	struct bfsd_alias *aliases, **atail;
	uint64_t nlookup; /* kernel references */
	int refs;	  /* aliases below it + open handles + 1 while looked up */
	uint64_t ino;	  /* st_ino reported */
	uint64_t serial;  /* unique for the mount's life: keys its listing */
	mode_t type;
	/* A multi-linked file: the underlying object, to find it by identity. */
	dev_t udev;
	ino_t uino;
	struct bfsd_node *inext; /* identity hash chain */
	bool ihashed;
	struct bfsd_node *prev, *next; /* every node, to free them at exit */
	/* Main view only: what the file looked like at its last open, to decide
	 * whether the kernel may keep its page cache. */
	struct timespec seen_mtime;
	off_t seen_size;
	/* Bumped when a commit replaces the object at its name; the next open
	 * (opened_gen behind) drops what the kernel cached of the old one. */
	uint64_t data_gen, opened_gen;
	/* xattr_gen of the mount when the file was last found to have no
	 * security.capability (0: not known). */
	uint64_t nocap_gen;
	/* Its open files (linked by node_next), each holding a reference:
	 * they answer for it once no name shows it, and follow a commit
	 * that replaces the object at its name. */
	struct bfsd_file *files;
	/* In the mount's rdwr list while one of them is open to read and
	 * write (rdwr_pprev not NULL): what a shared mapping can change. */
	struct bfsd_node *rdwr_next, **rdwr_pprev;
};

struct bfsd_inval_item {
	fuse_ino_t parent; /* entry (parent, name), or inode when name is NULL */
	char *name;
	bool expire;	  /* entry: only mark it stale (O(1)), don't drop a subtree */
	fuse_ino_t child; /* for notify_delete */
	off_t off, len;
	bool sent; /* entry: already dropped, before the reply */
	/* The node parent names, held until the item is sent, when it was
	 * not the request's own (see inval.c, node_item). */
	struct bfsd_node *node;
};

struct bfsd_inval {
	size_t n, cap;
	struct bfsd_inval_item *it;
	/* The directories the kernel holds locked until the request's reply
	 * (its parents), while registered in the mount (bfsd_inval_hold). */
	fuse_ino_t held[2];
	bool unheld; /* no room to register them: no entry goes before the reply */
};

/* Requests answered at once: at most the loop's threads, two parents each. */
#define BFSD_HELD_MAX 64

struct listing;
struct notify_job;

struct bfsd_mount {
	struct bfsd_fs *fs;
	struct fuse_session *se;
	pthread_mutex_t nodes_lock;
	struct bfsd_alias **names; /* aliases by (parent, name, branch) */
	size_t names_cap, nnames;
	struct bfsd_alias *root_names; /* those whose parent is the root */
	struct bfsd_node **idents;     /* multi-linked files by (branch, view, dev, ino) */
	size_t idents_cap, nidents;
	struct bfsd_node root;
	struct bfsd_node root_ctl;
	struct bfsd_node *all;	/* every other node */
	struct bfsd_node *rdwr; /* nodes with a file open to read and write */
	pthread_mutex_t lists_lock;
	struct listing *lists; /* recent directory listings (ll_readdir.c) */
	size_t nlists, lists_names;
	uint64_t next_serial; /* nodes_lock */
	uid_t uid;	      /* the mounting user: owner of the control files */
	gid_t gid;
	struct timespec started;
	double branch_timeout; /* entry/attr timeout of branch views */
	double main_timeout;   /* entry/attr timeout of main's view (base is live) */
	bool debug;
	bool expire_ok;		 /* the kernel can expire an entry without dropping it */
	bool no_opendir;	 /* directories need no OPENDIR (ll_readdir.c) */
	atomic_bool root_listed; /* the kernel may cache a listing of the root */
	/* Bumped by anything that may give a file a security.capability the
	 * nodes' nocap_gen did not see: xattr changes, commit, abort, switch. */
	uint64_t xattr_gen;
	struct bfsd_commits *commits; /* the commit thread (commits.c) */
	/* The directories held for requests being answered (bfsd_inval_hold);
	 * 0 for a free slot. */
	pthread_mutex_t held_lock;
	fuse_ino_t held[BFSD_HELD_MAX]; /* held_lock */
	/* The thread that drops entries before a reply (inval.c), its queue
	 * and the signals of new work and of work done. */
	pthread_mutex_t notify_lock;
	pthread_cond_t notify_work, notify_done;
	struct notify_job *notify_head, **notify_tail; /* notify_lock */
	pthread_t notifier;
	bool notifier_up, notify_stop; /* notify_lock */
	bool notify_left;	       /* notify_lock: the notifier outlives the nodes */
	/* What commits are about to change (pending.c). */
	pthread_mutex_t pending_lock;
	struct bfsd_pending *pending; /* pending_lock */
	atomic_int npending;	      /* its length */
	/* The INIT request, until its reply is amended (ll_io.c). */
	uint64_t init_unique;
	uint32_t init_flags;
	bool killpriv_v2; /* we drop setuid/setgid; the kernel stops asking */
	bool served;	  /* the session ran: its end is an unmount */
};

/* ------------------------------------------------------------------ node.c */

int bfsd_nodes_init(struct bfsd_mount *m);
void bfsd_nodes_free(struct bfsd_mount *m);
struct bfsd_node *bfsd_node_of(struct bfsd_mount *m, fuse_ino_t ino);
fuse_ino_t bfsd_node_id(struct bfsd_mount *m, const struct bfsd_node *n);
/* Find or create the node of parent/name (st: its attributes, st_ino as
 * shown) and count one kernel lookup of it.  A multi-linked file already
 * known under another name is that node, with one more alias. */
int bfsd_node_lookup(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
		     enum bfsd_node_kind kind, struct bfsd_branch *b, bool via_root,
		     const struct stat *st, dev_t udev, ino_t uino, struct bfsd_node **out);
void bfsd_node_forget(struct bfsd_mount *m, struct bfsd_node *n, uint64_t nlookup);
/* n (a file that just got a second name) is found by its identity too. */
void bfsd_node_set_ident(struct bfsd_mount *m, struct bfsd_node *n, dev_t dev, ino_t ino);
/* b's node found by identity (dev, ino), if any, is found by (ndev, nino)
 * instead. */
void bfsd_node_rekey(struct bfsd_mount *m, struct bfsd_branch *b, dev_t dev, ino_t ino, dev_t ndev,
		     ino_t nino);
/* f was opened through n: n holds on to f and f keeps n alive. */
void bfsd_node_open(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f);
/* The kernel released f: close it and let go of n. */
void bfsd_node_close(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f);
/* Was n's object replaced since the kernel last opened n?  Counts this
 * open as the kernel's latest. */
bool bfsd_node_replaced(struct bfsd_mount *m, struct bfsd_node *n);
/* b's regular files the kernel has open for reading and writing, each
 * held (bfsd_node_put), in a malloc'd array of *count; NULL when none. */
struct bfsd_node **bfsd_node_rdwr(struct bfsd_mount *m, struct bfsd_branch *b, size_t *count);
/* One open file of n, referenced (bfsd_file_close), or NULL. */
struct bfsd_file *bfsd_node_open_file(struct bfsd_mount *m, struct bfsd_node *n);
/* Point every open file of n at l/phys (a commit replaced its object);
 * the kernel's copy of the old object goes at the next open. */
void bfsd_node_repoint(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_layer *l,
		       const char *phys);
/* Whether a name of its view still leads to n (unlinked, renamed over or
 * removed by a commit: no). */
bool bfsd_node_named(struct bfsd_mount *m, struct bfsd_node *n);
/* The logical path of an object node in its branch (PATH_MAX). */
int bfsd_node_path(struct bfsd_mount *m, struct bfsd_node *n, char *out);
/* The branch and path a request on n works on: -ESTALE for a dead branch. */
int bfsd_node_target(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_branch **b, char *path);
/* Reflect a rename / removal of (parent, name) in the node table. */
void bfsd_node_moved(struct bfsd_mount *m, struct bfsd_node *oldparent, const char *oldname,
		     struct bfsd_node *newparent, const char *newname, struct bfsd_branch *b,
		     bool exchange);
void bfsd_node_unhash(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
		      struct bfsd_branch *b);
/* Forget path's name in the node tables of both views of b. */
void bfsd_node_unhash_path(struct bfsd_mount *m, struct bfsd_branch *b, const char *path);
/*
 * Mark known, with the st_ino shown for it in vino, each of the names
 * e[0..n) under parent that is a live object of its type (e->type) in b's
 * view.  Exact for storage names of branch views: every change of b's
 * namespace updates the table under b's ns_lock, a commit into b unhashes
 * what it changed (ctl.c), and nothing else changes a branch's storage.
 */
void bfsd_node_known(struct bfsd_mount *m, struct bfsd_node *parent, struct bfsd_branch *b,
		     struct bfsd_dirent *e, size_t n);
/* The node that shows (b, path) in the given view, if the kernel has it,
 * with a reference (the kernel may forget it meanwhile): bfsd_node_put.
 * Through the root: b's nodes there, kept from when the root showed b
 * when it shows another branch now. */
struct bfsd_node *bfsd_node_walk(struct bfsd_mount *m, struct bfsd_branch *b, bool via_root,
				 const char *path);
void bfsd_node_put(struct bfsd_mount *m, struct bfsd_node *n);
/* One more reference to n, for bfsd_node_put. */
void bfsd_node_hold(struct bfsd_mount *m, struct bfsd_node *n);
/* Call fn(node, name, arg) for every name directly under the mount root. */
void bfsd_node_root_children(struct bfsd_mount *m,
			     void (*fn)(struct bfsd_node *, const char *, void *), void *arg);

/* -------------------------------------------------------------- nodehash.c */

/* The hash of (parent, name, branch) from bfsd_hash of the name (h), and
 * from the name. */
uint64_t bfsd_names_mix(const struct bfsd_node *parent, uint64_t h, const struct bfsd_branch *b);
uint64_t bfsd_names_hash(const struct bfsd_node *parent, const char *name,
			 const struct bfsd_branch *b);
/* Hash a (its hash set) by name, and under the root's list when its parent
 * is the root; take it out of both. */
void bfsd_names_add(struct bfsd_mount *m, struct bfsd_alias *a);
void bfsd_names_del(struct bfsd_mount *m, struct bfsd_alias *a);
/* Double the alias table: 0 or -ENOMEM. */
int bfsd_names_grow(struct bfsd_mount *m);
/* In alias chain a, the alias of (parent, name) with hash h, any branch;
 * from there, the one of b's (another's shares the hash by collision). */
struct bfsd_alias *bfsd_names_chain(struct bfsd_alias *a, uint64_t h,
				    const struct bfsd_node *parent, const char *name);
struct bfsd_alias *bfsd_names_chain_branch(struct bfsd_alias *a, uint64_t h,
					   const struct bfsd_node *parent, const char *name,
					   const struct bfsd_branch *b);
/* b's alias of (parent, name), or NULL. */
struct bfsd_alias *bfsd_names_find(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
				   struct bfsd_branch *b);
/* n found by the identity (dev, ino) of its underlying object in its
 * branch; no longer; b's node of (dev, ino), or NULL. */
void bfsd_idents_set(struct bfsd_mount *m, struct bfsd_node *n, dev_t dev, ino_t ino);
void bfsd_idents_del(struct bfsd_mount *m, struct bfsd_node *n);
struct bfsd_node *bfsd_idents_find(struct bfsd_mount *m, struct bfsd_branch *b, dev_t dev,
				   ino_t ino);

/* ----------------------------------------------------------------- inval.c */

void bfsd_inval_entry(struct bfsd_inval *iv, fuse_ino_t parent, const char *name);
/* Mark an entry stale: the next lookup asks again (a whole branch that went
 * away: the kernel need not walk everything it cached below it now). */
void bfsd_inval_expire(struct bfsd_inval *iv, fuse_ino_t parent, const char *name);
void bfsd_inval_inode(struct bfsd_inval *iv, fuse_ino_t ino, off_t off, off_t len);
/* Both views' kernel copies of (b, path): inode, and the entry in its parent. */
void bfsd_inval_path(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_branch *b,
		     const char *path, bool entry);
/* The other view's copy of (b, path) only (after a change through node n,
 * or below n with entry): for a non-directory n, any node of the path in
 * either view that is not n itself. */
void bfsd_inval_twin(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_node *n,
		     struct bfsd_branch *b, const char *path, bool entry);
/* Every entry directly under the mount root (switch, commit or abort of
 * the current branch). */
void bfsd_inval_root(struct bfsd_mount *m, struct bfsd_inval *iv);
/* Send and empty iv; call with no lock held. */
void bfsd_inval_send(struct bfsd_mount *m, struct bfsd_inval *iv);
/*
 * Before the reply, with no lock held: drop iv's attributes, and its
 * entries but those under a directory the kernel holds for a request being
 * answered (registered with bfsd_inval_hold), waiting for those 50 ms at
 * most (inval.c, notifier).  A caller answered for a change through one
 * view then finds it through the other (attributes show a new mtime, so
 * cached pages go on their next use), and the kernel never finds a
 * directory moved in one view under its old name in the other as well
 * (d_splice_alias would then have to move that dentry, and answers ESTALE
 * when it cannot take the locks at once).  bfsd_inval_send does the rest.
 */
void bfsd_inval_now(struct bfsd_mount *m, struct bfsd_inval *iv);
/*
 * A request that changes entries names the directories the kernel holds
 * locked for it (a and b, 0 for none) before it sends anything, and keeps
 * them registered until its reply (bfsd_inval_now releases them): an
 * entry under one is dropped after the reply, not waited for in vain
 * before it (a rename from one view into the other, two requests in one
 * directory through the two views).
 */
void bfsd_inval_hold(struct bfsd_mount *m, struct bfsd_inval *iv, fuse_ino_t a, fuse_ino_t b);
/* Stop the thread bfsd_inval_now hands entries to (before the session
 * goes). */
void bfsd_inval_stop(struct bfsd_mount *m);
/* Answer req with err (0 for success) between bfsd_inval_now and
 * bfsd_inval_send. */
void bfsd_inval_reply_err(fuse_req_t req, struct bfsd_mount *m, struct bfsd_inval *iv, int err);
/* The core's copy-up hook: the copied object's cached attributes go, at
 * once (attributes only: no kernel lock is taken). */
void bfsd_inval_copyup(void *ctx, struct bfsd_branch *b, const char *path, const struct stat *copy);
void bfsd_inval_preserved(void *ctx, struct bfsd_fs *fs, dev_t dev, ino_t ino,
			  const struct stat *copy);

/* --------------------------------------------------------------- pending.c */

struct bfsd_pending;
/* Before committing b: what it will change in its parent is dropped from
 * the kernel's caches and answered uncached until bfsd_pending_end, which
 * takes the set returned (NULL: nothing marked).  *changes is b->changes
 * as the set was made: if it moved before the commit applies, the set may
 * miss names and must be made again.  No lock held. */
struct bfsd_pending *bfsd_pending_begin(struct bfsd_mount *m, struct bfsd_branch *b,
					unsigned int *changes);
/* The commit applied or failed: forget ps (NULL accepted). */
void bfsd_pending_end(struct bfsd_mount *m, struct bfsd_pending *ps);
/* Is (b, path) about to change under a commit?  Its answers get no timeout. */
bool bfsd_pending(struct bfsd_mount *m, struct bfsd_branch *b, const char *path);
bool bfsd_pending_node(struct bfsd_mount *m, struct bfsd_node *n);

/* --------------------------------------------------------------- commits.c */

/* The thread that runs commits, so that none waits in a session thread. */
int bfsd_commits_start(struct bfsd_mount *m);
/* Runs what is queued, then ends the thread. */
void bfsd_commits_stop(struct bfsd_mount *m);
#define BFSD_COMMIT_IOCTL SIZE_MAX
/* Commit n's branch and answer req: a write of written bytes, or
 * FS_IOC_BRANCH_COMMIT when written is BFSD_COMMIT_IOCTL.  In the calling
 * thread, or on the commit thread when enough commits run already. */
void bfsd_commits_run(struct bfsd_mount *m, fuse_req_t req, struct bfsd_node *n, size_t written);

/* ------------------------------------------------------------------- ctl.c */

/* Commit the branch of control node n. */
int bfsd_ctl_commit(struct bfsd_mount *m, struct bfsd_node *n);
/* Run a text command written to the control file of node n (parsed by
 * bfsd_cmd_parse). */
int bfsd_ctl_command(struct bfsd_mount *m, struct bfsd_node *n, const struct bfsd_cmd *cmd);
/* Handle an ioctl on a control file; out/out_len receive the reply data. */
int bfsd_ctl_ioctl(struct bfsd_mount *m, struct bfsd_node *n, unsigned int cmd, const void *in,
		   size_t in_len, void *out, size_t *out_len);
/* What reading the control file returns. */
int bfsd_ctl_read(struct bfsd_mount *m, struct bfsd_node *n, char *buf, size_t size);

/* ------------------------------------------------------------- ll_*.c */

struct bfsd_mount *bfsd_ll_mount(fuse_req_t req);
/* Fill a FUSE entry for node n with attributes st. */
void bfsd_ll_entry(struct bfsd_mount *m, struct bfsd_node *n, const struct stat *st,
		   struct fuse_entry_param *e);
double bfsd_ll_timeout(struct bfsd_mount *m, struct bfsd_branch *b);
/* n's entry and attribute timeout: its view's (the shorter of the two for
 * the mount root), 0 for a control file or while a commit is about to
 * change it. */
double bfsd_ll_node_timeout(struct bfsd_mount *m, struct bfsd_node *n);
/* Does n show the mount's current branch (reached through the root)? */
bool bfsd_ll_via_root(const struct bfsd_node *n);
/* Entry for a special node (CTL, BROOT); counts a lookup of *out.
 * tree_lock held shared. */
int bfsd_ll_special_entry(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
			  enum bfsd_node_kind kind, struct bfsd_branch *b,
			  struct fuse_entry_param *e, struct bfsd_node **out);
/* Entry for path in b's view; *out NULL for a negative entry.  tree_lock
 * held shared. */
int bfsd_ll_object_entry(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
			 struct bfsd_branch *b, bool via_root, const char *path,
			 struct fuse_entry_param *e, struct bfsd_node **out);
/* Attributes of a special node (root, @NAME, control file); _locked when
 * the caller holds tree_lock. */
int bfsd_ll_special_attr(struct bfsd_mount *m, struct bfsd_node *n, struct stat *st);
int bfsd_ll_special_attr_locked(struct bfsd_mount *m, struct bfsd_node *n, struct stat *st);
struct bfsd_cred bfsd_ll_cred(fuse_req_t req);

void bfsd_ll_init(void *userdata, struct fuse_conn_info *conn);
void bfsd_ll_destroy(void *userdata);
void bfsd_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void bfsd_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void bfsd_ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void bfsd_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfsd_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi);
void bfsd_ll_readlink(fuse_req_t req, fuse_ino_t ino);
void bfsd_ll_statfs(fuse_req_t req, fuse_ino_t ino);

void bfsd_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void bfsd_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void bfsd_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void bfsd_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void bfsd_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void bfsd_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void bfsd_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags);
void bfsd_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* ------------------------------------------------------------- ll_readdir.c */

void bfsd_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfsd_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void bfsd_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi);
void bfsd_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* At exit: the listings kept. */
void bfsd_ll_lists_free(struct bfsd_mount *m);

void bfsd_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    struct fuse_file_info *fi);
void bfsd_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfsd_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void bfsd_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi);
void bfsd_ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfsd_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfsd_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void bfsd_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		       struct fuse_file_info *fi);
void bfsd_ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		   struct fuse_file_info *fi);
void bfsd_ll_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		   struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		   size_t out_bufsz);

void bfsd_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		      size_t size, int flags);
void bfsd_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
/* Something may have given a file a capability: forget the nodes' "none". */
void bfsd_ll_meta_changed(struct bfsd_mount *m);
void bfsd_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void bfsd_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

extern const struct fuse_lowlevel_ops bfsd_ll_ops;

/* ------------------------------------------------------------------ ll_io.c */

/* Read and write /dev/fuse through ll_io.c; after fuse_session_mount. */
int bfsd_ll_io_attach(struct bfsd_mount *m);
/* The request this thread handles asks to drop setuid/setgid. */
bool bfsd_ll_kill_suidgid(void);
/* st's mode once setuid/setgid are dropped for the caller of req. */
mode_t bfsd_ll_killed_mode(fuse_req_t req, const struct stat *st);

#endif
