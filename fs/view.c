/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Views: namespace operations on a branch as its users see it.
 *
 * Main works on the base directory directly, after bfsd_preserve() has kept
 * what live branches still see.  A branch works on its top layer: objects
 * are copied up before they change, removed names that a lower layer still
 * has get a whiteout, and a new object replacing a whiteout is built aside
 * and renamed over it so the lower object never shows through.
 *
 * Callers hold tree_lock shared, the branch's ns_lock exclusive and, for a
 * branch other than main, lower_lock shared (see bfsd_lock_op).
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bfsd_view_parent(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		     struct bfsd_res **out)
{
	char parent[PATH_MAX];
	int ret;

	bfsd_path_split(path, parent);
	ret = bfsd_resolve_existing(fs, b, parent, out);
	if (ret)
		return ret;
	if ((*out)->type != S_IFDIR) {
		bfsd_res_put(*out);
		*out = NULL;
		return -ENOTDIR;
	}
	return 0;
}

bool bfsd_view_lower_has(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *parent,
			 const char *name)
{
	char phys[PATH_MAX];

	if (b == fs->main)
		return false;
	for (int i = 0; i < parent->nloc; i++) {
		const struct bfsd_loc *pl = &parent->loc[i];
		struct stat st;

		if (pl->idx == 0)
			continue;
		if (bfsd_path_join(phys, pl->phys, name))
			return true;
		if (bfsd_layer_lstat(pl->layer, phys, &st))
			continue;
		return !bfsd_marker_is_whiteout(pl->layer, phys, &st);
	}
	return false;
}

bool bfsd_view_need_whiteout(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path)
{
	struct bfsd_res *parent;
	bool need;

	if (b == fs->main)
		return false;
	if (bfsd_view_parent(fs, b, path, &parent))
		return true;
	need = bfsd_view_lower_has(fs, b, parent,
				   strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	bfsd_res_put(parent);
	return need;
}

void bfsd_view_fix_stat(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r,
			struct stat *st)
{
	st->st_ino = bfsd_fs_salt(b, r->vino);
	/*
	 * A branch directory merged from several layers has no meaningful link
	 * count, and copying one up would change it: in branches every
	 * directory reports 1 ("unknown", which find and fts understand).
	 */
	if (r->type == S_IFDIR && b != fs->main)
		st->st_nlink = 1;
}

int bfsd_view_stat_ident(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			 struct stat *st, dev_t *dev, ino_t *ino)
{
	struct bfsd_res *r;
	/* The lstat a resolution just took, when it took one (a create's). */
	int ret = bfsd_resolve_stat(fs, b, path, &r, st);

	if (ret)
		return ret;
	if (!r->type) {
		bfsd_res_put(r);
		return -ENOENT;
	}
	if (dev)
		*dev = st->st_dev;
	if (ino)
		*ino = st->st_ino;
	bfsd_view_fix_stat(fs, b, r, st);
	bfsd_res_put(r);
	return 0;
}

int bfsd_view_stat(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, struct stat *st)
{
	return bfsd_view_stat_ident(fs, b, path, st, NULL, NULL);
}

/*
 * Common start of every creation: the parent must be a directory, the name
 * must be free; main preserves, a branch copies up the parent directories.
 * *over_whiteout says the new object must replace a whiteout atomically.
 */
static int prepare_new(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		       struct stat *parent_st, bool *over_whiteout)
{
	struct bfsd_res *parent, *r;
	int ret;

	if (!path[0])
		return -EEXIST;
	ret = bfsd_view_parent(fs, b, path, &parent);
	if (ret)
		return ret;
	ret = bfsd_res_stat(parent, parent_st);
	bfsd_res_put(parent);
	if (ret)
		return ret;
	ret = bfsd_resolve(fs, b, path, &r);
	if (ret)
		return ret;
	*over_whiteout = r->top_whiteout;
	ret = r->type ? -EEXIST : 0;
	bfsd_res_put(r);
	if (ret)
		return ret;
	if (b == fs->main) {
		ret = bfsd_preserve(fs, path, BFSD_CH_CREATE);
		return ret < 0 ? ret : 0;
	}
	return bfsd_copyup_parents(fs, b, path);
}

/*
 * Owner of a new object: the caller, or the parent's group under setgid
 * (where a new directory also inherits the set-group-id bit); chowned only
 * when it was made with another.  The mode it was made with is given back
 * after a chown, which clears set-user-id and set-group-id on anything but
 * a directory, even for root: the bits the caller asked for stay, as on a
 * local disk.  (The kernel drops a set-group-id bit the caller may not
 * have before the request arrives.)
 */
static int set_owner(struct bfsd_fs *fs, const struct bfsd_at *at, const struct bfsd_cred *cred,
		     const struct stat *parent_st, bool dir)
{
	gid_t gid = cred->gid;
	struct stat made;
	mode_t want;
	bool chowned = false;

	if (fstatat(at->fd, at->name, &made, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	want = made.st_mode & 07777;
	if (parent_st->st_mode & S_ISGID) {
		gid = parent_st->st_gid;
		if (dir)
			want |= S_ISGID;
	}
	if (made.st_uid != cred->uid || made.st_gid != gid) {
		if (fchownat(at->fd, at->name, cred->uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != EPERM)
			return -errno;
		chowned = true;
	}
	if (S_ISLNK(made.st_mode))
		return 0;
	if (want != (made.st_mode & 07777) || (chowned && (want & (S_ISUID | S_ISGID))))
		return bfsd_at_chmod(at, want);
	return 0;
}

/* What kind of object a creation makes. */
struct newobj {
	mode_t mode;	 /* S_IFMT | permission bits */
	dev_t rdev;	 /* for nodes */
	const char *tgt; /* for symlinks */
	int flags;	 /* for regular files: open flags of the returned fd */
};

/*
 * Create with the caller's umask as this thread's own (threads unshare
 * their filesystem context once), so the filesystem applies the umask, or
 * instead the parent directory's default ACL, exactly as for a local user.
 */
static void caller_umask(mode_t mask)
{
	static __thread bool unshared;

	if (!unshared)
		unshared = unshare(CLONE_FS) == 0;
	if (unshared)
		umask(mask);
}

static int make_at(const struct bfsd_at *at, const struct newobj *o, int *fd)
{
	switch (o->mode & S_IFMT) {
	case S_IFREG:
		*fd = openat(at->fd, at->name,
			     (o->flags & ~(O_TRUNC | O_CREAT | O_EXCL)) | O_CREAT | O_EXCL |
				     O_NOFOLLOW | O_CLOEXEC,
			     o->mode & 07777);
		return *fd < 0 ? -errno : 0;
	case S_IFDIR:
		return mkdirat(at->fd, at->name, o->mode & 07777) < 0 ? -errno : 0;
	case S_IFLNK:
		return symlinkat(o->tgt, at->fd, at->name) < 0 ? -errno : 0;
	default:
		return mknodat(at->fd, at->name, o->mode, o->rdev) < 0 ? -errno : 0;
	}
}

/*
 * Create o at path in b.  Over a whiteout the object is made in the work
 * directory (opaque, when a directory) and renamed over it.
 */
static int create_obj(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		      const struct newobj *o, const struct bfsd_cred *cred, int *fd,
		      struct stat *st)
{
	struct stat parent_st;
	struct bfsd_layer *top;
	struct bfsd_at at = { .fd = fs->work_fd, .owned = false };
	char tmp[NAME_MAX + 1];
	bool over_wh = false;
	int ret;

	*fd = -1;
	ret = prepare_new(fs, b, path, &parent_st, &over_wh);
	if (ret)
		return ret;
	top = bfsd_branch_top(fs, b);
	if (over_wh) {
		bfsd_fs_tmpname(fs, tmp);
		at.name = tmp;
	} else {
		ret = bfsd_at_open(top, path, &at);
		if (ret)
			return ret;
	}
	caller_umask(cred->umask);
	ret = make_at(&at, o, fd);
	caller_umask(0);
	if (ret)
		goto out_close;
	ret = set_owner(fs, &at, cred, &parent_st, S_ISDIR(o->mode));
	if (!ret && over_wh && S_ISDIR(o->mode)) {
		static const char one = '1';

		/* Nothing of the deleted directory below may show through. */
		ret = bfsd_marker_set(fs->work, tmp, "opaque", &one, 1);
	}
	if (!ret && over_wh)
		ret = bfsd_layer_rename_in(fs->work_fd, tmp, top, path);
	if (ret)
		goto out_remove;
	bfsd_at_close(&at);
	atomic_store(&top->dirty, true);
	if (b != fs->main) {
		bfsd_cache_drop(b, path);
		if (S_ISDIR(o->mode))
			bfsd_cache_flush(b);
	}
	return st ? bfsd_view_stat(fs, b, path, st) : 0;

out_remove:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (over_wh)
		bfsd_rm_rf_at(fs->work_fd, tmp);
	else
		unlinkat(at.fd, at.name, S_ISDIR(o->mode) ? AT_REMOVEDIR : 0);
out_close:
	bfsd_at_close(&at);
	return ret;
}

int bfsd_view_create(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, int flags,
		     mode_t mode, const struct bfsd_cred *cred, int *fd, struct stat *st)
{
	struct newobj o = { .mode = S_IFREG | (mode & 07777), .flags = flags };

	return create_obj(fs, b, path, &o, cred, fd, st);
}

int bfsd_view_mkdir(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, mode_t mode,
		    const struct bfsd_cred *cred, struct stat *st)
{
	struct newobj o = { .mode = S_IFDIR | (mode & 07777) };
	int fd;

	return create_obj(fs, b, path, &o, cred, &fd, st);
}

int bfsd_view_mknod(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, mode_t mode,
		    dev_t rdev, const struct bfsd_cred *cred, struct stat *st)
{
	struct newobj o = { .mode = mode, .rdev = rdev };
	int fd, ret;

	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	if (S_ISREG(mode) || !(mode & S_IFMT)) {
		o.mode = S_IFREG | (mode & 07777);
		o.flags = O_WRONLY;
	}
	ret = create_obj(fs, b, path, &o, cred, &fd, st);
	if (fd >= 0)
		close(fd);
	return ret;
}

int bfsd_view_symlink(struct bfsd_fs *fs, struct bfsd_branch *b, const char *target,
		      const char *path, const struct bfsd_cred *cred, struct stat *st)
{
	struct newobj o = { .mode = S_IFLNK | 0777, .tgt = target };
	int fd;

	return create_obj(fs, b, path, &o, cred, &fd, st);
}

/* Link from at to; over a whiteout, made aside and renamed over it. */
static int link_at(struct bfsd_fs *fs, const struct bfsd_at *from, const struct bfsd_at *to,
		   bool over_wh)
{
	char tmp[NAME_MAX + 1];
	int ret;

	if (!over_wh)
		return linkat(from->fd, from->name, to->fd, to->name, 0) < 0 ? -errno : 0;
	bfsd_fs_tmpname(fs, tmp);
	if (linkat(from->fd, from->name, fs->work_fd, tmp, 0) < 0)
		return -errno;
	if (renameat(fs->work_fd, tmp, to->fd, to->name) < 0) {
		ret = -errno;
		unlinkat(fs->work_fd, tmp, 0);
		return ret;
	}
	return 0;
}

int bfsd_view_link(struct bfsd_fs *fs, struct bfsd_branch *b, const char *oldpath,
		   const char *newpath, struct stat *st)
{
	struct bfsd_at from, to = { .owned = false };
	struct bfsd_res *r;
	struct stat parent_st;
	struct bfsd_layer *top;
	bool over_wh = false;
	int ret;

	ret = bfsd_resolve_existing(fs, b, oldpath, &r);
	if (ret)
		return ret;
	ret = r->type == S_IFDIR ? -EPERM : 0;
	bfsd_res_put(r);
	if (ret)
		return ret;
	ret = prepare_new(fs, b, newpath, &parent_st, &over_wh);
	/* Main's link counts one more link of the file (and moves its
	 * ctime): branches keep the one they saw. */
	if (!ret && b == fs->main)
		ret = bfsd_preserve(fs, oldpath, BFSD_CH_MODIFY);
	else if (!ret)
		ret = bfsd_copyup(fs, b, oldpath, true);
	if (ret < 0)
		return ret;
	top = bfsd_branch_top(fs, b);
	ret = bfsd_at_open(top, oldpath, &from);
	if (ret)
		return ret;
	ret = bfsd_at_open(top, newpath, &to);
	if (ret)
		goto out_close;
	ret = link_at(fs, &from, &to, over_wh);
	if (ret)
		goto out_close;
	atomic_store(&top->dirty, true);
	if (b != fs->main) {
		bfsd_cache_drop(b, oldpath);
		bfsd_cache_drop(b, newpath);
	} else {
		struct stat ls;

		if (fstatat(to.fd, to.name, &ls, AT_SYMLINK_NOFOLLOW) == 0) {
			bfsd_links_add(fs, oldpath, &ls);
			bfsd_links_add(fs, newpath, &ls);
		}
	}
	if (st)
		ret = bfsd_view_stat(fs, b, newpath, st);
out_close:
	bfsd_at_close(&to);
	bfsd_at_close(&from);
	return ret;
}

/* Take the top layer's copy of path out of the namespace (into the trash). */
static int drop_top(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, bool dir)
{
	struct bfsd_layer *top = bfsd_branch_top(fs, b);
	char tmp[NAME_MAX + 1];
	struct stat st;

	if (!dir) {
		bool last = bfsd_quota_on(fs) &&
			    fstatat(top->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode) && st.st_nlink == 1;

		if (unlinkat(top->dirfd, path, 0) < 0)
			return errno != ENOENT ? -errno : 0;
		if (last)
			bfsd_quota_charge(fs, top, -(int64_t)st.st_size);
		return 0;
	}
	bfsd_fs_tmpname(fs, tmp);
	if (renameat(top->dirfd, path, fs->trash_fd, tmp) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bfsd_quota_on(fs))
		bfsd_quota_charge(fs, top, -bfsd_quota_tree_bytes(fs->trash_fd, tmp));
	bfsd_store_wake_reclaimer(fs);
	return 0;
}

/* Remove the name path from branch b (not main), whiteout included. */
static int branch_remove(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r)
{
	bool need = bfsd_view_need_whiteout(fs, b, r->path);
	struct bfsd_layer *top = b->layers[0];
	int ret = 0;

	if (r->type == S_IFDIR && bfsd_res_in_top(fs, b, r))
		ret = drop_top(fs, b, r->path, true);
	if (!ret && need) {
		ret = bfsd_copyup_parents(fs, b, r->path);
		if (!ret)
			ret = bfsd_marker_whiteout_make(top, r->path);
	} else if (!ret && r->type != S_IFDIR && bfsd_res_in_top(fs, b, r)) {
		ret = drop_top(fs, b, r->path, false);
	}
	atomic_store(&top->dirty, true);
	bfsd_cache_drop(b, r->path);
	if (r->type == S_IFDIR)
		bfsd_cache_flush(b);
	return ret;
}

/* unlinkat in the base, through no symlinked ancestor. */
static int base_unlink(struct bfsd_fs *fs, const char *path, int flags)
{
	struct bfsd_at at;
	int ret = bfsd_at_open(fs->base, path, &at);

	if (ret)
		return ret;
	if (unlinkat(at.fd, at.name, flags) < 0)
		ret = -errno;
	bfsd_at_close(&at);
	return ret;
}

/* Remove the base's tree at path: into the trash when it is on our
 * filesystem, else now. */
static int base_drop(struct bfsd_fs *fs, const char *path, bool dir)
{
	char tmp[NAME_MAX + 1];
	struct bfsd_at at;
	int ret;

	if (!dir)
		return base_unlink(fs, path, 0);
	ret = bfsd_at_open(fs->base, path, &at);
	if (ret)
		return ret;
	bfsd_fs_tmpname(fs, tmp);
	if (renameat(at.fd, at.name, fs->trash_fd, tmp) == 0)
		bfsd_store_wake_reclaimer(fs);
	else
		ret = bfsd_rm_rf_at(at.fd, at.name);
	bfsd_at_close(&at);
	return ret;
}

int bfsd_view_unlink(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path)
{
	struct bfsd_res *r;
	struct stat st;
	int ret = bfsd_resolve_existing(fs, b, path, &r);

	if (ret)
		return ret;
	/*
	 * One name of a file with others: bring the file up with all its
	 * names first, so the names left keep one file with one link fewer.
	 */
	if (b != fs->main && r->type == S_IFREG && !bfsd_res_in_top(fs, b, r) &&
	    !bfsd_res_stat(r, &st) && st.st_nlink > 1) {
		bfsd_res_put(r);
		ret = bfsd_copyup(fs, b, path, true);
		if (!ret)
			ret = bfsd_resolve_existing(fs, b, path, &r);
		if (ret)
			return ret;
	}
	if (r->type == S_IFDIR) {
		ret = -EISDIR;
	} else if (b == fs->main) {
		bool known = !bfsd_res_stat(r, &st);

		ret = bfsd_preserve(fs, path, BFSD_CH_REMOVE);
		if (ret == 0)
			ret = base_unlink(fs, path, 0);
		ret = ret < 0 ? ret : 0;
		if (!ret)
			bfsd_links_forget(fs, path, known ? &st : NULL);
	} else {
		ret = branch_remove(fs, b, r);
	}
	bfsd_res_put(r);
	return ret;
}

int bfsd_view_dir_empty(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r)
{
	struct bfsd_dirlist list = { 0 };
	int ret = bfsd_dir_list(fs, b, r, INT_MAX, 0, &list);

	if (ret)
		return ret;
	ret = list.n == 0;
	bfsd_dirlist_free(&list);
	return ret;
}

int bfsd_view_rmdir(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path)
{
	struct bfsd_res *r;
	int ret;

	if (!path[0])
		return -EBUSY;
	ret = bfsd_resolve_existing(fs, b, path, &r);
	if (ret)
		return ret;
	if (r->type != S_IFDIR) {
		ret = -ENOTDIR;
		goto out_put;
	}
	ret = bfsd_view_dir_empty(fs, b, r);
	if (ret <= 0) {
		ret = ret ? ret : -ENOTEMPTY;
		goto out_put;
	}
	if (b == fs->main) {
		ret = bfsd_preserve(fs, path, BFSD_CH_REMOVE);
		if (ret >= 0)
			ret = base_unlink(fs, path, AT_REMOVEDIR);
		ret = ret < 0 ? ret : 0;
	} else {
		ret = branch_remove(fs, b, r);
	}
out_put:
	bfsd_res_put(r);
	return ret;
}

int bfsd_view_remove_tree(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path)
{
	struct bfsd_res *r;
	int ret;

	ret = bfsd_resolve(fs, b, path, &r);
	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret)
		return ret;
	if (!r->type) {
		ret = 0;
	} else if (b != fs->main) {
		ret = branch_remove(fs, b, r);
	} else {
		struct stat st;
		bool known = !bfsd_res_stat(r, &st);

		/* Forgotten after: preservation keeps every name of a file
		 * below that has one outside too. */
		ret = bfsd_preserve(fs, path, BFSD_CH_DROP);
		if (ret == 0)
			ret = base_drop(fs, path, r->type == S_IFDIR);
		ret = ret < 0 ? ret : 0;
		bfsd_links_forget(fs, path, known ? &st : NULL);
	}
	bfsd_res_put(r);
	return ret;
}
