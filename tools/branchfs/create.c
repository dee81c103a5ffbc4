/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs create NAME MNT [-p PARENT]
 *
 * Creates NAME as a child of PARENT (default: the mount's current branch)
 * and switches the mount to it.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int create_opt(int c, const char *arg, void *ctx)
{
	if (c != 'p')
		return CLI_USAGE;
	*(const char **)ctx = arg;
	return 0;
}

static int create_switch(struct bfs_mount *m, const char *name, const char *parent)
{
	char *cur = NULL;
	int ret;

	if (!parent) {
		ret = bfs_current(&cur, m);
		if (ret)
			return cli_fail(ret, "create '%s': cannot read the current branch", name);
		parent = cur;
	}
	ret = bfs_create(NULL, NULL, m, parent, name);
	if (ret == -EEXIST)
		cli_error("branch '%s' already exists", name);
	else if (ret == -ENOENT)
		cli_error("cannot create '%s': parent branch '%s' does not exist", name, parent);
	else if (ret)
		cli_fail(ret, "create '%s'", name);
	if (!ret) {
		ret = bfs_switch(m, name);
		if (ret)
			cli_fail(ret, "switch to the new branch '%s'", name);
	}
	if (!ret)
		printf("created and switched to branch '%s' (parent '%s')\n", name, parent);
	free(cur);
	return ret ? cli_exit_code(ret) : cli_finish(CLI_OK);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *parent = NULL, *reason;
	struct cli_opts o = { 0 };
	struct bfs_mount *m;
	int ret;

	ret = cli_parse(cmd, argc, argv, "p:", longopts, create_opt, &parent, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 2, 2);
	if (ret >= 0)
		return ret;
	if (bfs_name_check(&reason, o.args[0])) {
		cli_error("cannot create '%s': %s", o.args[0], reason);
		return CLI_FAILURE;
	}
	ret = cli_open(&m, o.args[1]);
	if (ret)
		return ret;
	ret = create_switch(m, o.args[0], parent);
	bfs_close(m);
	return ret;
}

const struct cli_cmd cli_create = {
	.name = "create",
	.summary = "create a branch and switch the mount to it",
	.usage = "branchfs create NAME MNT [-p PARENT]",
	.help = "Create branch NAME as a child of PARENT (default: the mount's current\n"
		"branch) and switch MNT to it.  The branch is also at MNT/@NAME.\n"
		"\n"
		"  -p, --parent PARENT  the branch to fork (main, or any live branch)\n"
		"\n"
		"NAME is 1 to 255 bytes, not '.' or '..', without '/', not starting with\n"
		"'@', not 'main', and unique among live branches.\n",
	.run = run,
};
