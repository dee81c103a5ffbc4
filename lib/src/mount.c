/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening a mount: find the mount point that holds a path, check that it is
 * a branchfs mount, and ask its daemon (FS_IOC_BRANCH_INFO) for its pid and
 * storage directory.  The handle keeps paths only, never descriptors, so it
 * never makes the mount busy.
 */
#define _GNU_SOURCE
#include "client.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Undo the octal escapes (\040 ...) of a mountinfo field, in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Is dir the path itself or one of its ancestors? */
static bool is_prefix(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(dir, path, n) && (path[n] == '/' || path[n] == '\0');
}

/*
 * mountinfo lines: "id parent major:minor root mountpoint opts [tags] - type
 * source superopts".  The last, longest mount point holding real wins.
 */
int bfs__mount_of(char **root, char **type, const char *real)
{
	char *line = NULL, *best = NULL, *best_type = NULL;
	size_t cap = 0, best_len = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *mnt = NULL, *fstype = NULL;
		int field = 0;
		bool dash = false;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			if (++field == 5)
				mnt = tok;
			else if (dash) {
				fstype = tok;
				break;
			} else if (field > 6 && !strcmp(tok, "-"))
				dash = true;
		}
		if (!mnt || !fstype)
			continue;
		unescape(mnt);
		if (!is_prefix(mnt, real) || strlen(mnt) < best_len)
			continue;
		free(best);
		free(best_type);
		best = bfs__strdup(mnt);
		best_type = bfs__strdup(fstype);
		best_len = strlen(mnt);
	}
	free(line);
	fclose(f);
	if (!best || !best_type) {
		free(best);
		free(best_type);
		return -ENOENT;
	}
	*root = best;
	*type = best_type;
	return 0;
}

bool bfs__mounted(const char *dir)
{
	char *root = NULL, *type = NULL, ctl[PATH_MAX];
	struct stat st;
	bool ok;

	if (bfs__mount_of(&root, &type, dir))
		return false;
	ok = !strcmp(root, dir) && !strcmp(type, BRANCHFS_FSTYPE);
	free(root);
	free(type);
	return ok && !bfs__join(ctl, dir, BRANCHFS_CTL_NAME) && stat(ctl, &st) == 0;
}

int bfs__ctl_path(char *out, const struct bfs_mount *m, const char *branch)
{
	int n;

	if (branch)
		n = snprintf(out, PATH_MAX, "%s/@%s/%s", m->root, branch, BRANCHFS_CTL_NAME);
	else
		n = snprintf(out, PATH_MAX, "%s/%s", m->root, BRANCHFS_CTL_NAME);
	return n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* The first line of storage/base (the base's real path), or NULL. */
static char *read_base(const char *storage)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (bfs__join(path, storage, "base") || !(f = fopen(path, "re")))
		return NULL;
	if (getline(&line, &cap, f) > 0)
		line[strcspn(line, "\n")] = '\0';
	else {
		free(line);
		line = NULL;
	}
	fclose(f);
	return line;
}

int bfs__refresh_info(struct bfs_mount *m)
{
	struct branchfs_ioc_info info;
	char ctl[PATH_MAX];
	int fd, ret = 0;

	ret = bfs__ctl_path(ctl, m, NULL);
	if (ret)
		return ret;
	fd = open(ctl, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, FS_IOC_BRANCH_INFO, &info) < 0) {
		/* A BranchFS daemon without the extension: no pid, no storage. */
		ret = errno == ENOTTY || errno == EINVAL ? 0 : -errno;
		close(fd);
		return ret;
	}
	close(fd);
	info.storage[sizeof(info.storage) - 1] = '\0';
	free(m->storage);
	m->storage = info.storage[0] ? bfs__strdup(info.storage) : NULL;
	m->pid = info.daemon_pid;
	if (info.storage[0] && !m->storage)
		return -ENOMEM;
	free(m->base);
	m->base = m->storage ? read_base(m->storage) : NULL;
	return 0;
}

int bfs_open(struct bfs_mount **out, const char *path)
{
	char real[PATH_MAX], ctl[PATH_MAX], *type = NULL;
	struct bfs_mount *m;
	struct stat st;
	int ret;

	if (!path || !realpath(path, real))
		return path ? -errno : -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = bfs__mount_of(&m->root, &type, real);
	if (ret == -ENOENT || (!ret && strcmp(type, BRANCHFS_FSTYPE)))
		ret = -EMEDIUMTYPE;
	if (!ret)
		ret = bfs__join(ctl, m->root, BRANCHFS_CTL_NAME);
	if (!ret && stat(ctl, &st) < 0)
		ret = errno == ENOENT ? -EMEDIUMTYPE : -errno;
	if (!ret)
		ret = bfs__refresh_info(m);
	free(type);
	if (ret) {
		bfs_close(m);
		return ret;
	}
	*out = m;
	return 0;
}

void bfs_close(struct bfs_mount *m)
{
	if (!m)
		return;
	free(m->root);
	free(m->storage);
	free(m->base);
	free(m);
}

const char *bfs_mount_root(const struct bfs_mount *m)
{
	return m->root;
}

const char *bfs_mount_storage(const struct bfs_mount *m)
{
	return m->storage;
}

const char *bfs_mount_base(const struct bfs_mount *m)
{
	return m->base;
}

int bfs_mount_daemon_pid(const struct bfs_mount *m)
{
	return m->pid;
}
