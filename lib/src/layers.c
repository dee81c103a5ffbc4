/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading layer directories in storage: the daemon's marker xattrs and disk
 * usage.  Markers are "trusted.branchfs.<key>" when the daemon runs as root
 * and "user.branchfs.<key>" otherwise; both are looked at.
 */
#define _GNU_SOURCE
#include "client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *const prefixes[] = { "trusted.branchfs.", "user.branchfs." };

int bfs__marker(const char *path, const char *key, char *val, size_t size)
{
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		char name[64];
		ssize_t n;

		snprintf(name, sizeof(name), "%s%s", prefixes[i], key);
		n = lgetxattr(path, name, val, size);
		if (n >= 0)
			return (int)n;
		if (errno != ENODATA && errno != ENOTSUP && errno != EPERM)
			return -errno;
	}
	return -ENODATA;
}

bool bfs__is_whiteout(const char *path, const struct stat *st)
{
	char v;

	if (!S_ISREG(st->st_mode) || st->st_size != 0 || (st->st_mode & 07777) != 0)
		return false;
	return bfs__marker(path, "wh", &v, 1) == 1 && v == '1';
}

/* Inodes with more than one link seen so far, so each counts once. */
struct seen {
	dev_t *dev;
	ino_t *ino;
	size_t n, cap;
};

static bool seen_add(struct seen *s, const struct stat *st)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ino[i] == st->st_ino && s->dev[i] == st->st_dev)
			return false;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		dev_t *d = realloc(s->dev, cap * sizeof(*d));
		ino_t *i;

		if (!d)
			return true;
		s->dev = d;
		i = realloc(s->ino, cap * sizeof(*i));
		if (!i)
			return true;
		s->ino = i;
		s->cap = cap;
	}
	s->dev[s->n] = st->st_dev;
	s->ino[s->n++] = st->st_ino;
	return true;
}

static int du_dir(int dirfd, uint64_t *bytes, struct seen *s, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		ret = -errno;
		close(dirfd);
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* the daemon may remove things as we go */
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (fd >= 0 && depth < 4096)
				ret = du_dir(fd, bytes, s, depth + 1);
			else if (fd >= 0)
				close(fd);
			continue;
		}
		if (st.st_nlink > 1 && !seen_add(s, &st))
			continue;
		*bytes += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return ret;
}

int bfs__du(uint64_t *bytes, const char *dir)
{
	struct seen s = { 0 };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = du_dir(fd, bytes, &s, 0);
	free(s.dev);
	free(s.ino);
	return ret;
}
