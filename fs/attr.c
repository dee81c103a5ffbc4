/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attributes of objects in a view: setattr (mode, owner, size, times),
 * readlink and extended attributes; and the placement primitives a commit
 * uses to land a branch's objects in its parent (put, ensure_dir, dir
 * attributes).
 *
 * A change to an object's attributes copies it up first (main: preserves
 * it).  Extended attribute names that collide with the private marker prefix
 * are escaped in storage layers, so users can neither see nor forge markers.
 *
 * Locks as in view.c.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Get path in b ready for an in-place change; *l/phys say where it is. */
static int modify_prepare(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, bool data,
			  struct bfsd_layer **l)
{
	int ret;

	*l = bfsd_branch_top(fs, b);
	if (b == fs->main) {
		ret = bfsd_preserve(fs, path, BFSD_CH_MODIFY);
		return ret < 0 ? ret : 0;
	}
	return bfsd_copyup(fs, b, path, data);
}

bool bfsd_setattr_times(const struct stat *attr, int to_set, struct timespec ts[2])
{
	ts[0] = ts[1] = (struct timespec){ 0, UTIME_OMIT };
	if (to_set & BFSD_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & BFSD_SET_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & BFSD_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & BFSD_SET_MTIME)
		ts[1] = attr->st_mtim;
	return ts[0].tv_nsec != UTIME_OMIT || ts[1].tv_nsec != UTIME_OMIT;
}

static int set_times(const struct bfsd_at *at, const struct stat *attr, int to_set)
{
	struct timespec ts[2];

	bfsd_setattr_times(attr, to_set, ts);
	if (utimensat(at->fd, at->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* The changes of setattr, on the object at (in layer l). */
static int set_attrs(struct bfsd_fs *fs, struct bfsd_layer *l, const struct bfsd_at *at,
		     const struct stat *attr, int to_set, struct bfsd_file *f)
{
	int ret;

	if ((to_set & (BFSD_SET_UID | BFSD_SET_GID)) &&
	    fchownat(at->fd, at->name, (to_set & BFSD_SET_UID) ? attr->st_uid : (uid_t)-1,
		     (to_set & BFSD_SET_GID) ? attr->st_gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (to_set & BFSD_SET_MODE) {
		ret = bfsd_at_chmod(at, attr->st_mode & 07777);
		if (ret)
			return ret;
	}
	if (to_set & BFSD_SET_SIZE) {
		ret = f ? bfsd_file_truncate(fs, f, attr->st_size)
			: bfsd_truncate_at(fs, l, at, attr->st_size);
		if (ret)
			return ret;
	}
	if (to_set & (BFSD_SET_ATIME | BFSD_SET_MTIME | BFSD_SET_ATIME_NOW | BFSD_SET_MTIME_NOW))
		return set_times(at, attr, to_set);
	return 0;
}

int bfsd_view_setattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		      const struct stat *attr, int to_set, struct bfsd_file *f, struct stat *st)
{
	const int changes = BFSD_SET_MODE | BFSD_SET_UID | BFSD_SET_GID | BFSD_SET_SIZE |
			    BFSD_SET_ATIME | BFSD_SET_MTIME | BFSD_SET_ATIME_NOW |
			    BFSD_SET_MTIME_NOW;
	bool data = !((to_set & BFSD_SET_SIZE) && attr->st_size == 0);
	struct bfsd_layer *l;
	struct bfsd_at at;
	int ret;

	if (!(to_set & changes))
		return bfsd_view_stat(fs, b, path, st);
	ret = modify_prepare(fs, b, path, data, &l);
	if (!ret)
		ret = bfsd_at_open(l, path, &at);
	if (ret)
		return ret;
	ret = set_attrs(fs, l, &at, attr, to_set, f);
	bfsd_at_close(&at);
	if (ret)
		return ret;
	atomic_store(&l->dirty, true);
	return bfsd_view_stat(fs, b, path, st);
}

int bfsd_view_readlink(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, char *buf,
		       size_t size)
{
	struct bfsd_res *r;
	struct bfsd_at at;
	ssize_t n;
	int ret = bfsd_resolve_existing(fs, b, path, &r);

	if (ret)
		return ret;
	if (r->type != S_IFLNK) {
		bfsd_res_put(r);
		return -EINVAL;
	}
	ret = bfsd_at_open(r->loc[0].layer, r->loc[0].phys, &at);
	if (!ret) {
		n = readlinkat(at.fd, at.name, buf, size - 1);
		ret = n < 0 ? -errno : 0;
		if (n >= 0)
			buf[n] = '\0';
		bfsd_at_close(&at);
	}
	bfsd_res_put(r);
	return ret;
}

/* The object carrying a path's attributes, held open for l*xattr(). */
struct attr_obj {
	struct bfsd_res *r;
	struct bfsd_at at;
	char abs[PATH_MAX];
	bool storage;
};

static int attr_open(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		     struct attr_obj *o)
{
	const struct bfsd_loc *loc;
	int ret = bfsd_resolve_existing(fs, b, path, &o->r);

	if (ret)
		return ret;
	loc = &o->r->loc[o->r->attr];
	o->storage = bfsd_layer_is_storage(loc->layer);
	ret = bfsd_at_open(loc->layer, loc->phys, &o->at);
	if (!ret)
		ret = bfsd_at_abspath(&o->at, o->abs);
	if (ret) {
		bfsd_at_close(&o->at);
		bfsd_res_put(o->r);
	}
	return ret;
}

static void attr_close(struct attr_obj *o)
{
	bfsd_at_close(&o->at);
	bfsd_res_put(o->r);
}

ssize_t bfsd_view_getxattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			   const char *name, void *buf, size_t size)
{
	char esc[XATTR_NAME_MAX + 1];
	struct attr_obj o;
	ssize_t n;
	int ret = attr_open(fs, b, path, &o);

	if (ret)
		return ret;
	if (o.storage)
		name = bfsd_xattr_to_layer(fs, name, esc, sizeof(esc));
	n = name ? lgetxattr(o.abs, name, buf, size) : -1;
	if (n < 0)
		n = name ? -errno : -ERANGE;
	attr_close(&o);
	return n;
}

/* The user-visible xattr names of o into out. */
static ssize_t list_visible(struct bfsd_fs *fs, const struct attr_obj *o, struct bfsd_buf *out)
{
	ssize_t n = llistxattr(o->abs, NULL, 0);
	char *raw;

	if (n <= 0)
		return n < 0 ? -errno : 0;
	raw = malloc(n);
	if (!raw)
		return -ENOMEM;
	n = llistxattr(o->abs, raw, n);
	if (n < 0)
		n = -errno;
	for (char *p = raw; n > 0 && p < raw + n; p += strlen(p) + 1) {
		const char *name = o->storage ? bfsd_xattr_from_layer(fs, p) : p;

		if (name && bfsd_buf_add(out, name, strlen(name) + 1))
			n = -ENOMEM;
	}
	free(raw);
	return n < 0 ? n : (ssize_t)out->len;
}

ssize_t bfsd_view_listxattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, char *buf,
			    size_t size)
{
	struct bfsd_buf out = { 0 };
	struct attr_obj o;
	ssize_t n;
	int ret = attr_open(fs, b, path, &o);

	if (ret)
		return ret;
	n = list_visible(fs, &o, &out);
	attr_close(&o);
	if (n > 0 && size && (size_t)n > size)
		n = -ERANGE;
	else if (n > 0 && size)
		memcpy(buf, out.data, n);
	bfsd_buf_free(&out);
	return n;
}

static int xattr_change(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			const char *name, const void *val, size_t size, int flags, bool remove)
{
	char abs[PATH_MAX], esc[XATTR_NAME_MAX + 1];
	struct bfsd_layer *l;
	struct bfsd_at at;
	int ret;

	ret = modify_prepare(fs, b, path, true, &l);
	if (!ret)
		ret = bfsd_at_open(l, path, &at);
	if (ret)
		return ret;
	ret = bfsd_at_abspath(&at, abs);
	if (bfsd_layer_is_storage(l))
		name = bfsd_xattr_to_layer(fs, name, esc, sizeof(esc));
	if (!ret && !name)
		ret = -ERANGE;
	else if (!ret && remove && lremovexattr(abs, name) < 0)
		ret = -errno;
	else if (!ret && !remove && lsetxattr(abs, name, val, size, flags) < 0)
		ret = -errno;
	bfsd_at_close(&at);
	if (!ret)
		atomic_store(&l->dirty, true);
	return ret;
}

int bfsd_view_setxattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		       const char *name, const void *val, size_t size, int flags)
{
	struct bfsd_res *r;
	int ret = bfsd_resolve_existing(fs, b, path, &r);

	if (ret)
		return ret;
	bfsd_res_put(r);
	return xattr_change(fs, b, path, name, val, size, flags, false);
}

int bfsd_view_removexattr(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			  const char *name)
{
	char tmp[1];
	ssize_t n = bfsd_view_getxattr(fs, b, path, name, tmp, 0);

	if (n < 0)
		return (int)n;
	return xattr_change(fs, b, path, name, NULL, 0, 0, true);
}

/* ---- commit placement ---- */

/*
 * Make every ancestor of path a directory in b.  The plan creates the
 * directories a branch made; this only repairs ancestors the parent lost
 * since the branch was created, shaped like the object's own container.
 */
static int ensure_parents(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			  struct bfsd_layer *l, const char *phys)
{
	char prefix[PATH_MAX], like[PATH_MAX];
	const char *s = path;
	int ret;

	bfsd_path_split(phys, like);
	for (;;) {
		const char *slash = strchr(s, '/');

		if (!slash)
			return 0;
		memcpy(prefix, path, slash - path);
		prefix[slash - path] = '\0';
		s = slash + 1;
		ret = bfsd_view_ensure_dir(fs, b, prefix, l, like);
		if (ret)
			return ret;
	}
}

/* A storage object about to land in the base: drop markers, unescape. */
static int strip_private(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys)
{
	char abs[PATH_MAX], names[4096], *val = NULL;
	ssize_t n;
	int ret = bfsd_layer_abspath(l, phys, abs);

	if (ret)
		return ret;
	n = llistxattr(abs, names, sizeof(names));
	if (n <= 0)
		return 0;
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		const char *user;
		ssize_t vlen;

		if (strncmp(p, fs->xattr_prefix, fs->xattr_prefix_len))
			continue;
		user = bfsd_xattr_from_layer(fs, p);
		if (user) {
			if (!val)
				val = malloc(XATTR_SIZE_MAX);
			if (!val)
				return -ENOMEM;
			vlen = lgetxattr(abs, p, val, XATTR_SIZE_MAX);
			if (vlen >= 0)
				lsetxattr(abs, user, val, vlen, 0);
		}
		lremovexattr(abs, p);
	}
	free(val);
	return 0;
}

int bfsd_view_put(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, struct bfsd_layer *l,
		  const char *phys)
{
	struct bfsd_layer *top = bfsd_branch_top(fs, b);
	struct bfsd_res *r;
	struct stat st, old = { 0 };
	int ret;

	if (fstatat(l->dirfd, phys, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno; /* moved already */
	ret = ensure_parents(fs, b, path, l, phys);
	if (ret)
		return ret;
	ret = bfsd_resolve(fs, b, path, &r);
	if (ret)
		return ret;
	if (r->type == S_IFDIR)
		ret = bfsd_view_remove_tree(fs, b, path); /* and forgets its names */
	else if (r->type && bfsd_res_stat(r, &old))
		old.st_mode = S_IFDIR; /* not known: forget whatever lies there */
	bfsd_res_put(r);
	if (ret)
		return ret;
	if (b == fs->main) {
		ret = bfsd_preserve(fs, path, BFSD_CH_CREATE);
		if (ret >= 0)
			ret = strip_private(fs, l, phys);
	} else {
		ret = bfsd_copyup_parents(fs, b, path);
	}
	if (ret < 0)
		return ret;
	bfsd_fault_point(fs, "put-prepared");
	ret = bfsd_layer_rename_in(l->dirfd, phys, top, path);
	if (ret == -EXDEV) {
		ret = bfsd_copy_object(fs, l, phys, top, path, true, 0);
		if (!ret)
			unlinkat(l->dirfd, phys, 0);
	}
	if (ret)
		return ret;
	bfsd_quota_move(fs, l, top, &st);
	if (b == fs->main) {
		struct stat now;

		bfsd_links_forget(fs, path, &old);
		if (!bfsd_layer_lstat(top, path, &now))
			bfsd_links_add(fs, path, &now);
	}
	atomic_store(&top->dirty, true);
	if (b != fs->main)
		bfsd_cache_drop(b, path);
	return 0;
}

int bfsd_view_ensure_dir(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			 struct bfsd_layer *l, const char *phys)
{
	struct bfsd_cred cred = { 0 };
	struct bfsd_res *r;
	struct stat st;
	int ret;

	ret = bfsd_resolve(fs, b, path, &r);
	/* A committing child changed inside a directory its parent has since
	 * removed or replaced: the child's copy of it comes back. */
	if (ret == -ENOENT || ret == -ENOTDIR) {
		ret = ensure_parents(fs, b, path, l, phys);
		for (const char *s = path; !ret && fs->committing && (s = strchr(s, '/')); s++) {
			char prefix[PATH_MAX];

			memcpy(prefix, path, s - path);
			prefix[s - path] = '\0';
			ret = bfsd_oplist_add(&fs->remade, BFSD_OP_MKDIR, 0, NULL, prefix, 0);
		}
		if (!ret)
			ret = bfsd_resolve(fs, b, path, &r);
	}
	if (ret)
		return ret;
	if (r->type == S_IFDIR) {
		bfsd_res_put(r);
		return 0;
	}
	ret = r->type ? bfsd_view_remove_tree(fs, b, path) : 0;
	bfsd_res_put(r);
	if (ret)
		return ret;
	if (fstatat(l->dirfd, bfsd_rel(phys), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	cred.uid = st.st_uid;
	cred.gid = st.st_gid;
	ret = bfsd_view_mkdir(fs, b, path, st.st_mode & 07777, &cred, NULL);
	if (ret && ret != -EEXIST)
		return ret;
	return bfsd_view_copy_dir_attrs(fs, b, path, l, phys, NULL);
}

int bfsd_view_copy_dir_attrs(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			     struct bfsd_layer *l, const char *phys, const struct timespec *times)
{
	struct bfsd_layer *top;
	int ret;

	ret = modify_prepare(fs, b, path, false, &top);
	if (ret)
		return ret;
	ret = bfsd_copy_attrs(fs, l, phys, top, path, false, times);
	if (!ret && b != fs->main)
		bfsd_cache_drop(b, path);
	return ret;
}
