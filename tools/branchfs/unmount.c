/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs unmount MNT [--keep]
 *
 * Returns once the mount is gone and its daemon has exited.  A mount whose
 * daemon died cannot be opened (ENOTCONN); it is detached instead, with a
 * note on stderr, so that a user can always clean up.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
	if (ret == -EBUSY)
		cli_error("cannot unmount %s: the mount is busy", root);
	else if (ret)
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
