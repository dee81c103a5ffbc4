/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE handlers that change names (mknod, mkdir, symlink, link, unlink,
 * rmdir, rename) and that list directories (opendir, readdir,
 * readdirplus).
 *
 * Each change runs under the branch's namespace lock, updates the node
 * table of both views, replies, and then invalidates what the other view
 * (mount root or @NAME) may have cached.
 */
#include "ll.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Names the mount root reserves; creating or removing them there is EPERM. */
static bool reserved(const struct bfsd_node *parent, const char *name)
{
	if (parent->kind == BFSD_NODE_ROOT && name[0] == '@')
		return true;
	return parent->kind != BFSD_NODE_OBJECT && !strcmp(name, BFSD_CTL_NAME);
}

/* Branch and path of parent/name for a change; tree_lock held shared. */
static int change_target(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
			 struct bfsd_branch **b, char *path)
{
	int ret;

	if (parent->kind == BFSD_NODE_CTL)
		return -ENOTDIR;
	if (reserved(parent, name))
		return -EPERM;
	ret = bfsd_node_target(m, parent, b, path);
	return ret ? ret : bfsd_path_join(path, path, name);
}

enum mk { MK_NODE, MK_DIR, MK_LINK, MK_SYMLINK };

struct mkargs {
	enum mk what;
	mode_t mode;
	dev_t rdev;
	const char *target;    /* symlink */
	struct bfsd_node *src; /* link */
};

static int make(struct bfsd_mount *m, fuse_req_t req, struct bfsd_branch *b, const char *path,
		const struct mkargs *a, struct stat *st)
{
	struct bfsd_cred cred = bfsd_ll_cred(req);
	char src[PATH_MAX];
	struct bfsd_branch *sb;
	int ret;

	switch (a->what) {
	case MK_NODE:
		return bfsd_view_mknod(m->fs, b, path, a->mode, a->rdev, &cred, st);
	case MK_DIR:
		return bfsd_view_mkdir(m->fs, b, path, a->mode, &cred, st);
	case MK_SYMLINK:
		return bfsd_view_symlink(m->fs, b, a->target, path, &cred, st);
	case MK_LINK:
		ret = a->src->kind == BFSD_NODE_OBJECT ? bfsd_node_target(m, a->src, &sb, src)
						       : -EPERM;
		if (!ret && sb != b)
			ret = -EXDEV;
		return ret ? ret : bfsd_view_link(m->fs, b, src, path, st);
	}
	return -EINVAL;
}

static void do_make(fuse_req_t req, fuse_ino_t parent, const char *name, const struct mkargs *a)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *pn = bfsd_node_of(m, parent), *n = NULL;
	struct bfsd_inval iv = { 0 };
	struct fuse_entry_param e;
	struct bfsd_branch *b;
	char path[PATH_MAX];
	struct stat st;
	dev_t udev = 0;
	ino_t uino = 0;
	int ret;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = change_target(m, pn, name, &b, path);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = make(m, req, b, path, a, &st);
		/* A new name of an existing file: the kernel must see the same
		 * inode under both names, so the reply is the source's node. */
		if (!ret && a->what == MK_LINK)
			ret = bfsd_view_stat_ident(m->fs, b, path, &st, &udev, &uino);
		bfsd_unlock_ns(m->fs, b);
	}
	if (!ret && a->what == MK_LINK)
		bfsd_node_set_ident(m, a->src, udev, uino);
	if (!ret)
		ret = bfsd_node_lookup(m, pn, name, BFSD_NODE_OBJECT, b, bfsd_ll_via_root(pn), &st,
				       udev, uino, &n);
	if (!ret) {
		bfsd_ll_entry(m, n, &st, &e);
		bfsd_inval_twin(m, &iv, pn, b, path, true);
		if (a->what == MK_LINK)
			bfsd_inval_inode(&iv, bfsd_node_id(m, a->src), -1, 0);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret)
		fuse_reply_err(req, -ret);
	else if (fuse_reply_entry(req, &e))
		bfsd_node_forget(m, n, 1);
	bfsd_inval_send(m, &iv);
}

void bfsd_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct mkargs a = { .what = MK_NODE, .mode = mode, .rdev = rdev };

	do_make(req, parent, name, &a);
}

void bfsd_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct mkargs a = { .what = MK_DIR, .mode = mode };

	do_make(req, parent, name, &a);
}

void bfsd_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct mkargs a = { .what = MK_SYMLINK, .target = link };

	do_make(req, parent, name, &a);
}

void bfsd_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct mkargs a = { .what = MK_LINK, .src = bfsd_node_of(m, ino) };

	do_make(req, newparent, newname, &a);
}

/* Forget (parent path, name) in the node tables of both views of b. */
static void unhash_both(struct bfsd_mount *m, struct bfsd_branch *b, const char *path)
{
	char parent[PATH_MAX];
	const char *name = bfsd_path_split(path, parent);

	for (int via_root = 0; via_root < 2; via_root++) {
		struct bfsd_node *pn = bfsd_node_walk(m, b, via_root, parent);

		if (pn)
			bfsd_node_unhash(m, pn, name, b);
	}
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *pn = bfsd_node_of(m, parent);
	struct bfsd_inval iv = { 0 };
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = change_target(m, pn, name, &b, path);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = dir ? bfsd_view_rmdir(m->fs, b, path) : bfsd_view_unlink(m->fs, b, path);
		bfsd_unlock_ns(m->fs, b);
	}
	if (!ret) {
		bfsd_inval_twin(m, &iv, pn, b, path, true);
		unhash_both(m, b, path);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	fuse_reply_err(req, -ret);
	bfsd_inval_send(m, &iv);
}

void bfsd_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, false);
}

void bfsd_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, true);
}

/* Move the nodes of a rename in both views. */
static void moved_both(struct bfsd_mount *m, struct bfsd_branch *b, const char *from,
		       const char *to, bool exchange)
{
	char fparent[PATH_MAX], tparent[PATH_MAX];
	const char *fname = bfsd_path_split(from, fparent);
	const char *tname = bfsd_path_split(to, tparent);

	for (int via_root = 0; via_root < 2; via_root++) {
		struct bfsd_node *fp = bfsd_node_walk(m, b, via_root, fparent);
		struct bfsd_node *tp = bfsd_node_walk(m, b, via_root, tparent);

		bfsd_node_moved(m, fp, fname, tp, tname, b, exchange);
	}
}

void bfsd_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		    const char *newname, unsigned int flags)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *pn = bfsd_node_of(m, parent), *npn = bfsd_node_of(m, newparent);
	struct bfsd_inval iv = { 0 };
	char from[PATH_MAX], to[PATH_MAX];
	struct bfsd_branch *b, *nb;
	int ret;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = change_target(m, pn, name, &b, from);
	if (!ret)
		ret = change_target(m, npn, newname, &nb, to);
	if (!ret && b != nb)
		ret = -EXDEV;
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = bfsd_view_rename(m->fs, b, from, to, flags);
		bfsd_unlock_ns(m->fs, b);
	}
	if (!ret) {
		bfsd_inval_twin(m, &iv, pn, b, from, true);
		bfsd_inval_twin(m, &iv, npn, b, to, true);
		moved_both(m, b, from, to, flags & RENAME_EXCHANGE);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	fuse_reply_err(req, -ret);
	bfsd_inval_send(m, &iv);
}

/* ---- listing ---- */

struct dirh {
	pthread_mutex_t lock;
	struct bfsd_dirlist list;
	struct bfsd_branch *b; /* the branch listed; referenced */
	struct bfsd_res *r;    /* the directory listed */
	unsigned int changes;  /* b->changes when listed */
	bool valid;
	int copy_fd;		  /* O_PATH fd of r->loc[copy_loc], for entries listed unstat'ed */
	int copy_loc;		  /* -1 when copy_fd is not open */
	struct dirh *prev, *next; /* every open one (m->dirs), to free at exit */
};

static void dirh_close_copy(struct dirh *d)
{
	if (d->copy_loc >= 0)
		close(d->copy_fd);
	d->copy_loc = -1;
}

static void dirh_free(struct bfsd_mount *m, struct dirh *d)
{
	pthread_mutex_lock(&m->nodes_lock);
	if (d->prev)
		d->prev->next = d->next;
	else
		m->dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	pthread_mutex_unlock(&m->nodes_lock);
	bfsd_dirlist_free(&d->list);
	bfsd_branch_put(d->b);
	bfsd_res_put(d->r);
	dirh_close_copy(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void bfsd_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct dirh *d;

	if (n->kind == BFSD_NODE_CTL) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->copy_loc = -1;
	fi->fh = (uintptr_t)d;
	/*
	 * A branch directory changes only through us: the kernel may cache its
	 * listing (every change it does not make itself is invalidated, see
	 * inval.c).  Not main's (other programs write the base), nor the root
	 * or @NAME directories (their entries come and go with branches).
	 */
	if (n->kind == BFSD_NODE_OBJECT && n->branch != m->fs->main) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	pthread_mutex_lock(&m->nodes_lock);
	d->next = m->dirs;
	if (m->dirs)
		m->dirs->prev = d;
	m->dirs = d;
	pthread_mutex_unlock(&m->nodes_lock);
	if (fuse_reply_open(req, fi))
		dirh_free(m, d);
}

struct branch_entries {
	struct bfsd_fs *fs;
	struct bfsd_dirlist *l;
	uint64_t root_vino;
	int ret;
};

static void add_branch_entry(struct bfsd_branch *b, void *arg)
{
	struct branch_entries *be = arg;
	struct bfsd_dirlist *l = be->l;
	struct bfsd_dirent *e;

	if (be->ret)
		return;
	e = realloc(l->e, (l->n + 1) * sizeof(*e));
	if (!e) {
		be->ret = -ENOMEM;
		return;
	}
	l->e = e;
	e = &l->e[l->n];
	e->name = malloc(strlen(b->name) + 2);
	if (!e->name) {
		be->ret = -ENOMEM;
		return;
	}
	e->name[0] = '@';
	strcpy(e->name + 1, b->name);
	e->type = S_IFDIR;
	/* Final number (loc < 0): the root of b's own view. */
	e->vino = bfsd_fs_salt(b, be->root_vino);
	e->loc = -1;
	e->have_st = false;
	l->n++;
}

/* An @NAME entry for every live branch but main. */
static int add_branch_entries(struct bfsd_fs *fs, struct bfsd_dirlist *l)
{
	struct branch_entries be = { .fs = fs, .l = l };
	struct stat st;

	if (fstat(fs->base->dirfd, &st) < 0)
		return -errno;
	be.root_vino = bfsd_fs_vino(fs, &st);
	bfsd_branch_each(fs, add_branch_entry, &be);
	return be.ret;
}

/* Drop the names a view root cannot show (they are special there). */
static void filter_root(struct bfsd_dirlist *l, bool mount_root)
{
	size_t keep = 0;

	for (size_t i = 0; i < l->n; i++) {
		const char *name = l->e[i].name;

		if (!strcmp(name, BFSD_CTL_NAME) || (mount_root && name[0] == '@')) {
			free(l->e[i].name);
			continue;
		}
		l->e[keep++] = l->e[i];
	}
	l->n = keep;
}

static int build_list(struct bfsd_mount *m, struct bfsd_node *n, struct dirh *d)
{
	struct bfsd_res *r;
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	bfsd_dirlist_free(&d->list);
	bfsd_branch_put(d->b);
	bfsd_res_put(d->r);
	dirh_close_copy(d);
	d->b = NULL;
	d->r = NULL;
	d->valid = false;
	ret = bfsd_node_target(m, n, &b, path);
	if (ret)
		return ret;
	bfsd_lock_ns(m->fs, b, false);
	d->changes = atomic_load(&b->changes);
	ret = bfsd_resolve_existing(m->fs, b, path, &r);
	if (!ret) {
		ret = r->type == S_IFDIR ? bfsd_dir_list(m->fs, b, r, INT_MAX, 0, &d->list)
					 : -ENOTDIR;
		if (ret)
			bfsd_res_put(r);
		else
			d->r = r;
	}
	bfsd_unlock_ns(m->fs, b);
	if (ret)
		return ret;
	if (n->kind != BFSD_NODE_OBJECT)
		filter_root(&d->list, n->kind == BFSD_NODE_ROOT);
	if (n->kind == BFSD_NODE_ROOT)
		ret = add_branch_entries(m->fs, &d->list);
	d->b = bfsd_branch_get(b);
	d->valid = !ret;
	return ret;
}

/*
 * lstat of an entry the listing did not stat (one of the base's), relative
 * to its directory copy, opened once per listing without following any
 * symlink: one short fstatat per entry.
 */
static int copy_stat(struct dirh *d, const struct bfsd_dirent *de, struct stat *st)
{
	const struct bfsd_loc *loc = &d->r->loc[de->loc];

	if (d->copy_loc != de->loc) {
		int fd = bfsd_layer_openat(loc->layer, loc->phys, O_PATH | O_DIRECTORY);

		if (fd < 0)
			return fd;
		dirh_close_copy(d);
		d->copy_fd = fd;
		d->copy_loc = de->loc;
	}
	return fstatat(d->copy_fd, de->name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/*
 * The entry as the listing found it: its topmost copy is the one listed,
 * so one stat there gives its attributes, with no resolution (valid while
 * nothing in the branch changed since the listing was made).
 */
static int listed_entry(struct bfsd_mount *m, struct bfsd_node *dn, struct dirh *d,
			const struct bfsd_dirent *de, struct fuse_entry_param *e,
			struct bfsd_node **n)
{
	struct stat st;
	dev_t udev;
	ino_t uino;
	int ret;

	if (de->have_st) {
		st = de->st;
	} else {
		ret = copy_stat(d, de, &st);
		if (ret)
			return ret;
	}
	udev = st.st_dev;
	uino = st.st_ino;
	st.st_ino = bfsd_fs_salt(d->b, de->vino);
	if (S_ISDIR(st.st_mode) && d->b != m->fs->main)
		st.st_nlink = 1;
	ret = bfsd_node_lookup(m, dn, de->name, BFSD_NODE_OBJECT, d->b, bfsd_ll_via_root(dn), &st,
			       udev, uino, n);
	if (!ret)
		bfsd_ll_entry(m, *n, &st, e);
	return ret;
}

/* One entry of a readdirplus reply: lookup counted only if it fits. */
static size_t add_plus(fuse_req_t req, struct bfsd_mount *m, struct bfsd_node *dn, struct dirh *d,
		       const struct bfsd_dirent *de, char *buf, size_t rem, off_t next)
{
	struct fuse_entry_param e = { 0 };
	struct bfsd_node *n = NULL;
	char path[PATH_MAX];
	struct bfsd_branch *b;
	size_t need = fuse_add_direntry_plus(req, NULL, 0, de->name, NULL, 0);
	int ret = 0;

	if (need > rem)
		return need;
	if (de->loc < 0 && de->name[0] == '@') {
		b = bfsd_branch_find(m->fs, de->name + 1);
		ret = b ? bfsd_ll_special_entry(m, dn, de->name, BFSD_NODE_BROOT, b, &e, &n)
			: -ENOENT;
	} else if (de->loc >= 0 && d->r && atomic_load(&d->b->changes) == d->changes) {
		ret = listed_entry(m, dn, d, de, &e, &n);
	} else {
		ret = bfsd_node_target(m, dn, &b, path);
		if (!ret)
			ret = bfsd_path_join(path, path, de->name);
		if (!ret)
			ret = bfsd_ll_object_entry(m, dn, de->name, d->b, bfsd_ll_via_root(dn),
						   path, &e, &n);
	}
	if (ret || !n) {
		/* Gone since the listing: show the name, no attributes. */
		memset(&e, 0, sizeof(e));
		e.attr.st_mode = de->type;
		e.attr.st_ino = 0;
	}
	return fuse_add_direntry_plus(req, buf, rem, de->name, &e, next);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t pos = 0;
	int ret = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	if (off == 0 || !d->valid)
		ret = build_list(m, n, d);
	for (size_t i = off; !ret && i < d->list.n + 2; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->list.e[i - 2].name;
		struct stat st = { 0 };
		size_t need;
		const struct bfsd_dirent *de = i >= 2 ? &d->list.e[i - 2] : NULL;

		if (plus && i >= 2) {
			need = add_plus(req, m, n, d, &d->list.e[i - 2], buf + pos, size - pos,
					i + 1);
		} else {
			/* readdir(3) skips entries numbered 0: give each one. */
			st.st_mode = de ? de->type : S_IFDIR;
			if (!de)
				st.st_ino = i == 0 ? n->ino : 1;
			else if (de->loc < 0)
				st.st_ino = de->vino;
			else
				st.st_ino = bfsd_fs_salt(d->b, de->vino);
			if (!st.st_ino)
				st.st_ino = 1;
			if (plus) {
				struct fuse_entry_param e = { .attr = st };

				need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e,
							      i + 1);
			} else {
				need = fuse_add_direntry(req, buf + pos, size - pos, name, &st,
							 i + 1);
			}
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	pthread_mutex_unlock(&d->lock);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

void bfsd_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void bfsd_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void bfsd_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirh_free(bfsd_ll_mount(req), (struct dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void bfsd_ll_dirs_free(struct bfsd_mount *m)
{
	while (m->dirs)
		dirh_free(m, m->dirs);
}

void bfsd_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret, fd;

	(void)fi;
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, &b, path);
	fd = ret ? -1 : bfsd_layer_openat(bfsd_branch_top(m->fs, b), path, O_RDONLY | O_DIRECTORY);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	/* Not in the top layer: nothing of it was written, nothing to sync. */
	if (fd >= 0) {
		if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
			ret = -errno;
		close(fd);
	}
	fuse_reply_err(req, -ret);
}
