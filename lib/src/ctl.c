/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Branch operations through the control files: create, commit, abort,
 * switch, the current branch and keep-at-unmount.  Text commands are one
 * write(2) each; commit and abort use the compatibility ioctls.
 */
#define _GNU_SOURCE
#include "client.h"

#include <branchfs/ioctl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The C locale's whitespace: what the daemon trims around a text command. */
static bool edge_space(const char *name)
{
	size_t n = strlen(name);

	return n && (isspace((unsigned char)name[0]) || isspace((unsigned char)name[n - 1]));
}

/*
 * Control characters are refused too: a name is printed one per line by
 * list, status and diff, and written after "create:" in a command that
 * `echo` terminates with a newline, so a tab or newline inside it could not
 * be told apart from the layout around it.
 */
static bool has_control(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

int bfs_name_check(const char **reason, const char *name)
{
	const char *why = NULL;

	if (!name || !name[0])
		why = "branch names cannot be empty";
	else if (strlen(name) > BFS_NAME_MAX)
		why = "branch names are at most 255 bytes long";
	else if (!strcmp(name, ".") || !strcmp(name, ".."))
		why = "'.' and '..' are not branch names";
	else if (strchr(name, '/'))
		why = "branch names cannot contain '/'";
	else if (name[0] == '@')
		why = "branch names cannot start with '@'";
	else if (edge_space(name))
		why = "branch names cannot start or end with whitespace";
	else if (has_control(name))
		why = "branch names cannot contain control characters";
	else if (!strcmp(name, BFS_MAIN_NAME))
		why = "'main' is reserved for the root branch";
	if (reason)
		*reason = why;
	return why ? -EINVAL : 0;
}

/* A branch named by a caller must at least be a single path component. */
static int check_target(const char *branch)
{
	if (!branch)
		return 0;
	if (!branch[0] || strchr(branch, '/') || !strcmp(branch, ".") || !strcmp(branch, ".."))
		return -ENOENT;
	return 0;
}

/* Open the control file of branch (NULL: the root one). */
static int ctl_open(const struct bfs_mount *m, const char *branch, int flags)
{
	char ctl[PATH_MAX];
	int ret = check_target(branch), fd;

	if (!ret)
		ret = bfs__ctl_path(ctl, m, branch);
	if (ret)
		return ret;
	fd = open(ctl, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

static int ctl_command(const struct bfs_mount *m, const char *branch, const char *cmd)
{
	size_t len = strlen(cmd);
	int fd = ctl_open(m, branch, O_WRONLY), ret = 0;
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write(fd, cmd, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

static int ctl_ioctl(const struct bfs_mount *m, const char *branch, unsigned long req, void *arg)
{
	int fd = ctl_open(m, branch, O_RDONLY), ret = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, req, arg) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int bfs_create(char **name_out, char **path_out, struct bfs_mount *m, const char *parent,
	       const char *name)
{
	char chosen[BRANCHFS_NAME_BUF + BFS_NAME_MAX], cmd[BFS_NAME_MAX + 16], dir[PATH_MAX];
	char *n = NULL, *p = NULL;
	int ret;

	if (name) {
		ret = bfs_name_check(NULL, name);
		if (ret)
			return ret;
		snprintf(cmd, sizeof(cmd), "create:%s", name);
		ret = ctl_command(m, parent, cmd);
		snprintf(chosen, sizeof(chosen), "%s", name);
	} else {
		memset(chosen, 0, sizeof(chosen));
		ret = ctl_ioctl(m, parent, FS_IOC_BRANCH_CREATE, chosen);
		chosen[BRANCHFS_NAME_BUF - 1] = '\0';
	}
	if (ret)
		return ret;
	if (snprintf(dir, sizeof(dir), "%s/@%s", m->root, chosen) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (name_out && !(n = strdup(chosen)))
		return -ENOMEM;
	if (path_out && !(p = strdup(dir))) {
		free(n);
		return -ENOMEM;
	}
	if (name_out)
		*name_out = n;
	if (path_out)
		*path_out = p;
	return 0;
}

int bfs_commit(struct bfs_mount *m, const char *branch)
{
	return ctl_ioctl(m, branch, FS_IOC_BRANCH_COMMIT, NULL);
}

int bfs_abort(struct bfs_mount *m, const char *branch)
{
	return ctl_ioctl(m, branch, FS_IOC_BRANCH_ABORT, NULL);
}

int bfs_switch(struct bfs_mount *m, const char *branch)
{
	char cmd[BFS_NAME_MAX + 16];

	/* The daemon would trim " x" to "x": no branch has such a name. */
	if (!branch || check_target(branch) || strlen(branch) > BFS_NAME_MAX || edge_space(branch))
		return -ENOENT;
	snprintf(cmd, sizeof(cmd), "switch:%s", branch);
	return ctl_command(m, NULL, cmd);
}

int bfs_current(char **name_out, struct bfs_mount *m)
{
	char buf[BFS_NAME_MAX + 2];
	int fd = ctl_open(m, NULL, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	*name_out = strdup(buf);
	return *name_out ? 0 : -ENOMEM;
}

int bfs__get_keep(const struct bfs_mount *m, bool *keep)
{
	struct branchfs_ioc_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = ctl_ioctl(m, NULL, FS_IOC_BRANCH_INFO, &info);
	/* A daemon without the extension keeps nothing unless told. */
	if (ret == -ENOTTY || ret == -EINVAL)
		ret = 0;
	*keep = !ret && info.keep;
	return ret;
}

int bfs_set_keep(struct bfs_mount *m, bool keep)
{
	unsigned int v = keep;

	return ctl_ioctl(m, NULL, FS_IOC_BRANCH_SET_KEEP, &v);
}
