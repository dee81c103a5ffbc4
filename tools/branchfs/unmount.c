/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs unmount MNT [--keep]
 *
 * Returns once the mount is gone and its daemon has exited.  A mount whose
 * daemon died cannot be opened (ENOTCONN); it is detached instead, with a
 * note on stderr, so that a user can always clean up.  A busy mount is
 * left mounted, and the error names the processes using it.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unmount_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c != 'k')
		return CLI_USAGE;
	*(unsigned int *)ctx |= BFS_UNMOUNT_KEEP;
	return 0;
}

static int detach_dead(const char *path)
{
	char *abs = cli_abspath(path);
	const char *p = abs ? abs : path;
	int ret = bfs_detach(path);

	if (ret)
		cli_fail(ret, "unmount %s", p);
	else {
		cli_error("the daemon serving %s was gone: the mount was detached, and its "
			  "branches come back at the next mount of its storage",
			  p);
		printf("unmounted %s\n", p);
	}
	free(abs);
	return ret ? cli_exit_code(ret) : cli_finish(CLI_OK);
}

/* Is path root or below it? */
static bool below(const char *path, const char *root)
{
	size_t n = strlen(root);

	return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

/* Does the symbolic link dir/name (of /proc/PID) point at or below root? */
static bool link_below(const char *dir, const char *name, const char *root)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return below(target, root);
}

/* How process dir (/proc/PID) uses the mount at root, or NULL. */
static const char *use_of(const char *dir, const char *root)
{
	char path[PATH_MAX], *line = NULL;
	const char *use = NULL;
	struct dirent *e;
	size_t cap = 0;
	FILE *maps;
	DIR *fds;

	if (link_below(dir, "cwd", root))
		return "working directory";
	if (link_below(dir, "root", root))
		return "root directory";
	snprintf(path, sizeof(path), "%s/fd", dir);
	fds = opendir(path);
	while (fds && !use && (e = readdir(fds))) {
		snprintf(path, sizeof(path), "fd/%s", e->d_name);
		if (link_below(dir, path, root))
			use = "open file";
	}
	if (fds)
		closedir(fds);
	snprintf(path, sizeof(path), "%s/maps", dir);
	maps = use ? NULL : fopen(path, "re");
	while (maps && !use && getline(&line, &cap, maps) > 0) {
		char *file = strchr(line, '/');

		if (file)
			file[strcspn(file, "\n")] = '\0';
		if (file && below(file, root))
			use = "mapped file";
	}
	if (maps)
		fclose(maps);
	free(line);
	return use;
}

/*
 * Why the mount at root is busy, as far as /proc shows: the processes
 * using it (pid, command, how), at most 4 named.  Empty when none is seen
 * (a process of another mount namespace or user, a mount below it).
 */
static void holders(char *out, size_t size, const char *root)
{
	char dir[64], comm[64], *nl;
	const char *use;
	struct dirent *e;
	size_t len = 0;
	int found = 0;
	DIR *proc = opendir("/proc");
	FILE *f;

	out[0] = '\0';
	while (proc && (e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == getpid())
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s", e->d_name);
		use = use_of(dir, root);
		if (!use || found++ >= 4)
			continue;
		snprintf(comm, sizeof(comm), "%s/comm", dir);
		f = fopen(comm, "re");
		if (!f || !fgets(comm, sizeof(comm), f))
			snprintf(comm, sizeof(comm), "?");
		if (f)
			fclose(f);
		nl = strchr(comm, '\n');
		if (nl)
			*nl = '\0';
		len += (size_t)snprintf(out + len, size - len, "%spid %s %s (%s)",
					found > 1 ? ", " : ": in use by ", e->d_name, comm, use);
		if (len >= size)
			len = size - 1;
	}
	if (proc)
		closedir(proc);
	if (found > 4)
		snprintf(out + len, size - len, " and %d more", found - 4);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keep", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o = { 0 };
	unsigned int flags = 0;
	struct bfs_mount *m;
	char *root;
	int ret;

	ret = cli_parse(cmd, argc, argv, NULL, longopts, unmount_opt, &flags, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 1, 1);
	if (ret >= 0)
		return ret;
	ret = bfs_open(&m, o.args[0]);
	if (ret == -ENOTCONN)
		return detach_dead(o.args[0]);
	if (ret)
		return cli_open_failed(ret, o.args[0]);
	root = strdup(bfs_mount_root(m));
	if (!root) {
		bfs_close(m);
		return cli_fail(-ENOMEM, "unmount");
	}
	ret = bfs_unmount(m, flags);
	bfs_close(m);
	if (ret == -EBUSY) {
		char who[1024];

		holders(who, sizeof(who), root);
		cli_error("cannot unmount %s: the mount is busy%s", root, who);
	} else if (ret)
		cli_fail(ret, "unmount %s", root);
	else
		printf("unmounted %s%s\n", root,
		       flags & BFS_UNMOUNT_KEEP ? " (branches kept)" : "");
	free(root);
	return ret ? cli_exit_code(ret) : cli_finish(CLI_OK);
}

const struct cli_cmd cli_unmount = {
	.name = "unmount",
	.summary = "unmount, discarding uncommitted branches unless --keep",
	.usage = "branchfs unmount MNT [--keep]",
	.help = "Unmount the branchfs mount MNT and wait until its daemon has exited.\n"
		"Uncommitted branches are discarded unless --keep is given, in which case\n"
		"the next mount on the same storage finds them again.  A mount whose\n"
		"daemon died is detached (its branches come back at the next mount).\n"
		"\n"
		"  --keep  keep the branches for the next mount\n",
	.run = run,
};
