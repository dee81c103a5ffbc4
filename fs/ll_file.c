/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE handlers for open files: create, open, read, write, flush, release,
 * fsync, fallocate, lseek, and ioctl (control files only).
 *
 * Data moves through the descriptor of the file handle, with no tree lock:
 * a read is a pread of the underlying file into its thread's buffer
 * (read_buffer; splicing it to the device measured no faster).  A write holds its branch's
 * write gate shared, so it cannot race a freeze of the layer it writes to;
 * when the branch moved on (a child froze its top, or main began a new
 * epoch) the write copies up or preserves first.  Control files are
 * direct-I/O: every read and write reaches ctl.c.
 */
#include "ll.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct bfsd_file *file_of(struct fuse_file_info *fi)
{
	return (struct bfsd_file *)(uintptr_t)fi->fh;
}

/* After a write, truncate or O_TRUNC open the kernel marked (ll_io.c):
 * drop setuid and setgid as the VFS would for the caller.  True if it did. */
static bool kill_suidgid(fuse_req_t req, int fd)
{
	struct stat st;
	mode_t mode;

	if (!bfsd_ll_kill_suidgid() || fstat(fd, &st) < 0)
		return false;
	mode = bfsd_ll_killed_mode(req, &st);
	return mode != st.st_mode && fchmod(fd, mode & 07777) == 0;
}

/* Main shows a live base: keep the page cache only if the file did not
 * change since the kernel last read it. */
static bool main_keep_cache(struct bfsd_mount *m, struct bfsd_node *n, int fd)
{
	struct stat st;
	bool same;

	if (fstat(fd, &st) < 0)
		return false;
	pthread_mutex_lock(&m->nodes_lock);
	same = n->seen_mtime.tv_sec == st.st_mtim.tv_sec &&
	       n->seen_mtime.tv_nsec == st.st_mtim.tv_nsec && n->seen_size == st.st_size;
	n->seen_mtime = st.st_mtim;
	n->seen_size = st.st_size;
	pthread_mutex_unlock(&m->nodes_lock);
	return same;
}

static void opened(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f,
		   struct fuse_file_info *fi)
{
	fi->fh = (uintptr_t)f;
	fi->keep_cache = f->branch == m->fs->main ? main_keep_cache(m, n, f->fd) : 1;
	fi->noflush = 1;
	bfsd_node_open(m, n, f);
}

void bfsd_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	struct bfsd_inval iv = { 0 };
	struct bfsd_file *f = NULL;
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	if (n->kind == BFSD_NODE_CTL) {
		fi->direct_io = 1;
		fi->fh = 0;
		fuse_reply_open(req, fi);
		return;
	}
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, &b, path);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, writing);
		ret = bfsd_file_open(m->fs, b, path, fi->flags, &f);
		bfsd_unlock_ns(m->fs, b);
	}
	if (!ret && (fi->flags & O_TRUNC)) {
		bfsd_inval_twin(m, &iv, n, b, path, false);
		if (kill_suidgid(req, f->fd))
			bfsd_inval_inode(&iv, ino, -1, 0);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	opened(m, n, f, fi);
	/*
	 * A commit replaced the object since the kernel last opened the node:
	 * its pages go with this open, its attributes before the open
	 * completes (no kernel lock is taken for them), so a reader that saw
	 * one file of a commit never sees another's old copy, whatever the
	 * invalidations sent after the commit have reached yet.
	 */
	if (bfsd_node_replaced(m, n)) {
		fi->keep_cache = 0;
		fuse_lowlevel_notify_inval_inode(m->se, ino, -1, 0);
	}
	bfsd_inval_now(m, &iv);
	if (fuse_reply_open(req, fi))
		bfsd_node_close(m, n, f);
	bfsd_inval_send(m, &iv);
}

void bfsd_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *pn = bfsd_node_of(m, parent), *n = NULL;
	struct bfsd_cred cred = bfsd_ll_cred(req);
	uint64_t gen = __atomic_load_n(&m->xattr_gen, __ATOMIC_ACQUIRE);
	struct bfsd_inval iv = { 0 };
	struct fuse_entry_param e;
	struct bfsd_file *f = NULL;
	struct bfsd_branch *b;
	char path[PATH_MAX];
	struct stat st;
	int ret;

	bfsd_inval_hold(m, &iv, parent, 0);
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = pn->kind == BFSD_NODE_CTL ? -ENOTDIR
	      : (pn->kind == BFSD_NODE_ROOT && name[0] == '@') ||
			      (pn->kind != BFSD_NODE_OBJECT && !strcmp(name, BFSD_CTL_NAME))
		      ? -EPERM
		      : bfsd_node_target(m, pn, &b, path);
	if (!ret)
		ret = bfsd_path_join(path, path, name);
	if (!ret) {
		bfsd_lock_ns(m->fs, b, true);
		ret = bfsd_file_create(m->fs, b, path, fi->flags, mode, &cred, &f, &st);
		bfsd_unlock_ns(m->fs, b);
	}
	if (!ret)
		ret = bfsd_node_lookup(m, pn, name, BFSD_NODE_OBJECT, b, bfsd_ll_via_root(pn), &st,
				       0, 0, &n);
	if (!ret) {
		/* Nothing gives a new file a capability: the kernel's question
		 * before its first write is answered from the node. */
		__atomic_store_n(&n->nocap_gen, gen, __ATOMIC_RELAXED);
		bfsd_inval_twin(m, &iv, pn, b, path, true);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret) {
		bfsd_file_close(m->fs, f);
		bfsd_inval_reply_err(req, m, &iv, -ret);
		return;
	}
	bfsd_ll_entry(m, n, &st, &e);
	opened(m, n, f, fi);
	bfsd_inval_now(m, &iv);
	if (fuse_reply_create(req, &e, fi)) {
		bfsd_node_close(m, n, f);
		bfsd_node_forget(m, n, 1);
	}
	bfsd_inval_send(m, &iv);
}

/*
 * Each session thread reads into one buffer of its own, kept for the
 * thread's life.  libfuse's fuse_reply_data would malloc one per read
 * instead: at 128 KiB and up that is an mmap and an munmap per request,
 * whose TLB shootdown across the session's threads cost a cold 32 MiB read
 * 4/5 of its speed (240 MB/s against 1,200 with this buffer).
 */
#define READ_BUFFER_MAX (4u << 20)

static pthread_key_t read_key;
static pthread_once_t read_once = PTHREAD_ONCE_INIT;

/* Page-aligned, as an O_DIRECT descriptor needs. */
struct read_buffer {
	size_t size;
	char *data;
};

static void read_buffer_free(void *p)
{
	struct read_buffer *rb = p;

	free(rb->data);
	free(rb);
}

static void read_key_make(void)
{
	if (pthread_key_create(&read_key, read_buffer_free))
		abort();
}

/* The calling thread's buffer of at least size bytes, or NULL. */
static char *read_buffer(size_t size)
{
	struct read_buffer *rb;
	void *data;

	pthread_once(&read_once, read_key_make);
	rb = pthread_getspecific(read_key);
	if (rb && rb->size >= size)
		return rb->data;
	if (!rb) {
		rb = calloc(1, sizeof(*rb));
		if (!rb || pthread_setspecific(read_key, rb)) {
			free(rb);
			return NULL;
		}
	}
	if (size < (128u << 10))
		size = 128u << 10;
	if (posix_memalign(&data, 4096, size))
		return NULL;
	free(rb->data);
	rb->data = data;
	rb->size = size;
	return data;
}

void bfsd_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	char *data;
	ssize_t got;

	if (n->kind == BFSD_NODE_CTL) {
		char text[BFSD_NAME_MAX + 1];
		int len = bfsd_ctl_read(m, n, text, sizeof(text));

		if (off >= len)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, text + off,
				       (size_t)(len - off) < size ? (size_t)(len - off) : size);
		return;
	}
	data = size <= READ_BUFFER_MAX ? read_buffer(size) : NULL;
	if (!data) {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = file_of(fi)->fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	do
		got = pread(file_of(fi)->fd, data, size, off);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, data, (size_t)got);
}

/* The path of n, for a write that must copy up or preserve first. */
static int prepare(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f)
{
	char path[PATH_MAX];
	struct bfsd_branch *b;
	int ret;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, &b, path);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	/* No name shows the file any more: it is written all the same. */
	if (ret == -ENOENT)
		return bfsd_file_prepare_write(m->fs, f, NULL);
	return ret ? ret : bfsd_file_prepare_write(m->fs, f, path);
}

/* Run fn with f's branch write gate held, after catching up if needed. */
static int gated(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f,
		 ssize_t (*fn)(struct bfsd_fs *, struct bfsd_file *, void *), void *arg,
		 ssize_t *res)
{
	pthread_rwlock_t *gate = &f->branch->write_gate;
	int ret;

	for (;;) {
		pthread_rwlock_rdlock(gate);
		if (!bfsd_file_needs_prepare(m->fs, f))
			break;
		pthread_rwlock_unlock(gate);
		ret = prepare(m, n, f);
		if (ret)
			return ret;
	}
	*res = fn(m->fs, f, arg);
	pthread_rwlock_unlock(gate);
	return *res < 0 ? (int)*res : 0;
}

struct wargs {
	fuse_req_t req;
	const char *buf;
	size_t size;
	off_t off;
	bool killed;
};

static ssize_t do_pwrite(struct bfsd_fs *fs, struct bfsd_file *f, void *arg)
{
	struct wargs *w = arg;
	ssize_t res = bfsd_file_write(fs, f, w->buf, w->size, w->off);

	/* Under the gate, so into the layer (and epoch) the data went to. */
	if (res >= 0)
		w->killed = kill_suidgid(w->req, f->fd);
	return res;
}

/*
 * After data changed through n, the other view's cached pages are stale.
 * Collected before the reply: once the kernel has it, the file may be
 * closed and n freed by another thread; only node ids go to the kernel.
 */
static void twin_data(struct bfsd_mount *m, struct bfsd_node *n, off_t off, off_t len,
		      struct bfsd_inval *iv)
{
	char path[PATH_MAX];
	struct bfsd_branch *b;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	/* An @NAME file has a twin only while NAME is the root's branch. */
	if ((n->via_root || n->branch == m->fs->current) && !bfsd_node_target(m, n, &b, path))
		bfsd_inval_twin(m, iv, n, b, path, false);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	for (size_t i = 0; i < iv->n; i++) {
		iv->it[i].off = off;
		iv->it[i].len = len;
	}
}

void bfsd_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct wargs w = { req, buf, size, off, false };
	struct bfsd_inval iv = { 0 };
	ssize_t written = 0;
	int ret;

	if (n->kind == BFSD_NODE_CTL) {
		struct bfsd_cmd cmd;

		ret = size > BFSD_CMD_MAX ? -EINVAL : bfsd_cmd_parse(buf, size, &cmd);
		if (!ret && cmd.op == BFSD_CMD_COMMIT) {
			bfsd_commits_run(m, req, n, size);
			return;
		}
		if (!ret)
			ret = bfsd_ctl_command(m, n, &cmd);
		if (ret)
			fuse_reply_err(req, -ret);
		else
			fuse_reply_write(req, size);
		bfsd_store_tidy(m->fs);
		return;
	}
	ret = gated(m, n, file_of(fi), do_pwrite, &w, &written);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	twin_data(m, n, off, written, &iv);
	if (w.killed)
		bfsd_inval_inode(&iv, ino, -1, 0);
	bfsd_inval_now(m, &iv);
	fuse_reply_write(req, written);
	bfsd_inval_send(m, &iv);
}

void bfsd_ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

void bfsd_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);

	if (n->kind != BFSD_NODE_CTL && fi->fh)
		bfsd_node_close(m, n, file_of(fi));
	fuse_reply_err(req, 0);
}

void bfsd_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	int ret = 0;

	if (n->kind != BFSD_NODE_CTL && fi->fh &&
	    (datasync ? fdatasync(file_of(fi)->fd) : fsync(file_of(fi)->fd)) < 0)
		ret = errno;
	fuse_reply_err(req, ret);
}

struct fargs {
	int mode;
	off_t offset, length;
};

static ssize_t do_fallocate(struct bfsd_fs *fs, struct bfsd_file *f, void *arg)
{
	struct fargs *a = arg;

	return bfsd_file_fallocate(fs, f, a->mode, a->offset, a->length);
}

void bfsd_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		       struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct fargs a = { mode, offset, length };
	struct bfsd_inval iv = { 0 };
	ssize_t res;
	int ret;

	if (n->kind == BFSD_NODE_CTL || !fi->fh) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	ret = gated(m, n, file_of(fi), do_fallocate, &a, &res);
	if (!ret)
		twin_data(m, n, 0, 0, &iv);
	bfsd_inval_reply_err(req, m, &iv, -ret);
}

void bfsd_ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	off_t res;

	if (n->kind == BFSD_NODE_CTL || !fi->fh) {
		fuse_reply_err(req, ESPIPE);
		return;
	}
	res = lseek(file_of(fi)->fd, off, whence);
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

void bfsd_ll_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		   struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		   size_t out_bufsz)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	char out[sizeof(struct branchfs_ioc_info)];
	size_t out_len = out_bufsz < sizeof(out) ? out_bufsz : sizeof(out);
	int ret;

	(void)arg;
	(void)fi;
	if (n->kind != BFSD_NODE_CTL || (flags & FUSE_IOCTL_COMPAT)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (cmd == FS_IOC_BRANCH_COMMIT) {
		bfsd_commits_run(m, req, n, BFSD_COMMIT_IOCTL);
		return;
	}
	ret = bfsd_ctl_ioctl(m, n, cmd, in_buf, in_bufsz, out, &out_len);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_ioctl(req, 0, out_len ? out : NULL, out_len);
	bfsd_store_tidy(m->fs);
}
