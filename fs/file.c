/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open files: the object behind a FUSE file handle, and the table that finds
 * every open file of one underlying inode.
 *
 * A file opened for writing is copied up (branch) or preserved (main) at
 * open.  Later, a branch's top can be frozen by a child's creation, or main
 * can start a new epoch; each bumps a write epoch, and the next write through
 * an older file copies up or preserves again first.  When copy-up or
 * preservation gives an object a new home, the open files that must follow
 * it are re-pointed with dup3(), atomically for concurrent readers; so are
 * a parent's files when a commit replaces the object at their name.
 *
 * An open file whose name went away (unlink, rename over) keeps its object,
 * as on a disk, with one rule: nothing is ever written into a layer its
 * branch no longer owns (frozen by a child, or a snapshot main keeps for
 * live branches).  A branch's file left in such a layer moves to a private
 * unlinked copy before its next change; main never hands an object it has
 * open for writing over to a snapshot (preserve.c copies it instead).
 *
 * A file is referenced: the FUSE handle holds one reference, and the edge
 * takes one while it uses a file it found through a node.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILES_BUCKETS 4096

static bool writable(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static uint64_t branch_write_epoch(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	if (b == fs->main)
		return atomic_load(&fs->main_write_epoch);
	return atomic_load(&b->write_epoch);
}

static size_t bucket(dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) % FILES_BUCKETS;
}

static int files_add(struct bfsd_fs *fs, struct bfsd_file *f)
{
	struct stat st;
	struct bfsd_file **head;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	pthread_mutex_lock(&fs->files_lock);
	if (!fs->files) {
		fs->files = calloc(FILES_BUCKETS, sizeof(*fs->files));
		if (!fs->files) {
			pthread_mutex_unlock(&fs->files_lock);
			return -ENOMEM;
		}
	}
	head = &fs->files[bucket(f->dev, f->ino)];
	f->next_same = *head;
	if (*head)
		(*head)->pprev_same = &f->next_same;
	f->pprev_same = head;
	*head = f;
	pthread_mutex_unlock(&fs->files_lock);
	return 0;
}

static void files_del_locked(struct bfsd_file *f)
{
	if (!f->pprev_same)
		return;
	*f->pprev_same = f->next_same;
	if (f->next_same)
		f->next_same->pprev_same = f->pprev_same;
	f->pprev_same = NULL;
	f->next_same = NULL;
}

/* File f (files_lock held, out of its bucket) under its object's identity. */
static void files_refile_locked(struct bfsd_fs *fs, struct bfsd_file *f)
{
	struct bfsd_file **head;
	struct stat st;

	if (fstat(f->fd, &st) == 0) {
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	head = &fs->files[bucket(f->dev, f->ino)];
	f->next_same = *head;
	if (*head)
		(*head)->pprev_same = &f->next_same;
	f->pprev_same = head;
	*head = f;
}

static bool main_writer(const struct bfsd_file *f)
{
	return f->base && writable(f->flags);
}

bool bfsd_file_rdwr(const struct bfsd_file *f)
{
	return (f->flags & O_ACCMODE) == O_RDWR;
}

static int file_new(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_layer *l, int fd,
		    int flags, struct bfsd_file **out)
{
	struct bfsd_file *f = calloc(1, sizeof(*f));
	int ret;

	if (!f)
		return -ENOMEM;
	atomic_init(&f->refs, 1);
	f->fd = fd;
	f->layer = bfsd_layer_get(l);
	f->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC);
	f->branch = bfsd_branch_get(b);
	f->base = b == fs->main;
	f->write_epoch = branch_write_epoch(fs, b);
	ret = files_add(fs, f);
	if (ret) {
		bfsd_layer_put(f->layer);
		bfsd_branch_put(f->branch);
		free(f);
		return ret;
	}
	if (main_writer(f))
		atomic_fetch_add(&fs->main_writers, 1);
	if (bfsd_file_rdwr(f))
		atomic_fetch_add(&b->rdwr_files, 1);
	*out = f;
	return 0;
}

int bfsd_file_open(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, int flags,
		   struct bfsd_file **out)
{
	int oflags = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) | O_NOFOLLOW | O_CLOEXEC;
	struct bfsd_res *r;
	int fd, ret;

	ret = bfsd_resolve_existing(fs, b, path, &r);
	if (ret)
		return ret;
	if (r->type == S_IFDIR && writable(flags)) {
		ret = -EISDIR;
		goto out_put;
	}
	if (writable(flags) && r->type == S_IFREG) {
		if (b == fs->main)
			ret = bfsd_preserve(fs, path, BFSD_CH_MODIFY);
		else if (!bfsd_res_in_top(fs, b, r))
			ret = bfsd_copyup(fs, b, path, !(flags & O_TRUNC));
		if (ret < 0)
			goto out_put;
		if (b != fs->main) {
			bfsd_res_put(r);
			ret = bfsd_resolve_existing(fs, b, path, &r);
			if (ret)
				return ret;
		}
	}
	/* Reads through branchfs never move atime (noatime, as docs say). */
	fd = bfsd_layer_openat(r->loc[0].layer, r->loc[0].phys, oflags | O_NOATIME);
	if (fd == -EPERM)
		fd = bfsd_layer_openat(r->loc[0].layer, r->loc[0].phys, oflags);
	if (fd < 0) {
		ret = fd;
		goto out_put;
	}
	ret = file_new(fs, b, r->loc[0].layer, fd, flags, out);
	if (ret)
		close(fd);
out_put:
	bfsd_res_put(r);
	return ret;
}

int bfsd_file_create(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, int flags,
		     mode_t mode, const struct bfsd_cred *cred, struct bfsd_file **out,
		     struct stat *st)
{
	int fd, ret;

	ret = bfsd_view_create(fs, b, path, flags, mode, cred, &fd, st);
	if (ret)
		return ret;
	ret = file_new(fs, b, bfsd_branch_top(fs, b), fd, flags, out);
	if (ret)
		close(fd);
	return ret;
}

struct bfsd_file *bfsd_file_get(struct bfsd_file *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

void bfsd_file_close(struct bfsd_fs *fs, struct bfsd_file *f)
{
	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	if (main_writer(f))
		atomic_fetch_sub(&fs->main_writers, 1);
	if (bfsd_file_rdwr(f))
		atomic_fetch_sub(&f->branch->rdwr_files, 1);
	pthread_mutex_lock(&fs->files_lock);
	files_del_locked(f);
	pthread_mutex_unlock(&fs->files_lock);
	close(f->fd);
	bfsd_layer_put(f->layer);
	bfsd_branch_put(f->branch);
	free(f);
}

void bfsd_files_close_all(struct bfsd_fs *fs)
{
	for (size_t i = 0; fs->files && i < FILES_BUCKETS; i++) {
		while (fs->files[i]) {
			atomic_store(&fs->files[i]->refs, 1);
			bfsd_file_close(fs, fs->files[i]);
		}
	}
}

static pthread_mutex_t *size_lock(struct bfsd_fs *fs, ino_t ino)
{
	return &fs->size_locks[(ino * 0x9e3779b97f4a7c15ull) >> 58];
}

/*
 * Change the size of the file behind fd (in layer l) by running fn, with
 * the growth to new_end charged first.  Size changes of one inode are
 * serialised so two writers never charge the same growth twice.
 */
static ssize_t sized(struct bfsd_fs *fs, struct bfsd_layer *l, int fd, off_t new_end, bool shrink,
		     ssize_t (*fn)(int, void *), void *arg)
{
	pthread_mutex_t *lock;
	struct stat st;
	int64_t delta;
	off_t old;
	ssize_t ret;

	if (!bfsd_quota_on(fs) || !l || !bfsd_layer_is_storage(l))
		return fn(fd, arg);
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Within the file: nothing to count (the common case, lock-free). */
	if (new_end <= st.st_size && !shrink)
		return fn(fd, arg);
	lock = size_lock(fs, st.st_ino);
	pthread_mutex_lock(lock);
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_unlock;
	}
	old = st.st_size;
	delta = shrink ? new_end - old : (new_end > old ? new_end - old : 0);
	ret = bfsd_quota_charge(fs, l, delta);
	if (ret)
		goto out_unlock;
	ret = fn(fd, arg);
	/* Give back growth that did not happen (a short or failed write). */
	if (delta > 0 && fstat(fd, &st) == 0 && st.st_size < new_end)
		bfsd_quota_charge(fs, l, -(new_end - (st.st_size > old ? st.st_size : old)));
out_unlock:
	pthread_mutex_unlock(lock);
	return ret;
}

struct io {
	const void *buf;
	size_t size;
	off_t off;
	int mode;
};

static ssize_t do_write(int fd, void *arg)
{
	struct io *io = arg;
	ssize_t n = pwrite(fd, io->buf, io->size, io->off);

	return n < 0 ? -errno : n;
}

static ssize_t do_fallocate(int fd, void *arg)
{
	struct io *io = arg;

	return fallocate(fd, io->mode, io->off, (off_t)io->size) < 0 ? -errno : 0;
}

static ssize_t do_truncate(int fd, void *arg)
{
	struct io *io = arg;

	return ftruncate(fd, io->off) < 0 ? -errno : 0;
}

ssize_t bfsd_file_write(struct bfsd_fs *fs, struct bfsd_file *f, const void *buf, size_t size,
			off_t off)
{
	struct io io = { .buf = buf, .size = size, .off = off };

	if (f->flags & O_APPEND) {
		struct stat st;

		/* O_APPEND writes land at the end, whatever off says. */
		if (fstat(f->fd, &st) == 0)
			io.off = st.st_size;
	}
	return sized(fs, f->layer, f->fd, io.off + (off_t)size, false, do_write, &io);
}

int bfsd_file_fallocate(struct bfsd_fs *fs, struct bfsd_file *f, int mode, off_t off, off_t len)
{
	struct io io = { .size = (size_t)len, .off = off, .mode = mode };
	off_t end = (mode & FALLOC_FL_KEEP_SIZE) ? 0 : off + len;

	return (int)sized(fs, f->layer, f->fd, end, false, do_fallocate, &io);
}

int bfsd_file_truncate(struct bfsd_fs *fs, struct bfsd_file *f, off_t size)
{
	struct io io = { .off = size };

	return (int)sized(fs, f->layer, f->fd, size, true, do_truncate, &io);
}

int bfsd_truncate_at(struct bfsd_fs *fs, struct bfsd_layer *l, const struct bfsd_at *at, off_t size)
{
	struct io io = { .off = size };
	int fd = openat(at->fd, at->name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = (int)sized(fs, l, fd, size, true, do_truncate, &io);
	close(fd);
	return ret;
}

bool bfsd_file_needs_prepare(struct bfsd_fs *fs, struct bfsd_file *f)
{
	return writable(f->flags) && f->write_epoch != branch_write_epoch(fs, f->branch);
}

/*
 * f's object is shown by no name of its branch and lies in a layer the
 * branch does not write: it and every other file of the branch on it move
 * to one private unlinked copy, which later writes change, as writes to a
 * deleted file on a disk reach no name.  Not charged to the quota: it
 * vanishes with its last descriptor.
 */
static int file_privatize(struct bfsd_fs *fs, struct bfsd_file *f)
{
	char self[64], tmp[NAME_MAX + 1];
	struct bfsd_file *g, *next, *moved = NULL;
	struct bfsd_layer *l = f->layer;
	struct stat st;
	int in, out, ret;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", f->fd);
	in = open(self, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0) {
		ret = -errno;
		goto out_close_in;
	}
	out = openat(fs->work_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0) {
		/* No O_TMPFILE on the storage filesystem: a name, gone at once. */
		bfsd_fs_tmpname(fs, tmp);
		out = openat(fs->work_fd, tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (out >= 0)
			unlinkat(fs->work_fd, tmp, 0);
	}
	if (out < 0) {
		ret = -errno;
		goto out_close_in;
	}
	ret = bfsd_copy_data(in, out, st.st_size);
	if (!ret && fchmod(out, st.st_mode & 07777) < 0)
		ret = -errno;
	if (ret)
		goto out_close_out;
	if (fs->is_root && fchown(out, st.st_uid, st.st_gid) < 0)
		bfsd_warn("private copy of an open file keeps our owner: %s", bfsd_strerror(errno));
	pthread_mutex_lock(&fs->files_lock);
	for (g = fs->files[bucket(f->dev, f->ino)]; g; g = next) {
		next = g->next_same;
		if (g->dev != f->dev || g->ino != f->ino || g->branch != f->branch || g->layer != l)
			continue;
		dup3(out, g->fd, O_CLOEXEC);
		files_del_locked(g);
		g->next_same = moved;
		moved = g;
	}
	/* Filed under the copy: no copy-up or preservation ever reaches it. */
	while (moved) {
		g = moved;
		moved = g->next_same;
		bfsd_layer_put(g->layer);
		g->layer = NULL;
		files_refile_locked(fs, g);
	}
	pthread_mutex_unlock(&fs->files_lock);
out_close_out:
	close(out);
out_close_in:
	close(in);
	return ret;
}

/*
 * main's file whose name went away: an unlinked object is the writer's
 * alone; one the base still names (another hard link) is preserved through
 * that name before it changes; one the base does not name is no base file
 * any more, and is made private.
 */
static int main_nameless(struct bfsd_fs *fs, struct bfsd_file *f)
{
	char **names = NULL;
	struct stat st;
	size_t n = 0;
	int ret;

	if (!f->layer)
		return 0; /* private already */
	if (fstat(f->fd, &st) < 0)
		return -errno;
	if (st.st_nlink == 0)
		return 0;
	ret = bfsd_links_names(fs, st.st_dev, st.st_ino, &names, &n);
	if (ret)
		return ret;
	ret = n ? bfsd_preserve(fs, names[0], BFSD_CH_MODIFY) : file_privatize(fs, f);
	bfsd_links_free(names, n);
	return ret < 0 ? ret : 0;
}

int bfsd_file_prepare_write(struct bfsd_fs *fs, struct bfsd_file *f, const char *path)
{
	struct bfsd_branch *b = f->branch;
	uint64_t epoch;
	int ret;

	bfsd_lock_op(fs, b, true);
	epoch = branch_write_epoch(fs, b);
	if (b->dead)
		ret = -ESTALE;
	else if (b == fs->main)
		ret = path ? bfsd_preserve(fs, path, BFSD_CH_MODIFY) : main_nameless(fs, f);
	else
		ret = path ? bfsd_copyup(fs, b, path, true) : 0;
	/*
	 * A copy-up re-points f when its name shows f's object; when it shows
	 * another one (renamed over, committed into) or none, f is left in a
	 * layer b no longer writes.  f->layer only changes under b's ns_lock
	 * or lower_lock exclusive, both excluded here.
	 */
	if (ret >= 0 && b != fs->main && f->layer && f->layer != bfsd_branch_top(fs, b))
		ret = file_privatize(fs, f);
	bfsd_unlock_op(fs, b);
	if (ret < 0)
		return ret;
	f->write_epoch = epoch;
	return 0;
}

int bfsd_file_setattr(struct bfsd_fs *fs, struct bfsd_file *f, const struct stat *attr, int to_set,
		      struct stat *st)
{
	struct timespec ts[2];
	int ret = bfsd_file_prepare_write(fs, f, NULL);

	if (ret)
		return ret;
	if ((to_set & (BFSD_SET_UID | BFSD_SET_GID)) &&
	    fchown(f->fd, (to_set & BFSD_SET_UID) ? attr->st_uid : (uid_t)-1,
		   (to_set & BFSD_SET_GID) ? attr->st_gid : (gid_t)-1) < 0)
		return -errno;
	if ((to_set & BFSD_SET_MODE) && fchmod(f->fd, attr->st_mode & 07777) < 0)
		return -errno;
	if (to_set & BFSD_SET_SIZE) {
		ret = bfsd_file_truncate(fs, f, attr->st_size);
		if (ret)
			return ret;
	}
	if (bfsd_setattr_times(attr, to_set, ts) && futimens(f->fd, ts) < 0)
		return -errno;
	return fstat(f->fd, st) < 0 ? -errno : 0;
}

int bfsd_file_repoint(struct bfsd_fs *fs, struct bfsd_file *f, struct bfsd_layer *l,
		      const char *phys)
{
	int flags = f->flags & ~O_TRUNC;
	int fd = bfsd_layer_openat(l, phys, flags | O_NOATIME);

	if (fd == -EPERM)
		fd = bfsd_layer_openat(l, phys, flags);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&fs->files_lock);
	dup3(fd, f->fd, O_CLOEXEC);
	bfsd_layer_put(f->layer);
	f->layer = bfsd_layer_get(l);
	files_del_locked(f);
	files_refile_locked(fs, f);
	pthread_mutex_unlock(&fs->files_lock);
	close(fd);
	return 0;
}

bool bfsd_files_main_writing(struct bfsd_fs *fs, const struct bfsd_at *at)
{
	char dir[PATH_MAX], self[64], where[PATH_MAX];
	struct bfsd_file *f;
	struct stat st;
	bool found = false;
	ssize_t len;

	if (!atomic_load(&fs->main_writers) ||
	    fstatat(at->fd, at->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	pthread_mutex_lock(&fs->files_lock);
	if (!fs->files)
		goto out_unlock;
	if (!S_ISDIR(st.st_mode)) {
		for (f = fs->files[bucket(st.st_dev, st.st_ino)]; f && !found; f = f->next_same)
			found = f->dev == st.st_dev && f->ino == st.st_ino && main_writer(f);
		goto out_unlock;
	}
	/* A directory: where each of main's writers is, by the kernel's name
	 * of its descriptor (a few, and only while main has writers). */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", at->fd);
	len = readlink(self, dir, sizeof(dir) - 1);
	if (len < 0 || (size_t)len + strlen(at->name) + 2 > sizeof(dir))
		goto out_unlock;
	snprintf(dir + len, sizeof(dir) - len, "/%s/", at->name);
	len = (ssize_t)strlen(dir);
	for (size_t i = 0; i < FILES_BUCKETS && !found; i++) {
		for (f = fs->files[i]; f && !found; f = f->next_same) {
			ssize_t n;

			if (!main_writer(f))
				continue;
			snprintf(self, sizeof(self), "/proc/self/fd/%d", f->fd);
			n = readlink(self, where, sizeof(where) - 1);
			found = n >= len && !strncmp(where, dir, len);
		}
	}
out_unlock:
	pthread_mutex_unlock(&fs->files_lock);
	return found;
}

void bfsd_files_retarget(struct bfsd_fs *fs, struct bfsd_branch *b, dev_t dev, ino_t ino,
			 struct bfsd_layer *l, const char *phys)
{
	struct bfsd_file *f, *next, *moved = NULL;

	pthread_mutex_lock(&fs->files_lock);
	if (!fs->files)
		goto out_unlock;
	for (f = fs->files[bucket(dev, ino)]; f; f = next) {
		int fd;

		next = f->next_same;
		if (f->dev != dev || f->ino != ino)
			continue;
		if (b ? f->branch != b : f->branch == fs->main)
			continue;
		fd = openat(l->dirfd, phys, (f->flags & ~O_TRUNC) | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			bfsd_warn("cannot re-point an open file at its copy: %s",
				  bfsd_strerror(errno));
			continue;
		}
		dup3(fd, f->fd, O_CLOEXEC);
		close(fd);
		bfsd_layer_put(f->layer);
		f->layer = bfsd_layer_get(l);
		files_del_locked(f);
		f->next_same = moved;
		moved = f;
	}
	/* Re-file the moved ones under their new inode. */
	while (moved) {
		f = moved;
		moved = f->next_same;
		files_refile_locked(fs, f);
	}
out_unlock:
	pthread_mutex_unlock(&fs->files_lock);
}

bool bfsd_files_open_on(struct bfsd_fs *fs, dev_t dev, ino_t ino)
{
	bool found = false;

	pthread_mutex_lock(&fs->files_lock);
	for (struct bfsd_file *f = fs->files ? fs->files[bucket(dev, ino)] : NULL; f && !found;
	     f = f->next_same)
		found = f->dev == dev && f->ino == ino;
	pthread_mutex_unlock(&fs->files_lock);
	return found;
}

void bfsd_files_relayer(struct bfsd_fs *fs, struct bfsd_layer *from, struct bfsd_layer *to)
{
	pthread_mutex_lock(&fs->files_lock);
	for (size_t i = 0; fs->files && i < FILES_BUCKETS; i++) {
		for (struct bfsd_file *f = fs->files[i]; f; f = f->next_same) {
			if (f->layer != from)
				continue;
			f->layer = bfsd_layer_get(to);
			bfsd_layer_put(from);
		}
	}
	pthread_mutex_unlock(&fs->files_lock);
}
