/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Copy-up: bringing an object into a branch's top layer before it changes,
 * and the copying primitives it shares with preservation and commit.
 *
 * Every copy is built under a temporary name (in storage/work for storage
 * targets, beside the target for the base) with its data, xattrs, owner,
 * mode and times, and renamed into place last: a crash leaves either the old
 * state or the complete copy, never a half-written object at the real name.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

static int copy_rw(int in, int out, off_t from, off_t to)
{
	static __thread char buf[1 << 17];

	while (from < to) {
		size_t want = (size_t)(to - from) < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = pread(in, buf, want, from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(out, buf + done, n - done, from + done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			done += w;
		}
		from += n;
	}
	return 0;
}

static int copy_range(int in, int out, off_t from, off_t to)
{
	loff_t ioff = from, ooff = from;

	while (ioff < to) {
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, to - ioff, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			return copy_rw(in, out, ioff, to);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
	}
	return 0;
}

int bfsd_copy_data(int in, int out, off_t len)
{
	off_t data = 0, hole;
	int ret;

	if (len == 0)
		return 0;
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	/* Copy data segments only, so sparse files stay sparse. */
	while (data < len) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			return copy_range(in, out, 0, len);
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || hole > len)
			hole = len;
		ret = copy_range(in, out, data, hole);
		if (ret)
			return ret;
		data = hole;
	}
	if (ftruncate(out, len) < 0)
		return -errno;
	return 0;
}

/* Remove user-visible xattrs of dst that src does not have. */
static int drop_extra_xattrs(struct bfsd_fs *fs, const char *src, const char *dst, int flags)
{
	char names[XATTR_LIST_MAX > 65536 ? 65536 : XATTR_LIST_MAX], esc[XATTR_NAME_MAX + 1];
	ssize_t n = llistxattr(dst, names, sizeof(names));

	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		const char *visible = p, *srcname;

		if (flags & BFSD_XA_DST_LAYER)
			visible = bfsd_xattr_from_layer(fs, p);
		if (!visible)
			continue; /* a private marker of dst */
		srcname = visible;
		if (flags & BFSD_XA_SRC_LAYER)
			srcname = bfsd_xattr_to_layer(fs, visible, esc, sizeof(esc));
		if (srcname && lgetxattr(src, srcname, NULL, 0) >= 0)
			continue;
		if (lremovexattr(dst, p) < 0 && errno != ENODATA && errno != EPERM)
			return -errno;
	}
	return 0;
}

int bfsd_copy_xattrs(struct bfsd_fs *fs, const char *src, const char *dst, int flags)
{
	char *names = NULL, *val = NULL, esc[XATTR_NAME_MAX + 1];
	ssize_t n;
	int ret = 0;

	if (flags & BFSD_XA_SYNC) {
		ret = drop_extra_xattrs(fs, src, dst, flags);
		if (ret)
			return ret;
	}
	n = llistxattr(src, NULL, 0);
	if (n <= 0)
		return n < 0 && errno != ENOTSUP ? -errno : 0;
	names = malloc(n);
	val = malloc(XATTR_SIZE_MAX);
	if (!names || !val) {
		ret = -ENOMEM;
		goto out_free;
	}
	n = llistxattr(src, names, n);
	if (n < 0) {
		ret = -errno;
		goto out_free;
	}
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		const char *name = p;
		ssize_t vlen;

		if (flags & BFSD_XA_SRC_LAYER)
			name = bfsd_xattr_from_layer(fs, p);
		if (!name)
			continue;
		if (flags & BFSD_XA_DST_LAYER)
			name = bfsd_xattr_to_layer(fs, name, esc, sizeof(esc));
		if (!name)
			continue;
		vlen = lgetxattr(src, p, val, XATTR_SIZE_MAX);
		if (vlen < 0)
			continue;
		if (lsetxattr(dst, name, val, vlen, 0) < 0 && errno != EPERM && errno != ENOTSUP &&
		    errno != EACCES) {
			ret = -errno;
			break;
		}
	}
out_free:
	free(names);
	free(val);
	return ret;
}

/* The user-visible xattrs of l/phys as "name=value" lines (sorted). */
static int visible_xattrs(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
			  struct bfsd_buf *out)
{
	char path[PATH_MAX], names[65536], val[4096];
	const char *sorted[1024];
	struct bfsd_at at;
	size_t n = 0;
	ssize_t len;
	int ret = bfsd_at_open(l, phys, &at);

	if (!ret)
		ret = bfsd_at_abspath(&at, path);
	if (ret)
		goto out_close;
	len = llistxattr(path, names, sizeof(names));
	if (len < 0) {
		ret = errno == ENOTSUP ? 0 : -errno;
		goto out_close;
	}
	for (char *p = names; p < names + len && n < 1024; p += strlen(p) + 1)
		if (!bfsd_layer_is_storage(l) || bfsd_xattr_from_layer(fs, p))
			sorted[n++] = p;
	qsort(sorted, n, sizeof(sorted[0]), bfsd_strcmp_ptr);
	for (size_t i = 0; i < n && !ret; i++) {
		ssize_t vl = lgetxattr(path, sorted[i], val, sizeof(val));
		const char *name =
			bfsd_layer_is_storage(l) ? bfsd_xattr_from_layer(fs, sorted[i]) : sorted[i];

		ret = bfsd_buf_addf(out, "%s=", name);
		if (!ret && vl > 0)
			ret = bfsd_buf_add(out, val, vl);
		if (!ret)
			ret = bfsd_buf_add(out, "\n", 1);
	}
out_close:
	bfsd_at_close(&at);
	return ret;
}

bool bfsd_xattrs_equal(struct bfsd_fs *fs, struct bfsd_layer *a, const char *pa,
		       struct bfsd_layer *b, const char *pb)
{
	struct bfsd_buf x = { 0 }, y = { 0 };
	bool equal = !visible_xattrs(fs, a, pa, &x) && !visible_xattrs(fs, b, pb, &y) &&
		     x.len == y.len && (!x.len || !memcmp(x.data, y.data, x.len));

	bfsd_buf_free(&x);
	bfsd_buf_free(&y);
	return equal;
}

/* Where a copy is built before it is renamed into dstl/dphys. */
struct tmpspot {
	int dirfd;
	char name[NAME_MAX + 1];
	char abs[PATH_MAX];
	struct bfsd_at parent; /* a base target's parent, held open */
};

static int tmpspot_init(struct bfsd_fs *fs, struct bfsd_layer *dstl, const char *dphys,
			struct tmpspot *t)
{
	int ret;

	t->parent.owned = false;
	if (bfsd_layer_is_storage(dstl)) {
		bfsd_fs_tmpname(fs, t->name);
		t->dirfd = fs->work_fd;
		if (snprintf(t->abs, PATH_MAX, "%s/work/%s", fs->storage_path, t->name) >= PATH_MAX)
			return -ENAMETOOLONG;
		return 0;
	}
	/* The base may be another filesystem: build beside the target, under a
	 * name of the commit's, which a mount finishing it after a crash finds. */
	if (fs->committing)
		bfsd_fs_copyname(fs, fs->committing, t->name);
	else
		bfsd_fs_tmpname(fs, t->name);
	ret = bfsd_at_open(dstl, dphys, &t->parent);
	if (ret)
		return ret;
	t->dirfd = t->parent.fd;
	if (snprintf(t->abs, PATH_MAX, "/proc/self/fd/%d/%s", t->dirfd, t->name) >= PATH_MAX) {
		bfsd_at_close(&t->parent);
		return -ENAMETOOLONG;
	}
	return 0;
}

static void tmpspot_done(struct tmpspot *t)
{
	bfsd_at_close(&t->parent);
}

/* Owner, mode and times of st (times instead, when given) onto at. */
static int set_attrs_at(const struct bfsd_at *at, const struct stat *st,
			const struct timespec *times)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (times) {
		ts[0] = times[0];
		ts[1] = times[1];
	}
	if (fchownat(at->fd, at->name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EPERM)
		return -errno;
	if (!S_ISLNK(st->st_mode)) {
		int ret = bfsd_at_chmod(at, st->st_mode & 07777);

		if (ret)
			return ret;
	}
	if (utimensat(at->fd, at->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int bfsd_copy_attrs(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
		    struct bfsd_layer *dstl, const char *dphys, bool origin,
		    const struct timespec *times)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct bfsd_at sat, dat = { .owned = false };
	struct stat st;
	int ret, flags = BFSD_XA_SYNC;

	ret = bfsd_at_open(l, phys, &sat);
	if (ret)
		return ret;
	ret = bfsd_at_open(dstl, dphys, &dat);
	if (!ret && fstatat(sat.fd, sat.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	if (!ret)
		ret = bfsd_at_abspath(&sat, src);
	if (!ret)
		ret = bfsd_at_abspath(&dat, dst);
	if (ret)
		goto out_close;
	if (bfsd_layer_is_storage(l))
		flags |= BFSD_XA_SRC_LAYER;
	if (bfsd_layer_is_storage(dstl))
		flags |= BFSD_XA_DST_LAYER;
	ret = bfsd_copy_xattrs(fs, src, dst, flags);
	if (!ret)
		ret = set_attrs_at(&dat, &st, times);
	/* The marker last: on a layer root it says the attributes are all
	 * there (enum bfsd_layer_root). */
	if (!ret && origin && bfsd_layer_is_storage(dstl)) {
		uint64_t v;

		if (!bfsd_layer_is_storage(l) || bfsd_marker_origin(l, phys, &v) <= 0)
			v = bfsd_fs_vino(fs, l, &st);
		ret = bfsd_marker_set(dstl, dphys, "origin", &v, sizeof(v));
		if (ret == -EPERM)
			ret = 0;
	}
	if (!ret)
		atomic_store(&dstl->dirty, true);
	if (!ret && origin && !dphys[0] && bfsd_layer_is_storage(dstl))
		atomic_store(&dstl->root, BFSD_ROOT_OWN);
out_close:
	bfsd_at_close(&dat);
	bfsd_at_close(&sat);
	return ret;
}

/* Make the object of type st at t, from src (l's object, opened at). */
static int make_object(const struct bfsd_at *src, const struct stat *st, struct tmpspot *t,
		       bool data)
{
	char target[PATH_MAX];
	int in, out, ret = 0;
	ssize_t n;

	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		out = openat(t->dirfd, t->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0)
			return -errno;
		if (data && st->st_size) {
			const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;

			in = openat(src->fd, src->name, flags | O_NOATIME);
			if (in < 0 && errno == EPERM)
				in = openat(src->fd, src->name, flags);
			if (in < 0)
				ret = -errno;
			else
				ret = bfsd_copy_data(in, out, st->st_size);
			if (in >= 0)
				close(in);
		}
		close(out);
		return ret;
	case S_IFDIR:
		return mkdirat(t->dirfd, t->name, 0700) < 0 ? -errno : 0;
	case S_IFLNK:
		n = readlinkat(src->fd, src->name, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlinkat(target, t->dirfd, t->name) < 0 ? -errno : 0;
	default:
		return mknodat(t->dirfd, t->name, st->st_mode & (S_IFMT | 0600), st->st_rdev) < 0
			       ? -errno
			       : 0;
	}
}

/*
 * A resolution cached as a directory may find something else in the base
 * now (a directory swapped for a symlink behind our back): copied as the
 * container, it would lead later paths anywhere.
 */
int bfsd_copy_object_as(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
			struct bfsd_layer *dstl, const char *dphys, bool data, uint64_t origin,
			mode_t want)
{
	char src[PATH_MAX];
	struct bfsd_at sat;
	struct tmpspot t;
	struct stat st;
	int64_t charged = 0;
	int ret, flags = 0;

	ret = bfsd_at_open(l, phys, &sat);
	if (ret)
		return ret;
	if (fstatat(sat.fd, sat.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	else if (want && (st.st_mode & S_IFMT) != want)
		ret = -ENOENT;
	if (!ret && S_ISREG(st.st_mode) && data) {
		ret = bfsd_quota_charge(fs, dstl, st.st_size);
		charged = ret ? 0 : st.st_size;
	}
	if (!ret)
		ret = bfsd_at_abspath(&sat, src);
	if (!ret)
		ret = tmpspot_init(fs, dstl, dphys, &t);
	if (ret)
		goto out_uncharge;
	ret = make_object(&sat, &st, &t, data);
	if (ret)
		goto out_remove_tmp; /* a partial copy (a full disk) goes too */
	if (bfsd_layer_is_storage(l))
		flags |= BFSD_XA_SRC_LAYER;
	if (bfsd_layer_is_storage(dstl))
		flags |= BFSD_XA_DST_LAYER;
	ret = bfsd_copy_xattrs(fs, src, t.abs, flags);
	if (!ret && origin && bfsd_layer_is_storage(dstl)) {
		char name[64];

		snprintf(name, sizeof(name), "%sorigin", fs->xattr_prefix);
		if (lsetxattr(t.abs, name, &origin, sizeof(origin), 0) < 0 && errno != EPERM)
			ret = -errno;
	}
	if (!ret) {
		struct bfsd_at tat = { .fd = t.dirfd, .name = t.name, .owned = false };

		ret = set_attrs_at(&tat, &st, NULL);
	}
	if (ret)
		goto out_remove_tmp;
	bfsd_fault_point(fs, "copy-built");
	ret = bfsd_layer_rename_in(t.dirfd, t.name, dstl, dphys);
	if (ret) {
		/* A directory that is already there is as good as ours. */
		if (S_ISDIR(st.st_mode) && (ret == -EEXIST || ret == -ENOTEMPTY))
			ret = 0;
		goto out_remove_tmp;
	}
	atomic_store(&dstl->dirty, true);
	bfsd_fault_point(fs, "copy-placed");
	tmpspot_done(&t);
	bfsd_at_close(&sat);
	return 0;

out_remove_tmp:
	bfsd_rm_rf_at(t.dirfd, t.name);
	tmpspot_done(&t);
out_uncharge:
	bfsd_quota_charge(fs, dstl, -charged);
	bfsd_at_close(&sat);
	return ret;
}

int bfsd_copy_object(struct bfsd_fs *fs, struct bfsd_layer *l, const char *phys,
		     struct bfsd_layer *dstl, const char *dphys, bool data, uint64_t origin)
{
	return bfsd_copy_object_as(fs, l, phys, dstl, dphys, data, origin, 0);
}

/*
 * Copying an object up adds an entry to its parent's copy in the top layer;
 * the user did not change that directory, so its times are put back.
 */
struct parent_times {
	char parent[PATH_MAX];
	struct timespec ts[2];
	bool valid;
};

static void parent_times_save(struct bfsd_layer *l, const char *path, struct parent_times *t)
{
	struct stat st;

	bfsd_path_split(path, t->parent);
	t->valid = fstatat(l->dirfd, bfsd_rel(t->parent), &st, AT_SYMLINK_NOFOLLOW) == 0;
	t->ts[0] = st.st_atim;
	t->ts[1] = st.st_mtim;
}

static void parent_times_restore(struct bfsd_layer *l, const struct parent_times *t)
{
	if (t->valid)
		utimensat(l->dirfd, bfsd_rel(t->parent), t->ts, AT_SYMLINK_NOFOLLOW);
}

/*
 * Copy the topmost copy of r into b's top for a copy-up: the parent's times
 * stay.  When r no longer matches what is there (the base changed behind
 * our back), every cached answer of b may be stale: they are dropped.
 */
static int copy_up_object(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r,
			  const char *path, bool data)
{
	const struct bfsd_loc *loc = &r->loc[0];
	struct parent_times t;
	int ret;

	parent_times_save(b->layers[0], path, &t);
	ret = bfsd_copy_object_as(fs, loc->layer, loc->phys, b->layers[0], path, data, r->vino,
				  r->type);
	parent_times_restore(b->layers[0], &t);
	if (ret == -ENOENT || ret == -ENOTDIR)
		bfsd_cache_flush(b);
	return ret;
}

int bfsd_copyup_root(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	struct bfsd_layer *top = b->layers[0];
	struct bfsd_res *r;
	int ret = 0;

	if (b == fs->main || bfsd_layer_rooted(top))
		return 0;
	pthread_mutex_lock(&fs->root_lock);
	if (!bfsd_layer_rooted(top)) {
		ret = bfsd_resolve(fs, b, "", &r);
		if (!ret) {
			ret = bfsd_copy_attrs(fs, r->loc[r->attr].layer, r->loc[r->attr].phys, top,
					      "", true, NULL);
			bfsd_res_put(r);
		}
		if (!ret)
			bfsd_cache_drop(b, "");
	}
	pthread_mutex_unlock(&fs->root_lock);
	return ret;
}

int bfsd_copyup_parents(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path)
{
	char prefix[PATH_MAX];
	const char *p = path;
	int ret;

	if (b == fs->main)
		return 0;
	ret = bfsd_copyup_root(fs, b);
	if (ret)
		return ret;
	for (;;) {
		const char *slash = strchr(p, '/');
		struct bfsd_res *r;

		if (!slash)
			return 0;
		memcpy(prefix, path, slash - path);
		prefix[slash - path] = '\0';
		p = slash + 1;
		ret = bfsd_resolve_existing(fs, b, prefix, &r);
		if (ret)
			return ret;
		if (r->type != S_IFDIR)
			ret = -ENOTDIR;
		else if (!bfsd_res_in_top(fs, b, r))
			ret = copy_up_object(fs, b, r, prefix, false);
		else
			ret = 1; /* there already: nothing changed */
		bfsd_res_put(r);
		if (ret < 0)
			return ret;
		if (ret)
			continue;
		bfsd_cache_drop(b, prefix);
		if (fs->on_copyup)
			fs->on_copyup(fs->hook_ctx, b, prefix, NULL);
	}
}

/*
 * The names of the multi-linked file at loc (stat st) in its layer, as
 * branch b shows them (a name below a directory b moved shows under the
 * directory's new path).  Free with bfsd_links_free.
 */
static void shown_names(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_loc *loc,
			const struct stat *st, char ***names, size_t *n)
{
	if (bfsd_layer_is_storage(loc->layer))
		bfsd_layer_link_names(loc->layer, st->st_dev, st->st_ino, names, n);
	else
		bfsd_links_names(fs, st->st_dev, st->st_ino, names, n);
	bfsd_links_map_up(fs, b, loc->idx, *names, *n);
}

/*
 * The file (stat st) copied up to path had other names below: those the
 * branch still shows of it come up as links to the same copy, so they stay
 * one file.
 */
static void link_other_names(struct bfsd_fs *fs, struct bfsd_branch *b, const struct stat *st,
			     const char *path, char **names, size_t n)
{
	struct bfsd_layer *top = b->layers[0];

	for (size_t i = 0; i < n; i++) {
		struct bfsd_res *r;
		struct stat q;
		bool same;

		if (!strcmp(names[i], path) || bfsd_resolve_existing(fs, b, names[i], &r))
			continue;
		same = r->type == S_IFREG && !bfsd_res_in_top(fs, b, r) &&
		       !bfsd_layer_lstat(r->loc[0].layer, r->loc[0].phys, &q) &&
		       q.st_dev == st->st_dev && q.st_ino == st->st_ino;
		bfsd_res_put(r);
		if (!same || bfsd_copyup_parents(fs, b, names[i]))
			continue;
		if (linkat(top->dirfd, path, top->dirfd, names[i], 0) == 0)
			bfsd_cache_drop(b, names[i]);
	}
}

/*
 * The other names of a file copied up to path are linked to the copy only
 * after it is placed, so a crash in between leaves one name alone in the
 * top.  The copy-up of another name then finds it (a copy in the top with
 * the same origin, vino) and becomes a link to it instead of a second
 * copy: the names are one file again.  0 when linked.
 */
static int link_to_copied_name(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			       uint64_t vino, char **names, size_t n)
{
	struct bfsd_layer *top = b->layers[0];
	int ret = -ENOENT;

	for (size_t i = 0; i < n && ret; i++) {
		struct bfsd_res *r;
		uint64_t origin;
		bool copied;

		if (!strcmp(names[i], path) || bfsd_resolve_existing(fs, b, names[i], &r))
			continue;
		copied = r->type == S_IFREG && bfsd_res_in_top(fs, b, r) &&
			 bfsd_marker_origin(top, names[i], &origin) == 1 && origin == vino;
		bfsd_res_put(r);
		if (!copied || linkat(top->dirfd, names[i], top->dirfd, path, 0) < 0)
			continue;
		ret = 0;
		/* Its link count changed: the kernel's attributes of it too. */
		bfsd_cache_drop(b, names[i]);
		if (fs->on_copyup) {
			struct stat copy;

			if (fstatat(top->dirfd, names[i], &copy, AT_SYMLINK_NOFOLLOW) == 0)
				fs->on_copyup(fs->hook_ctx, b, names[i], &copy);
		}
	}
	return ret;
}

int bfsd_copyup(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, bool data)
{
	struct bfsd_res *r;
	struct stat st;
	char **names = NULL;
	size_t n = 0;
	int ret;

	if (b == fs->main)
		return 0;
	if (!path[0])
		return bfsd_copyup_root(fs, b);
	ret = bfsd_resolve_existing(fs, b, path, &r);
	if (ret)
		return ret;
	if (bfsd_res_in_top(fs, b, r))
		goto out_put;
	ret = bfsd_copyup_parents(fs, b, path);
	if (ret)
		goto out_put;
	ret = bfsd_layer_lstat(r->loc[0].layer, r->loc[0].phys, &st);
	if (ret) {
		if (ret == -ENOENT || ret == -ENOTDIR)
			bfsd_cache_flush(b);
		goto out_put;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1)
		shown_names(fs, b, &r->loc[0], &st, &names, &n);
	if (n && !link_to_copied_name(fs, b, path, r->vino, names, n))
		ret = 0;
	else
		ret = copy_up_object(fs, b, r, path, data);
	if (!ret && n)
		link_other_names(fs, b, &st, path, names, n);
	bfsd_links_free(names, n);
	if (!ret && S_ISREG(st.st_mode))
		bfsd_files_retarget(fs, b, st.st_dev, st.st_ino, b->layers[0], path);
	bfsd_cache_drop(b, path);
	if (!ret && fs->on_copyup) {
		struct stat copy;

		if (fstatat(b->layers[0]->dirfd, bfsd_rel(path), &copy, AT_SYMLINK_NOFOLLOW) == 0)
			fs->on_copyup(fs->hook_ctx, b, path, &copy);
	}
out_put:
	bfsd_res_put(r);
	return ret;
}
