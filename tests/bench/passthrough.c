/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_passthrough [-o OPTS] SOURCE MNT: the FUSE floor of the benchmark.
 *
 * A trivial low-level passthrough of SOURCE, in the foreground, with the
 * kernel configuration branchfsd uses (long entry/attr timeouts, negative
 * entries cached, keep_cache, readdirplus, no writeback cache, reads by
 * pread into a per-thread buffer, 32-thread session loop): what
 * any FUSE daemon pays before doing work of its own.  OPTS (comma-separated)
 * turn on what branchfsd does not use, to measure the headroom: splice
 * (FUSE_CAP_SPLICE_WRITE|MOVE), cache_readdir (FOPEN_CACHE_DIR), writeback
 * (FUSE_CAP_WRITEBACK_CACHE) and single (a single-threaded session loop).  Modelled on libfuse's example/passthrough_ll.c,
 * which Debian does not install, but an inode keeps its path (parent node +
 * name), not an open O_PATH descriptor, so a 100,000-file walk stays under
 * the 20,000 open-file limit.  Not a filesystem for real use: no xattrs, no
 * locks, hard links are separate nodes.
 *
 * Locks: one mutex over the node table (parent, name, counts, hash); system
 * calls run outside it on a path copied under it.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TIMEOUT	  86400.0
#define HASH_BITS 18
#define MAX_DEPTH 256

struct node {
	struct node *parent; /* keeps parent->kids counted; NULL for the root */
	char *name;
	uint64_t lookups;  /* references the kernel holds */
	uint64_t kids;	   /* nodes whose parent this is */
	bool detached;	   /* unlinked or replaced: no path any more */
	struct node *next; /* hash chain */
};

struct dirh {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
};

static int rootfd = -1;
static bool opt_splice, opt_cache_readdir, opt_writeback, opt_single;
static struct node root = { .lookups = 2 };
static struct node *table[1 << HASH_BITS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &root : (struct node *)(uintptr_t)ino;
}

static struct node **slot(const struct node *parent, const char *name)
{
	uint64_t h = (uintptr_t)parent * 0x9e3779b97f4a7c15ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return &table[h >> (64 - HASH_BITS)];
}

static void unhash(struct node *n)
{
	struct node **p = slot(n->parent, n->name);

	while (*p && *p != n)
		p = &(*p)->next;
	if (*p)
		*p = n->next;
}

/* Free n and the ancestors it kept alive (lock held). */
static void put(struct node *n)
{
	while (n && n != &root && n->lookups == 0 && n->kids == 0) {
		struct node *parent = n->parent;

		if (!n->detached)
			unhash(n);
		free(n->name);
		free(n);
		parent->kids--;
		n = parent;
	}
}

/* The path of parent/name relative to rootfd (name may be NULL). */
static int path_of(struct node *parent, const char *name, char *out)
{
	const char *part[MAX_DEPTH];
	size_t len = 0;
	int n = 0;

	if (name)
		part[n++] = name;
	pthread_mutex_lock(&lock);
	for (struct node *p = parent; p != &root; p = p->parent) {
		if (p->detached || n == MAX_DEPTH) {
			pthread_mutex_unlock(&lock);
			return -ENOENT;
		}
		part[n++] = p->name;
	}
	out[0] = '.';
	out[1] = '\0';
	len = 1;
	while (n-- > 0) {
		size_t l = strlen(part[n]);

		if (len + 1 + l >= PATH_MAX) {
			pthread_mutex_unlock(&lock);
			return -ENAMETOOLONG;
		}
		out[len++] = '/';
		memcpy(out + len, part[n], l + 1);
		len += l;
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The node of parent/name with one more lookup; NULL when out of memory. */
static struct node *hold(struct node *parent, const char *name)
{
	struct node *n, **s;

	pthread_mutex_lock(&lock);
	s = slot(parent, name);
	for (n = *s; n && (n->parent != parent || strcmp(n->name, name)); n = n->next)
		;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (n && !(n->name = strdup(name))) {
			free(n);
			n = NULL;
		}
		if (n) {
			n->parent = parent;
			parent->kids++;
			n->next = *s;
			*s = n;
		}
	}
	if (n)
		n->lookups++;
	pthread_mutex_unlock(&lock);
	return n;
}

static void detach(struct node *parent, const char *name)
{
	struct node *n;

	pthread_mutex_lock(&lock);
	for (n = *slot(parent, name); n && (n->parent != parent || strcmp(n->name, name));
	     n = n->next)
		;
	if (n) {
		unhash(n);
		n->detached = true;
	}
	pthread_mutex_unlock(&lock);
}

/* Fill e for parent/name (stat it, hold its node); negative entry on ENOENT. */
static int entry(struct node *parent, const char *name, struct fuse_entry_param *e)
{
	char path[PATH_MAX];
	struct node *n;
	int ret = path_of(parent, name, path);

	memset(e, 0, sizeof(*e));
	e->attr_timeout = e->entry_timeout = TIMEOUT;
	if (ret)
		return ret;
	if (fstatat(rootfd, path, &e->attr, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	n = hold(parent, name);
	if (!n)
		return -ENOMEM;
	e->ino = (uintptr_t)n;
	return 0;
}

static void reply_entry(fuse_req_t req, struct node *parent, const char *name, int ret)
{
	struct fuse_entry_param e;

	if (!ret)
		ret = entry(parent, name, &e);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->time_gran = 1;
	conn->want |= conn->capable &
		      (FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS | FUSE_CAP_CACHE_SYMLINKS |
		       FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_AUTO_INVAL_DATA);
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (opt_splice)
		conn->want |= conn->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	if (opt_writeback)
		conn->want |= conn->capable & FUSE_CAP_WRITEBACK_CACHE;
}

/* Open flags for the file under us: with the writeback cache the kernel
 * reads write-only files and handles O_APPEND itself (as passthrough_ll). */
static int open_flags(int flags)
{
	flags &= ~O_NOFOLLOW;
	if (opt_writeback && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	if (opt_writeback)
		flags &= ~O_APPEND;
	return flags;
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_entry(req, node_of(parent), name, 0);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = node_of(ino);

	pthread_mutex_lock(&lock);
	n->lookups -= nlookup < n->lookups ? nlookup : n->lookups;
	put(n);
	pthread_mutex_unlock(&lock);
}

static void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void pt_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		forget_one(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct stat st;
	int ret = 0;

	if (fi)
		ret = fstat(fi->fh, &st) ? -errno : 0;
	else if (!(ret = path_of(node_of(ino), NULL, path)))
		ret = fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static int set_times(const char *path, int fd, const struct stat *a, int set)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (set & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (set & FUSE_SET_ATTR_ATIME)
		tv[0] = a->st_atim;
	if (set & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (set & FUSE_SET_ATTR_MTIME)
		tv[1] = a->st_mtim;
	if (fd >= 0)
		return futimens(fd, tv) ? -errno : 0;
	return utimensat(rootfd, path, tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int set,
		       struct fuse_file_info *fi)
{
	int fd = fi ? (int)fi->fh : -1, ret;
	char path[PATH_MAX];

	ret = path_of(node_of(ino), NULL, path);
	if (!ret && (set & FUSE_SET_ATTR_MODE))
		ret = (fd >= 0 ? fchmod(fd, a->st_mode) : fchmodat(rootfd, path, a->st_mode, 0))
			      ? -errno
			      : 0;
	if (!ret && (set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = fchownat(rootfd, path, set & FUSE_SET_ATTR_UID ? a->st_uid : (uid_t)-1,
			       set & FUSE_SET_ATTR_GID ? a->st_gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW)
			      ? -errno
			      : 0;
	if (!ret && (set & FUSE_SET_ATTR_SIZE)) {
		int tfd = fd >= 0 ? fd : openat(rootfd, path, O_WRONLY);

		ret = tfd < 0 || ftruncate(tfd, a->st_size) ? -errno : 0;
		if (fd < 0 && tfd >= 0)
			close(tfd);
	}
	if (!ret && (set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			    FUSE_SET_ATTR_MTIME_NOW)))
		ret = set_times(path, fd, a, set);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		pt_getattr(req, ino, fi);
}

static void pt_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char path[PATH_MAX], buf[PATH_MAX];
	int ret = path_of(node_of(ino), NULL, path);
	ssize_t n = ret ? ret : readlinkat(rootfd, path, buf, sizeof(buf) - 1);

	if (n < 0) {
		fuse_reply_err(req, ret ? -ret : errno);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	int ret = path_of(node_of(parent), name, path);

	if (!ret)
		ret = mkdirat(rootfd, path, mode) ? -errno : 0;
	reply_entry(req, node_of(parent), name, ret);
}

static void pt_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	char path[PATH_MAX];
	int ret = path_of(node_of(parent), name, path);

	if (!ret)
		ret = symlinkat(link, rootfd, path) ? -errno : 0;
	reply_entry(req, node_of(parent), name, ret);
}

/* The new name is a node of its own, as every name here is. */
static void pt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	char from[PATH_MAX], to[PATH_MAX];
	int ret = path_of(node_of(ino), NULL, from);

	if (!ret)
		ret = path_of(node_of(newparent), newname, to);
	if (!ret)
		ret = linkat(rootfd, from, rootfd, to, 0) ? -errno : 0;
	reply_entry(req, node_of(newparent), newname, ret);
}

static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	char path[PATH_MAX];
	int ret = path_of(node_of(parent), name, path);

	if (!ret)
		ret = unlinkat(rootfd, path, flags) ? -errno : 0;
	if (!ret)
		detach(node_of(parent), name);
	fuse_reply_err(req, -ret);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

static void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, AT_REMOVEDIR);
}

static void pt_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct node *p = node_of(parent), *np = node_of(newparent), *n;
	char from[PATH_MAX], to[PATH_MAX], *dup = strdup(newname);
	int ret = dup ? path_of(p, name, from) : -ENOMEM;

	if (flags & RENAME_EXCHANGE)
		ret = -EINVAL; /* not needed by the benchmark */
	if (!ret)
		ret = path_of(np, newname, to);
	if (!ret)
		ret = renameat2(rootfd, from, rootfd, to, flags) ? -errno : 0;
	if (!ret) {
		detach(np, newname);
		pthread_mutex_lock(&lock);
		for (n = *slot(p, name); n && (n->parent != p || strcmp(n->name, name));
		     n = n->next)
			;
		if (n) {
			unhash(n);
			free(n->name);
			n->name = dup;
			dup = NULL;
			np->kids++;
			n->parent = np;
			n->next = *slot(np, n->name);
			*slot(np, n->name) = n;
			p->kids--;
			put(p);
		}
		pthread_mutex_unlock(&lock);
	}
	free(dup);
	fuse_reply_err(req, -ret);
}

static void opened(struct fuse_file_info *fi, int fd)
{
	fi->fh = fd;
	fi->keep_cache = 1;
	fi->noflush = 1;
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	int ret = path_of(node_of(ino), NULL, path);
	int fd = ret ? -1 : openat(rootfd, path, open_flags(fi->flags) & ~O_CREAT);

	if (fd < 0) {
		fuse_reply_err(req, ret ? -ret : errno);
		return;
	}
	opened(fi, fd);
	if (fuse_reply_open(req, fi))
		close(fd);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	char path[PATH_MAX];
	int ret = path_of(node_of(parent), name, path);
	int fd = ret ? -1 : openat(rootfd, path, open_flags(fi->flags) | O_CREAT, mode);

	if (fd < 0)
		ret = ret ? ret : -errno;
	else
		ret = entry(node_of(parent), name, &e);
	if (!ret && !e.ino)
		ret = -ENOENT;
	if (ret) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, -ret);
		return;
	}
	opened(fi, fd);
	if (fuse_reply_create(req, &e, fi)) {
		close(fd);
		forget_one(e.ino, 1);
	}
}

/* As branchfsd: pread into the thread's buffer, not fuse_reply_data's
 * malloc (an mmap and munmap per read of 128 KiB); splice when asked. */
static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static __thread char *data;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	ssize_t got;

	(void)ino;
	if (!data && !opt_splice && posix_memalign((void **)&data, 4096, 4u << 20))
		data = NULL;
	if (opt_splice || !data || size > (4u << 20)) {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = fi->fh;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	got = pread(fi->fh, data, size, off);
	if (got < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, data, (size_t)got);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t n = pwrite(fi->fh, buf, size, off);

	(void)ino;
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, (datasync ? fdatasync(fi->fh) : fsync(fi->fh)) ? errno : 0);
}

static void pt_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = calloc(1, sizeof(*d));
	char path[PATH_MAX];
	int ret = d ? path_of(node_of(ino), NULL, path) : -ENOMEM;
	int fd = ret ? -1 : openat(rootfd, path, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		ret = ret ? ret : -errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (opt_cache_readdir)
		fi->cache_readdir = fi->keep_cache = 1;
	if (fuse_reply_open(req, fi)) {
		closedir(d->dp);
		free(d);
	}
}

static bool dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* passthrough_ll's lo_do_readdir, with entries made from paths. */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = calloc(1, size), *p = buf;
	size_t rem = size;
	int err = buf ? 0 : ENOMEM;

	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	while (!err) {
		struct fuse_entry_param e = { 0 };
		size_t len;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		if (plus && !dot(d->entry->d_name)) {
			err = -entry(node_of(ino), d->entry->d_name, &e);
			if (err)
				break;
			if (!e.ino) { /* gone since readdir */
				d->offset = d->entry->d_off;
				d->entry = NULL;
				continue;
			}
		} else {
			e.attr.st_ino = d->entry->d_ino;
			e.attr.st_mode = d->entry->d_type << 12;
		}
		len = plus ? fuse_add_direntry_plus(req, p, rem, d->entry->d_name, &e,
						    d->entry->d_off)
			   : fuse_add_direntry(req, p, rem, d->entry->d_name, &e.attr,
					       d->entry->d_off);
		if (len > rem) {
			if (e.ino)
				forget_one(e.ino, 1);
			break;
		}
		p += len;
		rem -= len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void pt_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(rootfd, &sv))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* Nothing to pass through: answers at once (the round-trip floor). */
static void pt_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		     size_t out_bufsz)
{
	fuse_reply_err(req, ENOTTY);
}

static const struct fuse_lowlevel_ops ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.forget_multi = pt_forget_multi,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.mkdir = pt_mkdir,
	.symlink = pt_symlink,
	.link = pt_link,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.open = pt_open,
	.create = pt_create,
	.read = pt_read,
	.write = pt_write,
	.flush = pt_flush,
	.release = pt_release,
	.fsync = pt_fsync,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.readdirplus = pt_readdirplus,
	.releasedir = pt_releasedir,
	.statfs = pt_statfs,
	.ioctl = pt_ioctl,
};

static int parse_opts(char *opts)
{
	for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
		if (!strcmp(tok, "splice"))
			opt_splice = true;
		else if (!strcmp(tok, "cache_readdir"))
			opt_cache_readdir = true;
		else if (!strcmp(tok, "writeback"))
			opt_writeback = true;
		else if (!strcmp(tok, "single"))
			opt_single = true;
		else
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], "-o", "default_permissions,fsname=benchfloor,subtype=benchfloor",
			  NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	struct rlimit rl;
	int ret = 1;

	if (argc == 5 && !strcmp(argv[1], "-o") && !parse_opts(argv[2])) {
		argv += 2;
		argc -= 2;
	}
	if (argc != 3) {
		fprintf(stderr,
			"usage: bench_passthrough [-o splice,cache_readdir,writeback,single] "
			"SOURCE MNT\n");
		return 2;
	}
	rootfd = open(argv[1], O_PATH | O_DIRECTORY);
	if (rootfd < 0) {
		fprintf(stderr, "bench_passthrough: cannot open %s: %m\n", argv[1]);
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se))
		goto out_destroy;
	if (fuse_session_mount(se, argv[2]))
		goto out_signals;
	if (opt_single) {
		ret = fuse_session_loop(se) ? 1 : 0;
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_max_threads(cfg, 32);
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		ret = fuse_session_loop_mt(se, cfg) ? 1 : 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return ret;
}
