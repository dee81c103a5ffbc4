/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers shared by the daemon: growable buffers, logical path
 * arithmetic, hashing, UUIDs, branch name rules, logging and a few
 * syscall wrappers.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

int bfsd_log_level = BFSD_LOG_WARN;
bool bfsd_log_stderr;

int bfsd_buf_add(struct bfsd_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int bfsd_buf_addf(struct bfsd_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n, ret;
	char *big;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return bfsd_buf_add(b, small, n);
	big = malloc(n + 1);
	if (!big)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, n + 1, fmt, ap);
	va_end(ap);
	ret = bfsd_buf_add(b, big, n);
	free(big);
	return ret;
}

void bfsd_buf_free(struct bfsd_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int bfsd_path_join(char *out, const char *parent, const char *name)
{
	size_t pl = strlen(parent), nl = strlen(name);
	size_t sep = pl && nl ? 1 : 0;

	if (pl + sep + nl >= PATH_MAX)
		return -ENAMETOOLONG;
	/* out may be parent itself: move parent first, then append. */
	memmove(out, parent, pl);
	if (sep)
		out[pl] = '/';
	memmove(out + pl + sep, name, nl);
	out[pl + sep + nl] = '\0';
	return 0;
}

const char *bfsd_path_split(const char *path, char *parent)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		parent[0] = '\0';
		return path;
	}
	memcpy(parent, path, slash - path);
	parent[slash - path] = '\0';
	return slash + 1;
}

const char *bfsd_rel(const char *path)
{
	return path[0] ? path : ".";
}

bool bfsd_path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (!n)
		return true;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

int bfsd_strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint64_t bfsd_hash(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

void bfsd_thread_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop, pthread_t thread)
{
	pthread_mutex_lock(lock);
	*stop = true;
	pthread_cond_signal(cond);
	pthread_mutex_unlock(lock);
	pthread_join(thread, NULL);
}

/*
 * Random bytes for names, from a per-thread pool that getrandom refills 256
 * bytes at a time.  A forked child starts a pool of its own: its names must
 * not repeat the parent's.
 */
static _Thread_local unsigned char pool[256];
static _Thread_local size_t pool_left;
static _Thread_local unsigned int pool_gen;
static atomic_uint fork_gen;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_forked(void)
{
	atomic_fetch_add(&fork_gen, 1);
}

static void pool_init(void)
{
	pthread_atfork(NULL, NULL, pool_forked);
}

static int random_bytes(unsigned char *out, size_t n)
{
	unsigned int gen;

	pthread_once(&pool_once, pool_init);
	gen = atomic_load(&fork_gen);
	if (pool_left < n || pool_gen != gen) {
		ssize_t got = getrandom(pool, sizeof(pool), 0);

		if (got != (ssize_t)sizeof(pool)) {
			pool_left = 0;
			return got < 0 ? -errno : -EIO;
		}
		pool_left = sizeof(pool);
		pool_gen = gen;
	}
	memcpy(out, pool + sizeof(pool) - pool_left, n);
	pool_left -= n;
	return 0;
}

int bfsd_uuid(char out[37])
{
	unsigned char r[16];
	int ret = random_bytes(r, sizeof(r));

	if (ret)
		return ret;
	r[6] = (r[6] & 0x0f) | 0x40; /* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
	return 0;
}

uint64_t bfsd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const char *bfsd_strerror(int err)
{
	static _Thread_local char buf[256];
	const char *s = strerror_r(err < 0 ? -err : err, buf, sizeof(buf));

	if (s != buf)
		snprintf(buf, sizeof(buf), "%s", s);
	/* Not an acronym ("RPC struct is bad"). */
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] += 'a' - 'A';
	return buf;
}

int bfsd_branch_name_valid(const char *name)
{
	size_t n = strnlen(name, BFSD_NAME_MAX + 1);

	if (n == 0 || n > BFSD_NAME_MAX)
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, "..") || name[0] == '@')
		return -EINVAL;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

int bfsd_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int bfsd_write_all_n(int fd, const void *buf, size_t n, size_t *written)
{
	const char *p = buf;
	size_t done = 0;
	int ret = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		done += w;
	}
	if (written)
		*written = done;
	return ret;
}

int bfsd_write_all(int fd, const void *buf, size_t n)
{
	return bfsd_write_all_n(fd, buf, n, NULL);
}

DIR *bfsd_fdopendir(int fd)
{
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	int err = errno;

	if (!d && fd >= 0) {
		close(fd);
		errno = err;
	}
	return d;
}

int bfsd_rm_rf_at(int dir, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (!unlinkat(dir, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = bfsd_fdopendir(fd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ret = bfsd_rm_rf_at(fd, de->d_name);
		if (ret)
			break;
	}
	closedir(d);
	if (!ret && unlinkat(dir, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

void bfsd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024];
	va_list ap;

	if (level > bfsd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	syslog(level == BFSD_LOG_ERR	? LOG_ERR
	       : level == BFSD_LOG_WARN ? LOG_WARNING
					: LOG_DEBUG,
	       "%s", msg);
	if (bfsd_log_level >= BFSD_LOG_DEBUG || getenv("BRANCHFSD_STDERR") ||
	    (bfsd_log_stderr && level <= BFSD_LOG_WARN))
		fprintf(stderr, "branchfsd: %s: %s\n", names[level], msg);
}
