/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE handlers for names and attributes: lookup, forget, getattr, setattr,
 * readlink, statfs; and the helpers every handler shares.
 *
 * The mount root shows the current branch, plus an @NAME directory per live
 * branch and the root control file; those names are special only there.
 * Names the root cannot show (the branch's own "@..." names at the top,
 * ".branchfs_ctl") stay reachable through /@NAME/... and /@main/....
 */
#include "ll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct bfsd_mount *bfsd_ll_mount(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct bfsd_cred bfsd_ll_cred(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct bfsd_cred c = { .uid = ctx->uid, .gid = ctx->gid, .umask = ctx->umask };

	return c;
}

bool bfsd_ll_via_root(const struct bfsd_node *n)
{
	return n->kind == BFSD_NODE_ROOT || (n->kind == BFSD_NODE_OBJECT && n->via_root);
}

double bfsd_ll_timeout(struct bfsd_mount *m, struct bfsd_branch *b)
{
	return b == m->fs->main ? m->main_timeout : m->branch_timeout;
}

double bfsd_ll_node_timeout(struct bfsd_mount *m, struct bfsd_node *n)
{
	if (n->kind == BFSD_NODE_CTL || bfsd_pending_node(m, n))
		return 0;
	/* The root shows main or a branch, and a switch can change which. */
	if (n->kind == BFSD_NODE_ROOT)
		return m->main_timeout < m->branch_timeout ? m->main_timeout : m->branch_timeout;
	return bfsd_ll_timeout(m, n->branch);
}

void bfsd_ll_entry(struct bfsd_mount *m, struct bfsd_node *n, const struct stat *st,
		   struct fuse_entry_param *e)
{
	double t = bfsd_ll_node_timeout(m, n);

	memset(e, 0, sizeof(*e));
	e->ino = bfsd_node_id(m, n);
	e->attr = *st;
	e->attr_timeout = t;
	e->entry_timeout = t;
}

/* Inode numbers of the special nodes: apart from any object's number. */
#define SPECIAL_INO (1ull << 61)

int bfsd_ll_special_attr_locked(struct bfsd_mount *m, struct bfsd_node *n, struct stat *st)
{
	struct bfsd_branch *b;
	int ret;

	memset(st, 0, sizeof(*st));
	if (n->kind == BFSD_NODE_CTL) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_uid = m->uid;
		st->st_gid = m->gid;
		st->st_atim = st->st_mtim = st->st_ctim = m->started;
		st->st_ino = SPECIAL_INO | (n->branch ? n->branch->id * 2 + 1 : 1);
		st->st_blksize = 4096;
		return 0;
	}
	b = n->kind == BFSD_NODE_ROOT ? m->fs->current : n->branch;
	if (b->dead)
		return -ESTALE;
	bfsd_lock_ns(m->fs, b, false);
	ret = bfsd_view_stat(m->fs, b, "", st);
	bfsd_unlock_ns(m->fs, b);
	/* The mount root keeps one number whichever branch it shows. */
	if (!ret && n->kind == BFSD_NODE_ROOT)
		st->st_ino = SPECIAL_INO;
	return ret;
}

int bfsd_ll_special_attr(struct bfsd_mount *m, struct bfsd_node *n, struct stat *st)
{
	int ret;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_ll_special_attr_locked(m, n, st);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	return ret;
}

int bfsd_ll_special_entry(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
			  enum bfsd_node_kind kind, struct bfsd_branch *b,
			  struct fuse_entry_param *e, struct bfsd_node **out)
{
	struct bfsd_node tmp = { .kind = kind, .branch = b };
	struct stat st;
	int ret = bfsd_ll_special_attr_locked(m, &tmp, &st);

	if (!ret)
		ret = bfsd_node_lookup(m, parent, name, kind, b, false, &st, 0, 0, out);
	if (!ret)
		bfsd_ll_entry(m, *out, &st, e);
	return ret;
}

int bfsd_ll_object_entry(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
			 struct bfsd_branch *b, bool via_root, const char *path,
			 struct fuse_entry_param *e, struct bfsd_node **out)
{
	struct bfsd_res *r = NULL;
	struct stat st;
	dev_t udev = 0;
	ino_t uino = 0;
	int ret;

	*out = NULL;
	bfsd_lock_ns(m->fs, b, false);
	ret = bfsd_resolve_stat(m->fs, b, path, &r, &st);
	if (!ret && r->type) {
		udev = st.st_dev;
		uino = st.st_ino;
		bfsd_view_fix_stat(m->fs, b, r, &st);
	}
	bfsd_unlock_ns(m->fs, b);
	if (ret)
		return ret;
	if (!r->type) {
		bfsd_res_put(r);
		memset(e, 0, sizeof(*e));
		e->entry_timeout = bfsd_pending(m, b, path) ? 0 : bfsd_ll_timeout(m, b);
		return 0;
	}
	bfsd_res_put(r);
	ret = bfsd_node_lookup(m, parent, name, BFSD_NODE_OBJECT, b, via_root, &st, udev, uino,
			       out);
	if (!ret)
		bfsd_ll_entry(m, *out, &st, e);
	return ret;
}

static void reply_entry(fuse_req_t req, struct bfsd_mount *m, struct bfsd_node *parent, int ret,
			struct fuse_entry_param *e, struct bfsd_node *n)
{
	if (ret) {
		fuse_reply_err(req, -ret);
	} else if (!n && parent->kind == BFSD_NODE_ROOT) {
		/* Not cached: a switch changes what the root shows. */
		fuse_reply_err(req, ENOENT);
	} else if (fuse_reply_entry(req, e) && n) {
		bfsd_node_forget(m, n, 1);
	}
}

void bfsd_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *pn = bfsd_node_of(m, parent), *n = NULL;
	struct fuse_entry_param e;
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	if (pn->kind == BFSD_NODE_CTL) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	if (pn->kind != BFSD_NODE_OBJECT && !strcmp(name, BFSD_CTL_NAME)) {
		ret = bfsd_ll_special_entry(m, pn, name, BFSD_NODE_CTL, pn->branch, &e, &n);
		pthread_rwlock_unlock(&m->fs->tree_lock);
		reply_entry(req, m, pn, ret, &e, n);
		return;
	}
	if (pn->kind == BFSD_NODE_ROOT && name[0] == '@') {
		b = bfsd_branch_find(m->fs, name + 1);
		ret = b ? bfsd_ll_special_entry(m, pn, name, BFSD_NODE_BROOT, b, &e, &n) : -ENOENT;
		pthread_rwlock_unlock(&m->fs->tree_lock);
		reply_entry(req, m, pn, ret, &e, n);
		return;
	}
	ret = bfsd_node_target(m, pn, &b, path);
	if (!ret)
		ret = bfsd_path_join(path, path, name);
	if (ret) {
		pthread_rwlock_unlock(&m->fs->tree_lock);
		fuse_reply_err(req, -ret);
		return;
	}
	ret = bfsd_ll_object_entry(m, pn, name, b, bfsd_ll_via_root(pn), path, &e, &n);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	reply_entry(req, m, pn, ret, &e, n);
}

void bfsd_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);

	bfsd_node_forget(m, bfsd_node_of(m, ino), nlookup);
	fuse_reply_none(req);
}

void bfsd_ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);

	for (size_t i = 0; i < count; i++)
		bfsd_node_forget(m, bfsd_node_of(m, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

/* A file no name shows any more (unlinked, renamed over) is still open:
 * its attributes are those of its open object, with no link, as on a
 * disk.  The object itself may still have names elsewhere: a base file a
 * branch removed, a file main handed to preservation. */
static int nameless_attr(struct bfsd_mount *m, struct bfsd_node *n, struct stat *st)
{
	struct bfsd_file *f = bfsd_node_open_file(m, n);
	int ret;

	if (!f)
		return -ENOENT;
	ret = fstat(f->fd, st) < 0 ? -errno : 0;
	st->st_ino = n->ino;
	st->st_nlink = 0;
	bfsd_file_close(m->fs, f);
	return ret;
}

/* Attributes of any node; fi (may be NULL) is an open file of it. */
static int node_attr(struct bfsd_mount *m, struct bfsd_node *n, struct fuse_file_info *fi,
		     struct stat *st)
{
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	if (n->kind != BFSD_NODE_OBJECT)
		return bfsd_ll_special_attr(m, n, st);
	if (fi && fi->fh && S_ISREG(n->type)) {
		struct bfsd_file *f = (struct bfsd_file *)(uintptr_t)fi->fh;

		if (fstat(f->fd, st) < 0)
			return -errno;
		st->st_ino = n->ino;
		if (!bfsd_node_named(m, n))
			st->st_nlink = 0;
		return 0;
	}
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, &b, path);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, false);
		ret = bfsd_view_stat(m->fs, b, path, st);
		bfsd_unlock_ns(m->fs, b);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret == -ENOENT)
		ret = nameless_attr(m, n, st);
	return ret;
}

void bfsd_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct stat st;
	int ret = node_attr(m, n, fi, &st);

	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, bfsd_ll_node_timeout(m, n));
}

static int setattr_flags(int to_set)
{
	int f = 0;

	f |= (to_set & FUSE_SET_ATTR_MODE) ? BFSD_SET_MODE : 0;
	f |= (to_set & FUSE_SET_ATTR_UID) ? BFSD_SET_UID : 0;
	f |= (to_set & FUSE_SET_ATTR_GID) ? BFSD_SET_GID : 0;
	f |= (to_set & FUSE_SET_ATTR_SIZE) ? BFSD_SET_SIZE : 0;
	f |= (to_set & FUSE_SET_ATTR_ATIME) ? BFSD_SET_ATIME : 0;
	f |= (to_set & FUSE_SET_ATTR_MTIME) ? BFSD_SET_MTIME : 0;
	f |= (to_set & FUSE_SET_ATTR_ATIME_NOW) ? BFSD_SET_ATIME_NOW : 0;
	f |= (to_set & FUSE_SET_ATTR_MTIME_NOW) ? BFSD_SET_MTIME_NOW : 0;
	return f;
}

/* setattr of a file no name shows any more, through an open file of it. */
static int nameless_setattr(fuse_req_t req, struct bfsd_mount *m, struct bfsd_node *n,
			    struct bfsd_file *f, const struct stat *attr, int to_set,
			    struct stat *st)
{
	struct bfsd_file *held = f ? NULL : bfsd_node_open_file(m, n);
	int ret;

	if (!f && !held)
		return -ENOENT;
	ret = bfsd_file_setattr(m->fs, f ? f : held, attr, to_set, st);
	if (!ret && (to_set & BFSD_SET_SIZE) && bfsd_ll_kill_suidgid()) {
		struct stat killed = { .st_mode = bfsd_ll_killed_mode(req, st) };

		if (killed.st_mode != st->st_mode)
			ret = bfsd_file_setattr(m->fs, f ? f : held, &killed, BFSD_SET_MODE, st);
	}
	if (!ret)
		st->st_ino = n->ino;
	bfsd_file_close(m->fs, held);
	return ret;
}

void bfsd_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		     struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct bfsd_file *f = NULL;
	struct bfsd_inval iv = { 0 };
	struct bfsd_branch *b = m->fs->main;
	char path[PATH_MAX];
	struct stat st;
	int ret;

	if (n->kind == BFSD_NODE_CTL) {
		/* O_TRUNC on a control file: nothing to truncate. */
		ret = bfsd_ll_special_attr(m, n, &st);
		goto out_reply;
	}
	if (fi && fi->fh && S_ISREG(n->type))
		f = (struct bfsd_file *)(uintptr_t)fi->fh;
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, &b, path);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret == -ENOENT && n->kind == BFSD_NODE_OBJECT) {
		ret = nameless_setattr(req, m, n, f, attr, setattr_flags(to_set), &st);
		goto out_reply;
	}
	/* A handle left behind by a freeze or a new epoch catches up first. */
	if (!ret && f && bfsd_file_needs_prepare(m->fs, f))
		ret = bfsd_file_prepare_write(m->fs, f, path);
	if (ret)
		goto out_reply;
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, &b, path);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = bfsd_view_setattr(m->fs, b, path, attr, setattr_flags(to_set), f, &st);
		/* A truncate the kernel marked drops setuid/setgid (ll_io.c);
		 * a chown, the filesystem below drops them itself. */
		if (!ret && (to_set & FUSE_SET_ATTR_SIZE) && bfsd_ll_kill_suidgid()) {
			struct stat killed = { .st_mode = bfsd_ll_killed_mode(req, &st) };

			if (killed.st_mode != st.st_mode)
				ret = bfsd_view_setattr(m->fs, b, path, &killed, BFSD_SET_MODE, f,
							&st);
		}
		bfsd_unlock_ns(m->fs, b);
		if (!ret)
			bfsd_inval_twin(m, &iv, n, b, path, false);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (!ret && n->kind == BFSD_NODE_ROOT)
		st.st_ino = SPECIAL_INO;
out_reply:
	bfsd_inval_now(m, &iv);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st,
				n->kind == BFSD_NODE_CTL || bfsd_pending_node(m, n)
					? 0
					: bfsd_ll_timeout(m, b));
	bfsd_inval_send(m, &iv);
}

void bfsd_ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	char path[PATH_MAX], target[PATH_MAX];
	struct bfsd_branch *b;
	int ret;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = n->kind == BFSD_NODE_OBJECT ? bfsd_node_target(m, n, &b, path) : -EINVAL;
	if (!ret) {
		bfsd_lock_ns(m->fs, b, false);
		ret = bfsd_view_readlink(m->fs, b, path, target, sizeof(target));
		bfsd_unlock_ns(m->fs, b);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_readlink(req, target);
}

void bfsd_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct statvfs sv;
	bool in_main;
	int fd;

	/* The filesystem the view's writes land on: the base for main, the
	 * storage for a branch (the same numbers when they share a disk). */
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	in_main = (n->branch ? n->branch : m->fs->current) == m->fs->main;
	pthread_rwlock_unlock(&m->fs->tree_lock);
	fd = in_main ? m->fs->base->dirfd : m->fs->storage_fd;
	if (fstatvfs(fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	/* With a storage limit, the limit is the size and what is left of it
	 * (or of the disk, when less) is free. */
	if (m->fs->quota && sv.f_frsize) {
		uint64_t used = (uint64_t)atomic_load(&m->fs->used);
		uint64_t left = used < (uint64_t)m->fs->quota ? m->fs->quota - used : 0;

		sv.f_blocks = m->fs->quota / sv.f_frsize;
		if (left / sv.f_frsize < sv.f_bavail)
			sv.f_bavail = left / sv.f_frsize;
		if (left / sv.f_frsize < sv.f_bfree)
			sv.f_bfree = left / sv.f_frsize;
	}
	fuse_reply_statfs(req, &sv);
}
