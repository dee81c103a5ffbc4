/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layers: directory trees in storage (or the base directory) and the markers
 * a storage layer keeps in extended attributes.
 *
 * Markers live in xattrs named fs->xattr_prefix + key so they move with the
 * object on rename (a path-keyed side table would not):
 *   wh       on an empty mode-0 regular file: a whiteout (name deleted)
 *   opaque   on a directory: layers below contribute nothing to it
 *   redirect on a directory: layers below are read at this logical path
 *   origin   on any object: the raw inode number it was copied from
 * A layer root with an origin marker carries the attributes of the view's
 * root; an unmarked root only stands for "the directory is here".
 */
#include "bfsd.h"

#include <dirent.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* A layer on dirfd; dev is its filesystem's, or 0 to ask. */
static int layer_new(struct bfsd_fs *fs, enum bfsd_layer_kind kind, uint64_t id, int dirfd,
		     const char *path, dev_t dev, struct bfsd_layer **out)
{
	struct bfsd_layer *l = calloc(1, sizeof(*l));
	struct stat st = { .st_dev = dev };

	if (!l)
		return -ENOMEM;
	if (!dev && fstat(dirfd, &st) < 0) {
		int ret = -errno;

		free(l);
		return ret;
	}
	l->path = strdup(path);
	if (!l->path) {
		free(l);
		return -ENOMEM;
	}
	l->id = id;
	l->kind = kind;
	l->dirfd = dirfd;
	l->dev = st.st_dev;
	l->fs = fs;
	atomic_init(&l->refs, 1);
	atomic_init(&l->dirty, false);
	pthread_mutex_init(&l->links_lock, NULL);
	*out = l;
	return 0;
}

int bfsd_layer_open(struct bfsd_fs *fs, enum bfsd_layer_kind kind, uint64_t id, const char *path,
		    struct bfsd_layer **out)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = layer_new(fs, kind, id, fd, path, 0, out);
	if (ret)
		close(fd);
	else if (kind == BFSD_LAYER_DELTA || kind == BFSD_LAYER_PRESERVE)
		atomic_store(&(*out)->dirty, !bfsd_layer_is_empty(*out));
	return ret;
}

/*
 * Making a directory can cost hundreds of microseconds on a filesystem that
 * deletes a lot (ext4 searches for an inode not recently freed), and holds
 * the lock of layers/ meanwhile, so a few empty layer directories are made
 * in advance (after each control request's reply, or by the reclaimer) and
 * a branch creation takes one.  Unused ones are swept at the next mount.
 * Two threads may refill at once: each reserves its slot first.
 */
void bfsd_layer_refill(struct bfsd_fs *fs)
{
	char name[32];

	for (;;) {
		uint64_t id;
		bool made;

		pthread_mutex_lock(&fs->spare_lock);
		if (fs->nspare + fs->spare_making >= BFSD_SPARE_LAYERS) {
			pthread_mutex_unlock(&fs->spare_lock);
			return;
		}
		id = fs->next_layer_id++;
		fs->spare_making++;
		pthread_mutex_unlock(&fs->spare_lock);
		snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
		made = mkdirat(fs->layers_fd, name, 0700) == 0 || errno == EEXIST;
		pthread_mutex_lock(&fs->spare_lock);
		fs->spare_making--;
		if (made)
			fs->spare[fs->nspare++] = id;
		pthread_mutex_unlock(&fs->spare_lock);
		if (!made)
			return;
	}
}

int bfsd_layer_create(struct bfsd_fs *fs, enum bfsd_layer_kind kind, struct bfsd_layer **out)
{
	char name[32], path[PATH_MAX];
	bool spare = false, low = false;
	uint64_t id;
	int fd, ret;

	pthread_mutex_lock(&fs->spare_lock);
	if (fs->nspare) {
		id = fs->spare[0];
		memmove(fs->spare, fs->spare + 1, --fs->nspare * sizeof(fs->spare[0]));
		spare = true;
		low = fs->nspare <= BFSD_SPARE_LAYERS / 2;
	} else {
		id = fs->next_layer_id++;
	}
	pthread_mutex_unlock(&fs->spare_lock);
	/* Refilled half a pool at a time: most creations wake nobody. */
	if (low && fs->reclaimer_running)
		bfsd_store_wake_reclaimer(fs);
	snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
	if (!spare && mkdirat(fs->layers_fd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (snprintf(path, sizeof(path), "%s/layers/%s", fs->storage_path, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	/* Empty (made here, or a spare made by us and swept at mount): not
	 * dirty, nothing to count, no need to list it. */
	fd = openat(fs->layers_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = layer_new(fs, kind, id, fd, path, fs->storage_dev, out);
	if (ret) {
		close(fd);
		return ret;
	}
	atomic_store(&(*out)->scanned, true);
	atomic_store(&(*out)->root, BFSD_ROOT_BELOW);
	return 0;
}

struct bfsd_layer *bfsd_layer_get(struct bfsd_layer *l)
{
	if (l)
		atomic_fetch_add(&l->refs, 1);
	return l;
}

void bfsd_layer_put(struct bfsd_layer *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	if ((l->kind == BFSD_LAYER_DELTA || l->kind == BFSD_LAYER_PRESERVE) &&
	    !l->fs->keep_layers) {
		bfsd_quota_layer_gone(l->fs, l);
		if (!l->held_away)
			bfsd_store_trash_layer(l->fs, l->id);
	}
	close(l->dirfd);
	bfsd_layer_links_free(l);
	pthread_mutex_destroy(&l->links_lock);
	free(l->path);
	free(l);
}

void bfsd_layer_held_name(uint64_t id, char *out)
{
	snprintf(out, 48, "%llu.held", (unsigned long long)id);
}

bool bfsd_layer_is_storage(const struct bfsd_layer *l)
{
	return l->kind != BFSD_LAYER_BASE;
}

bool bfsd_layer_rooted(struct bfsd_layer *l)
{
	int state = atomic_load(&l->root), unknown = BFSD_ROOT_UNKNOWN;
	uint64_t origin;

	if (!bfsd_layer_is_storage(l))
		return true;
	if (state == BFSD_ROOT_UNKNOWN) {
		/* A layer from disk: the marker says.  Taking the attributes
		 * (copyup.c) sets BFSD_ROOT_OWN, which this must not undo. */
		state = bfsd_marker_origin(l, "", &origin) > 0 ? BFSD_ROOT_OWN : BFSD_ROOT_BELOW;
		if (!atomic_compare_exchange_strong(&l->root, &unknown, state))
			state = unknown;
	}
	return state == BFSD_ROOT_OWN;
}

int bfsd_layer_abspath(const struct bfsd_layer *l, const char *phys, char *out)
{
	int n;

	/*
	 * Through the layer's own descriptor, never its path: the base may be
	 * the mount point itself (a mount in place), and a path could be
	 * swapped under us; /proc/self/fd/N is the directory we opened.
	 */
	if (phys[0])
		n = snprintf(out, PATH_MAX, "/proc/self/fd/%d/%s", l->dirfd, phys);
	else
		n = snprintf(out, PATH_MAX, "/proc/self/fd/%d/.", l->dirfd);
	return n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* How the base is walked: never out of it, following no symlink. */
#define RESOLVE_INSIDE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/*
 * Storage layers are private (mode 0700) and only the daemon writes them,
 * never a symlink where it keeps a directory: paths there are safe as they
 * are.  In the base, a directory we resolved may since have become a
 * symlink to anywhere; the daemon runs as root, so no component before the
 * last may be followed.
 */

int bfsd_at_open(const struct bfsd_layer *l, const char *phys, struct bfsd_at *at)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_INSIDE,
	};
	const char *slash = bfsd_layer_is_storage(l) ? NULL : strrchr(phys, '/');
	char parent[PATH_MAX];
	size_t len;
	int fd, tries = 0;

	at->fd = l->dirfd;
	at->name = bfsd_rel(phys);
	at->owned = false;
	if (!slash)
		return 0;
	len = (size_t)(slash - phys);
	if (len >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, phys, len);
	parent[len] = '\0';
	/* EAGAIN: a racing rename the kernel could not rule out; try again. */
	do
		fd = (int)syscall(SYS_openat2, l->dirfd, parent, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < 8);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	at->fd = fd;
	at->name = slash + 1;
	at->owned = true;
	return 0;
}

void bfsd_at_close(struct bfsd_at *at)
{
	if (at->owned)
		close(at->fd);
	at->owned = false;
	at->fd = -1;
}

int bfsd_at_abspath(const struct bfsd_at *at, char *out)
{
	int n = snprintf(out, PATH_MAX, "/proc/self/fd/%d/%s", at->fd, at->name);

	return n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

int bfsd_at_chmod(const struct bfsd_at *at, mode_t mode)
{
	static atomic_bool no_fchmodat2;

	/* fchmodat(2) follows a symlink at the last name; fchmodat2 (Linux
	 * 6.6) does not, and glibc's emulation goes through O_PATH. */
	if (!atomic_load(&no_fchmodat2)) {
		if (syscall(SYS_fchmodat2, at->fd, at->name, mode, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
		atomic_store(&no_fchmodat2, true);
	}
	return fchmodat(at->fd, at->name, mode, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int bfsd_layer_lstat(const struct bfsd_layer *l, const char *phys, struct stat *st)
{
	struct bfsd_at at;
	int ret = bfsd_at_open(l, phys, &at);

	if (ret)
		return ret;
	if (fstatat(at.fd, at.name, st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = -errno;
	bfsd_at_close(&at);
	return ret;
}

/* The open flags openat2 takes, as open(2) keeps them: it refuses bits
 * open(2) ignores, such as FMODE_EXEC in an exec's flags, and sets
 * O_LARGEFILE itself (whose kernel value glibc defines as 0 here). */
#define OPENAT2_FLAGS                                                                          \
	(O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | O_ASYNC | O_DIRECT | \
	 O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH)

/*
 * One openat2 that follows no symlink anywhere in phys: the common case of
 * bfsd_layer_openat in the base, a system call instead of three.  -EAGAIN
 * when it cannot tell the caller's error apart (a symlink, a racing
 * rename) or openat2 is stricter than open(2) (EINVAL: flags it refuses
 * together, such as O_PATH with O_NOATIME): the two-step open then answers.
 */
static int open_beneath(const struct bfsd_layer *l, const char *phys, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)((flags & OPENAT2_FLAGS) | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_INSIDE,
	};
	int fd = (int)syscall(SYS_openat2, l->dirfd, phys, &how, sizeof(how));

	if (fd >= 0)
		return fd;
	return errno == ELOOP || errno == EAGAIN || errno == EINVAL ? -EAGAIN : -errno;
}

int bfsd_layer_openat(const struct bfsd_layer *l, const char *phys, int flags)
{
	struct bfsd_at at;
	int fd;

	if (!bfsd_layer_is_storage(l) && strchr(phys, '/') &&
	    !(flags & (O_CREAT | (O_TMPFILE & ~O_DIRECTORY)))) {
		fd = open_beneath(l, phys, flags);
		if (fd != -EAGAIN)
			return fd;
	}
	fd = bfsd_at_open(l, phys, &at);
	if (fd)
		return fd;
	fd = openat(at.fd, at.name, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	bfsd_at_close(&at);
	return fd;
}

bool bfsd_layer_is_empty(struct bfsd_layer *l)
{
	int fd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	bool empty = true;
	DIR *d;

	d = bfsd_fdopendir(fd);
	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	/* An attributed root is content too. */
	if (empty && bfsd_layer_rooted(l))
		empty = false;
	return empty;
}

static int marker_name(const struct bfsd_layer *l, const char *key, char *out, size_t n)
{
	if ((size_t)snprintf(out, n, "%s%s", l->fs->xattr_prefix, key) >= n)
		return -ENAMETOOLONG;
	return 0;
}

int bfsd_marker_set(const struct bfsd_layer *l, const char *phys, const char *key, const void *val,
		    size_t len)
{
	char path[PATH_MAX], name[64];
	int ret = bfsd_layer_abspath(l, phys, path);

	if (!ret)
		ret = marker_name(l, key, name, sizeof(name));
	if (ret)
		return ret;
	if (lsetxattr(path, name, val, len, 0) < 0)
		return -errno;
	return 0;
}

int bfsd_marker_del(const struct bfsd_layer *l, const char *phys, const char *key)
{
	char path[PATH_MAX], name[64];
	int ret = bfsd_layer_abspath(l, phys, path);

	if (!ret)
		ret = marker_name(l, key, name, sizeof(name));
	if (ret)
		return ret;
	if (lremovexattr(path, name) < 0 && errno != ENODATA)
		return -errno;
	return 0;
}

/* getxattrat(2) (Linux 6.13): an xattr of dirfd/name without walking a
 * path; -ENOSYS on older kernels. */
struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif

int bfsd_marker_get_at(const struct bfsd_layer *l, int dirfd, const char *name, const char *key,
		       void *val, size_t size)
{
	static atomic_bool no_getxattrat;
	struct xattr_args_v0 args = { .value = (uintptr_t)val, .size = (uint32_t)size };
	char xname[64], path[PATH_MAX];
	long n;
	int ret = marker_name(l, key, xname, sizeof(xname));

	if (ret)
		return ret;
	if (!atomic_load(&no_getxattrat)) {
		n = syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, xname, &args,
			    sizeof(args));
		if (n >= 0)
			return (int)n;
		if (errno != ENOSYS)
			return -errno;
		atomic_store(&no_getxattrat, true);
	}
	if (snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	n = lgetxattr(path, xname, val, size);
	return n < 0 ? -errno : (int)n;
}

/* Through the layer's descriptor, as bfsd_layer_abspath names it, but with
 * no walk through /proc (getxattrat), where the kernel has it. */
int bfsd_marker_get(const struct bfsd_layer *l, const char *phys, const char *key, void *val,
		    size_t size)
{
	return bfsd_marker_get_at(l, l->dirfd, bfsd_rel(phys), key, val, size);
}

int bfsd_marker_origin_at(const struct bfsd_layer *l, int dirfd, const char *name, uint64_t *origin)
{
	uint64_t v;
	int n = bfsd_marker_get_at(l, dirfd, name, "origin", &v, sizeof(v));

	if (n == (int)sizeof(v)) {
		*origin = v;
		return 1;
	}
	if (n >= 0 || n == -ENODATA || n == -ENOTSUP || n == -EPERM)
		return 0;
	return n;
}

#ifndef SYS_listxattrat
#define SYS_listxattrat 465 /* Linux 6.13 */
#endif

int bfsd_marker_list_at(const struct bfsd_layer *l, int dirfd, const char *name,
			unsigned int *marks)
{
	static atomic_bool no_listxattrat;
	const char *prefix = l->fs->xattr_prefix;
	const size_t plen = l->fs->xattr_prefix_len;
	char list[1024];
	long n;

	*marks = 0;
	if (atomic_load(&no_listxattrat))
		return -ENOSYS;
	n = syscall(SYS_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, list, sizeof(list));
	if (n < 0) {
		if (errno == ENOSYS)
			atomic_store(&no_listxattrat, true);
		return errno == ENOTSUP ? 0 : -errno;
	}
	for (long i = 0; i < n; i += (long)strnlen(list + i, (size_t)(n - i)) + 1) {
		if (strncmp(list + i, prefix, plen))
			continue;
		if (!strcmp(list + i + plen, "wh"))
			*marks |= BFSD_MARK_WH;
		else if (!strcmp(list + i + plen, "origin"))
			*marks |= BFSD_MARK_ORIGIN;
	}
	return 0;
}

bool bfsd_marker_is_whiteout_at(const struct bfsd_layer *l, int dirfd, const char *name,
				const struct stat *st)
{
	char v;

	if (!bfsd_layer_is_storage(l) || !S_ISREG(st->st_mode) || st->st_size != 0 ||
	    (st->st_mode & 07777) != 0)
		return false;
	return bfsd_marker_get_at(l, dirfd, name, "wh", &v, 1) == 1;
}

int bfsd_marker_origin(const struct bfsd_layer *l, const char *phys, uint64_t *origin)
{
	uint64_t v;
	int n = bfsd_marker_get(l, phys, "origin", &v, sizeof(v));

	if (n == (int)sizeof(v)) {
		*origin = v;
		return 1;
	}
	if (n >= 0 || n == -ENODATA || n == -ENOTSUP || n == -EPERM)
		return 0;
	return n;
}

int bfsd_marker_whiteout_make(struct bfsd_layer *l, const char *phys)
{
	char tmp[NAME_MAX + 1], path[PATH_MAX], name[64];
	static const char one = '1';
	int fd, ret;

	ret = marker_name(l, "wh", name, sizeof(name));
	if (ret)
		return ret;
	bfsd_fs_tmpname(l->fs, tmp);
	fd = openat(l->fs->work_fd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	ret = bfsd_layer_abspath(l->fs->work, tmp, path);
	if (ret)
		goto out_unlink_tmp;
	if (lsetxattr(path, name, &one, 1, 0) < 0) {
		ret = -errno;
		goto out_unlink_tmp;
	}
	/* Atomically replaces whatever object the layer had at phys. */
	ret = bfsd_layer_rename_in(l->fs->work_fd, tmp, l, phys);
	if (ret)
		goto out_unlink_tmp;
	return 0;

out_unlink_tmp:
	unlinkat(l->fs->work_fd, tmp, 0);
	return ret;
}

int bfsd_layer_rename_in(int odir, const char *old, struct bfsd_layer *l, const char *phys)
{
	struct stat st, replaced;
	struct bfsd_at at;
	bool counted;
	int err = bfsd_at_open(l, phys, &at);

	if (err)
		return err;
	/* A regular file replaced here gives its bytes back. */
	counted = bfsd_quota_on(l->fs) &&
		  fstatat(at.fd, at.name, &replaced, AT_SYMLINK_NOFOLLOW) == 0 &&
		  S_ISREG(replaced.st_mode) && replaced.st_nlink == 1;
	if (renameat(odir, old, at.fd, at.name) == 0) {
		if (counted)
			bfsd_quota_charge(l->fs, l, -(int64_t)replaced.st_size);
		goto out_dirty;
	}
	err = errno;
	/*
	 * rename(2) will not put a directory over a file or a file over a
	 * directory.  A whiteout (a file) may still be replaced, by swapping it
	 * out atomically: the name is never free for a lower object to show.
	 */
	if ((err != ENOTDIR && err != EISDIR) ||
	    fstatat(at.fd, at.name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !bfsd_marker_is_whiteout(l, phys, &st))
		goto out_close;
	if (renameat2(odir, old, at.fd, at.name, RENAME_EXCHANGE) < 0) {
		err = errno;
		goto out_close;
	}
	unlinkat(odir, old, 0); /* the whiteout, now at the old name */
out_dirty:
	err = 0;
	atomic_store(&l->dirty, true);
out_close:
	bfsd_at_close(&at);
	return -err;
}

bool bfsd_marker_is_whiteout(const struct bfsd_layer *l, const char *phys, const struct stat *st)
{
	char v;

	if (!bfsd_layer_is_storage(l) || !S_ISREG(st->st_mode) || st->st_size != 0 ||
	    (st->st_mode & 07777) != 0)
		return false;
	return bfsd_marker_get(l, phys, "wh", &v, 1) == 1;
}

int bfsd_marker_dir(const struct bfsd_layer *l, const char *phys, bool *opaque, char *redirect,
		    uint64_t *origin)
{
	enum { WANT_OPAQUE = 1, WANT_REDIRECT = 2, WANT_ORIGIN = 4 };
	unsigned int want = WANT_OPAQUE | WANT_REDIRECT | WANT_ORIGIN;
	char path[PATH_MAX], names[1024];
	const size_t plen = l->fs->xattr_prefix_len;
	ssize_t n;
	int ret;

	*opaque = false;
	redirect[0] = '\0';
	*origin = 0;
	ret = bfsd_layer_abspath(l, phys, path);
	if (ret)
		return ret;
	n = llistxattr(path, names, sizeof(names));
	if (n < 0 && errno != ERANGE)
		return errno == ENOTSUP ? 0 : -errno;
	if (n >= 0) { /* else many user xattrs: ask for each marker */
		want = 0;
		for (char *p = names; p < names + n; p += strlen(p) + 1) {
			if (strncmp(p, l->fs->xattr_prefix, plen))
				continue;
			if (!strcmp(p + plen, "opaque"))
				want |= WANT_OPAQUE;
			else if (!strcmp(p + plen, "redirect"))
				want |= WANT_REDIRECT;
			else if (!strcmp(p + plen, "origin"))
				want |= WANT_ORIGIN;
		}
	}
	if (want & WANT_OPAQUE) {
		char v;

		*opaque = bfsd_marker_get(l, phys, "opaque", &v, 1) == 1;
	}
	if (want & WANT_REDIRECT) {
		ret = bfsd_marker_get(l, phys, "redirect", redirect, PATH_MAX - 1);
		redirect[ret >= 0 ? ret : 0] = '\0';
	}
	if (!(want & WANT_ORIGIN))
		return 0;
	ret = bfsd_marker_origin(l, phys, origin);
	return ret < 0 ? ret : 0;
}

const char *bfsd_xattr_to_layer(const struct bfsd_fs *fs, const char *name, char *buf, size_t n)
{
	if (strncmp(name, fs->xattr_prefix, fs->xattr_prefix_len))
		return name;
	if ((size_t)snprintf(buf, n, "%su.%s", fs->xattr_prefix, name + fs->xattr_prefix_len) >= n)
		return NULL;
	return buf;
}

const char *bfsd_xattr_from_layer(const struct bfsd_fs *fs, const char *name)
{
	static __thread char buf[XATTR_NAME_MAX + 1];

	if (strncmp(name, fs->xattr_prefix, fs->xattr_prefix_len))
		return name;
	name += fs->xattr_prefix_len;
	if (strncmp(name, "u.", 2))
		return NULL;
	snprintf(buf, sizeof(buf), "%s%s", "", fs->xattr_prefix);
	strncat(buf, name + 2, sizeof(buf) - strlen(buf) - 1);
	return buf;
}
