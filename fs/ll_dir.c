/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE handlers that change names (mknod, mkdir, symlink, link, unlink,
 * rmdir, rename), and fsyncdir.  Listings are in ll_readdir.c.
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

	bfsd_inval_hold(m, &iv, parent, 0);
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
	bfsd_inval_now(m, &iv);
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

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *pn = bfsd_node_of(m, parent);
	struct bfsd_inval iv = { 0 };
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	bfsd_inval_hold(m, &iv, parent, 0);
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = change_target(m, pn, name, &b, path);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = dir ? bfsd_view_rmdir(m->fs, b, path) : bfsd_view_unlink(m->fs, b, path);
		/* Names in the node table are live (listings rely on it, see
		 * ll_readdir.c): it changes with the namespace, not after. */
		if (!ret) {
			bfsd_inval_twin(m, &iv, pn, b, path, true);
			bfsd_node_unhash_path(m, b, path);
		}
		bfsd_unlock_ns(m->fs, b);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	bfsd_inval_reply_err(req, m, &iv, -ret);
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
		bfsd_node_put(m, fp);
		bfsd_node_put(m, tp);
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

	bfsd_inval_hold(m, &iv, parent, newparent);
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = change_target(m, pn, name, &b, from);
	if (!ret)
		ret = change_target(m, npn, newname, &nb, to);
	if (!ret && b != nb)
		ret = -EXDEV;
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = bfsd_view_rename(m->fs, b, from, to, flags);
		if (!ret) {
			bfsd_inval_twin(m, &iv, pn, b, from, true);
			bfsd_inval_twin(m, &iv, npn, b, to, true);
			moved_both(m, b, from, to, flags & RENAME_EXCHANGE);
		}
		bfsd_unlock_ns(m->fs, b);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	bfsd_inval_reply_err(req, m, &iv, -ret);
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
