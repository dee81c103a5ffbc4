/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit-test helpers for the daemon's core (see core_test.h).  Every wrapper
 * takes the locks a FUSE request would: tree_lock shared plus the branch's
 * namespace lock for view operations, tree_lock exclusive for create,
 * commit and abort.
 */
#define _GNU_SOURCE
#include "core_test.h"

#include "bfs_test.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

void ut_init(struct ut *t)
{
	memset(t, 0, sizeof(*t));
	bfs_scratch(t->dir, sizeof(t->dir));
	snprintf(t->base, sizeof(t->base), "%s/base", t->dir);
	snprintf(t->storage, sizeof(t->storage), "%s/storage", t->dir);
	ck_assert_int_eq(mkdir(t->base, 0755), 0);
}

void ut_open(struct ut *t, bool keep)
{
	struct bfsd_options opt = { .base = t->base, .storage = t->storage, .keep = keep };
	int ret;

	ck_assert_ptr_null(t->fs);
	ret = bfsd_fs_open(&opt, &t->fs);
	ck_assert_msg(ret == 0, "bfsd_fs_open: %s", strerror(-ret));
}

void ut_close(struct ut *t)
{
	bfsd_fs_unmounted(t->fs);
	bfsd_fs_close(t->fs);
	t->fs = NULL;
}

void ut_setup(struct ut *t)
{
	ut_init(t);
	ut_open(t, false);
}

int ut_crash(struct ut *t, void (*fn)(struct ut *t, void *arg), void *arg)
{
	pid_t pid;
	int status;

	ck_assert_ptr_null(t->fs);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ut_open(t, false);
		fn(t, arg);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *rotate(const char *root, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *out = bufs[next++ % 8];

	if (rel && rel[0])
		snprintf(out, PATH_MAX, "%s/%s", root, rel);
	else
		snprintf(out, PATH_MAX, "%s", root);
	return out;
}

const char *ut_bpath(const struct ut *t, const char *rel)
{
	return rotate(t->base, rel);
}

const char *ut_spath(const struct ut *t, const char *rel)
{
	return rotate(t->storage, rel);
}

void ut_base_write(const struct ut *t, const char *rel, const char *data)
{
	int ret = bfs_write_file(ut_bpath(t, rel), data);

	ck_assert_msg(ret == 0, "write base/%s: %s", rel, strerror(-ret));
}

void ut_base_mkdir(const struct ut *t, const char *rel)
{
	ck_assert_msg(mkdir(ut_bpath(t, rel), 0755) == 0, "mkdir base/%s: %s", rel,
		      strerror(errno));
}

char *ut_base_read(const struct ut *t, const char *rel)
{
	return bfs_read_file(ut_bpath(t, rel));
}

bool ut_base_exists(const struct ut *t, const char *rel)
{
	return bfs_exists(ut_bpath(t, rel));
}

struct bfsd_branch *ut_branch(struct ut *t, struct bfsd_branch *parent, const char *name)
{
	char out[BFSD_NAME_MAX + 1];
	struct bfsd_branch *b;
	int ret;

	pthread_rwlock_wrlock(&t->fs->tree_lock);
	ret = bfsd_branch_create(t->fs, parent, name, out);
	b = ret ? NULL : bfsd_branch_find(t->fs, out);
	pthread_rwlock_unlock(&t->fs->tree_lock);
	ck_assert_msg(ret == 0, "create branch %s: %s", name ? name : "(generated)",
		      strerror(-ret));
	ck_assert_ptr_nonnull(b);
	return b;
}

int ut_commit(struct ut *t, struct bfsd_branch *b)
{
	int ret;

	pthread_rwlock_wrlock(&t->fs->tree_lock);
	ret = bfsd_commit(t->fs, b, NULL);
	pthread_rwlock_unlock(&t->fs->tree_lock);
	return ret;
}

int ut_abort(struct ut *t, struct bfsd_branch *b)
{
	int ret;

	pthread_rwlock_wrlock(&t->fs->tree_lock);
	ret = bfsd_branch_abort(t->fs, b);
	pthread_rwlock_unlock(&t->fs->tree_lock);
	return ret;
}

static struct bfsd_cred me(void)
{
	struct bfsd_cred c = { .uid = geteuid(), .gid = getegid(), .umask = 022 };

	return c;
}

/* Open path for writing (creating it when absent), as FUSE open/create. */
static int open_for_write(struct ut *t, struct bfsd_branch *b, const char *path, int flags,
			  struct bfsd_file **f)
{
	struct bfsd_cred cred = me();
	struct stat st;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_stat(t->fs, b, path, &st);
	if (ret == 0)
		ret = bfsd_file_open(t->fs, b, path, flags, f);
	else if (ret == -ENOENT)
		ret = bfsd_file_create(t->fs, b, path, flags & ~O_TRUNC, 0644, &cred, f, &st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

/* Write through f as the FUSE write path does: catch up first if needed. */
static int file_write(struct ut *t, struct bfsd_file *f, const char *path, off_t off,
		      const char *data)
{
	size_t len = strlen(data);
	ssize_t n;
	int ret;

	if (bfsd_file_needs_prepare(t->fs, f)) {
		ret = bfsd_file_prepare_write(t->fs, f, path);
		if (ret)
			return ret;
	}
	n = pwrite(f->fd, data, len, off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int ut_write(struct ut *t, struct bfsd_branch *b, const char *path, const char *data)
{
	struct bfsd_file *f = NULL;
	int ret = open_for_write(t, b, path, O_WRONLY | O_TRUNC, &f);

	if (ret)
		return ret;
	ret = file_write(t, f, path, 0, data);
	bfsd_file_close(t->fs, f);
	return ret;
}

int ut_pwrite(struct ut *t, struct bfsd_branch *b, const char *path, off_t off, const char *data)
{
	struct bfsd_file *f = NULL;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_file_open(t->fs, b, path, O_WRONLY, &f);
	bfsd_unlock_op(t->fs, b);
	if (ret)
		return ret;
	ret = file_write(t, f, path, off, data);
	bfsd_file_close(t->fs, f);
	return ret;
}

static char *read_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf && (n = pread(fd, buf + len, cap - len - 1, len)) > 0) {
		len += n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

char *ut_read(struct ut *t, struct bfsd_branch *b, const char *path, int *err)
{
	struct bfsd_file *f = NULL;
	char *s;
	int ret;

	bfsd_lock_op(t->fs, b, false);
	ret = bfsd_file_open(t->fs, b, path, O_RDONLY, &f);
	bfsd_unlock_op(t->fs, b);
	if (err)
		*err = ret;
	if (ret)
		return NULL;
	s = read_fd(f->fd);
	bfsd_file_close(t->fs, f);
	return s;
}

char *ut_cat(struct ut *t, struct bfsd_branch *b, const char *path)
{
	int err = 0;
	char *s = ut_read(t, b, path, &err);

	if (!s && asprintf(&s, "<%s>", strerror(-err)) < 0)
		s = NULL;
	return s;
}

int ut_stat(struct ut *t, struct bfsd_branch *b, const char *path, struct stat *st)
{
	int ret;

	bfsd_lock_op(t->fs, b, false);
	ret = bfsd_view_stat(t->fs, b, path, st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

bool ut_exists(struct ut *t, struct bfsd_branch *b, const char *path)
{
	struct stat st;

	return ut_stat(t, b, path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Join n sorted strings with sep. */
static char *join_sorted(char **v, size_t n, const char *sep)
{
	struct bfsd_buf out = { 0 };

	qsort(v, n, sizeof(*v), cmp_str);
	bfsd_buf_add(&out, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			bfsd_buf_add(&out, sep, strlen(sep));
		bfsd_buf_add(&out, v[i], strlen(v[i]));
	}
	return out.data;
}

/* Names of the directory path in b, unsorted; -errno. */
static int list_names(struct ut *t, struct bfsd_branch *b, const char *path, char ***names,
		      size_t *n)
{
	struct bfsd_dirlist list = { 0 };
	struct bfsd_res *r;
	int ret;

	*names = NULL;
	*n = 0;
	ret = bfsd_resolve_existing(t->fs, b, path, &r);
	if (ret)
		return ret;
	ret = r->type == S_IFDIR ? bfsd_dir_list(t->fs, b, r, INT_MAX, 0, &list) : -ENOTDIR;
	bfsd_res_put(r);
	if (ret)
		return ret;
	*names = calloc(list.n + 1, sizeof(**names));
	for (size_t i = 0; i < list.n; i++)
		(*names)[i] = strdup(list.e[i].name);
	*n = list.n;
	bfsd_dirlist_free(&list);
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *ut_ls(struct ut *t, struct bfsd_branch *b, const char *path)
{
	char **names, *s;
	size_t n;
	int ret;

	bfsd_lock_op(t->fs, b, false);
	ret = list_names(t, b, path, &names, &n);
	bfsd_unlock_op(t->fs, b);
	if (ret) {
		if (asprintf(&s, "<error %d>", ret) < 0)
			s = NULL;
		return s;
	}
	s = join_sorted(names, n, ",");
	free_names(names, n);
	return s;
}

int ut_mkdir(struct ut *t, struct bfsd_branch *b, const char *path, mode_t mode)
{
	struct bfsd_cred cred = me();
	struct stat st;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_mkdir(t->fs, b, path, mode, &cred, &st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_mkfifo(struct ut *t, struct bfsd_branch *b, const char *path)
{
	struct bfsd_cred cred = me();
	struct stat st;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_mknod(t->fs, b, path, S_IFIFO | 0644, 0, &cred, &st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_symlink(struct ut *t, struct bfsd_branch *b, const char *target, const char *path)
{
	struct bfsd_cred cred = me();
	struct stat st;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_symlink(t->fs, b, target, path, &cred, &st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_link(struct ut *t, struct bfsd_branch *b, const char *from, const char *to)
{
	struct stat st;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_link(t->fs, b, from, to, &st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_unlink(struct ut *t, struct bfsd_branch *b, const char *path)
{
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_unlink(t->fs, b, path);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_rmdir(struct ut *t, struct bfsd_branch *b, const char *path)
{
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_rmdir(t->fs, b, path);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_rename(struct ut *t, struct bfsd_branch *b, const char *from, const char *to,
	      unsigned int flags)
{
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_rename(t->fs, b, from, to, flags);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

static int setattr(struct ut *t, struct bfsd_branch *b, const char *path, const struct stat *attr,
		   int to_set)
{
	struct stat st;
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_setattr(t->fs, b, path, attr, to_set, NULL, &st);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

int ut_chmod(struct ut *t, struct bfsd_branch *b, const char *path, mode_t mode)
{
	struct stat attr = { .st_mode = mode };

	return setattr(t, b, path, &attr, BFSD_SET_MODE);
}

int ut_chown(struct ut *t, struct bfsd_branch *b, const char *path, uid_t uid, gid_t gid)
{
	struct stat attr = { .st_uid = uid, .st_gid = gid };

	return setattr(t, b, path, &attr, BFSD_SET_UID | BFSD_SET_GID);
}

int ut_utimens(struct ut *t, struct bfsd_branch *b, const char *path, const struct timespec ts[2])
{
	struct stat attr = { .st_atim = ts[0], .st_mtim = ts[1] };

	return setattr(t, b, path, &attr, BFSD_SET_ATIME | BFSD_SET_MTIME);
}

int ut_truncate(struct ut *t, struct bfsd_branch *b, const char *path, off_t size)
{
	struct stat attr = { .st_size = size };

	return setattr(t, b, path, &attr, BFSD_SET_SIZE);
}

int ut_setxattr(struct ut *t, struct bfsd_branch *b, const char *path, const char *name,
		const char *val)
{
	int ret;

	bfsd_lock_op(t->fs, b, true);
	ret = bfsd_view_setxattr(t->fs, b, path, name, val, strlen(val), 0);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

ssize_t ut_getxattr(struct ut *t, struct bfsd_branch *b, const char *path, const char *name,
		    char *val, size_t n)
{
	ssize_t ret;

	bfsd_lock_op(t->fs, b, false);
	ret = bfsd_view_getxattr(t->fs, b, path, name, val, n - 1);
	bfsd_unlock_op(t->fs, b);
	if (ret >= 0)
		val[ret] = '\0';
	return ret;
}

/* Split a listxattr buffer into a sorted ','-joined string. */
static char *xattr_names(const char *buf, ssize_t n)
{
	char *v[256], *s;
	size_t k = 0;

	for (const char *p = buf; p < buf + n && k < 256; p += strlen(p) + 1)
		v[k++] = (char *)p;
	s = join_sorted(v, k, ",");
	return s;
}

char *ut_listxattr(struct ut *t, struct bfsd_branch *b, const char *path)
{
	char buf[65536], *s;
	ssize_t n;

	bfsd_lock_op(t->fs, b, false);
	n = bfsd_view_listxattr(t->fs, b, path, buf, sizeof(buf));
	bfsd_unlock_op(t->fs, b);
	if (n < 0) {
		if (asprintf(&s, "<error %zd>", n) < 0)
			s = NULL;
		return s;
	}
	return xattr_names(buf, n);
}

int ut_readlink(struct ut *t, struct bfsd_branch *b, const char *path, char *buf, size_t n)
{
	int ret;

	bfsd_lock_op(t->fs, b, false);
	ret = bfsd_view_readlink(t->fs, b, path, buf, n);
	bfsd_unlock_op(t->fs, b);
	return ret;
}

/* ---- tree descriptions ---- */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

static char *lines_join(struct lines *l)
{
	char *s = join_sorted(l->v, l->n, "\n");

	free_names(l->v, l->n);
	return s;
}

/* One object's line: rel type mode uid:gid [nlink] body xattrs. */
static char *describe(const char *rel, const struct stat *st, const char *body, const char *xattrs)
{
	char type = S_ISDIR(st->st_mode)    ? 'd'
		    : S_ISREG(st->st_mode)  ? 'f'
		    : S_ISLNK(st->st_mode)  ? 'l'
		    : S_ISFIFO(st->st_mode) ? 'p'
					    : '?';
	char *s;

	if (asprintf(&s, "%s %c %04o %u:%u n%lu [%s] {%s}", rel, type,
		     (unsigned int)(st->st_mode & 07777), (unsigned int)st->st_uid,
		     (unsigned int)st->st_gid,
		     S_ISREG(st->st_mode) ? (unsigned long)st->st_nlink : 0, body ? body : "",
		     xattrs ? xattrs : "") < 0)
		return NULL;
	return s;
}

static void tree_walk(const char *root, const char *rel, struct lines *out)
{
	char abs[PATH_MAX], child[PATH_MAX], body[PATH_MAX] = "", xa[4096], *xs, *content = NULL;
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;

	snprintf(abs, sizeof(abs), "%s%s%s", root, rel[0] ? "/" : "", rel);
	if (lstat(abs, &st) < 0)
		return;
	if (S_ISREG(st.st_mode))
		content = bfs_read_file(abs);
	if (S_ISLNK(st.st_mode)) {
		n = readlink(abs, body, sizeof(body) - 1);
		body[n > 0 ? n : 0] = '\0';
	}
	n = llistxattr(abs, xa, sizeof(xa));
	xs = xattr_names(xa, n > 0 ? n : 0);
	if (rel[0])
		lines_add(out, describe(rel, &st, content ? content : body, xs));
	free(xs);
	free(content);
	if (!S_ISDIR(st.st_mode) || !(d = opendir(abs)))
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		tree_walk(root, child, out);
	}
	closedir(d);
}

char *ut_tree(const char *abs)
{
	struct lines l = { 0 };

	tree_walk(abs, "", &l);
	return lines_join(&l);
}

static void view_walk(struct ut *t, struct bfsd_branch *b, const char *rel, struct lines *out)
{
	char body[PATH_MAX] = "", child[PATH_MAX], *content = NULL, *xs, **names;
	struct stat st;
	size_t n;

	if (ut_stat(t, b, rel, &st))
		return;
	if (S_ISREG(st.st_mode))
		content = ut_read(t, b, rel, NULL);
	if (S_ISLNK(st.st_mode))
		ut_readlink(t, b, rel, body, sizeof(body));
	xs = ut_listxattr(t, b, rel);
	if (rel[0])
		lines_add(out, describe(rel, &st, content ? content : body, xs));
	free(xs);
	free(content);
	if (!S_ISDIR(st.st_mode))
		return;
	bfsd_lock_op(t->fs, b, false);
	if (list_names(t, b, rel, &names, &n))
		n = 0;
	bfsd_unlock_op(t->fs, b);
	for (size_t i = 0; i < n; i++) {
		snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		view_walk(t, b, child, out);
	}
	free_names(names, n);
}

char *ut_view_tree(struct ut *t, struct bfsd_branch *b)
{
	struct lines l = { 0 };

	view_walk(t, b, "", &l);
	return lines_join(&l);
}

int ut_count_entries(const char *abs)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(abs);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char child[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		snprintf(child, sizeof(child), "%s/%s", abs, de->d_name);
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			n += ut_count_entries(child);
	}
	closedir(d);
	return n;
}

int ut_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return bfs_sh(NULL, "%s", cmd);
}

bool ut_number_in_storage(struct ut *t, struct bfsd_branch *b, ino_t st_ino)
{
	uint64_t raw = bfsd_fs_salt(b, st_ino) & ~(1ull << 63);

	return ut_sh("find '%s' -inum %llu | grep -q .", t->storage, (unsigned long long)raw) == 0;
}

int ut_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	/* A run that executed nothing proves nothing. */
	if (srunner_ntests_run(sr) == 0)
		failed = 1;
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
