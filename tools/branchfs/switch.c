/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs switch NAME MNT: make NAME the branch the mount root shows.
 */
#include "cli.h"

#include <errno.h>

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct bfs_mount *m;
	int ret;

	ret = cli_parse(cmd, argc, argv, NULL, NULL, NULL, NULL, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 2, 2);
	if (ret >= 0)
		return ret;
	ret = cli_open(&m, o.args[1]);
	if (ret)
		return ret;
	ret = bfs_switch(m, o.args[0]);
	bfs_close(m);
	if (ret)
		return cli_fail(ret, "switch to '%s'", o.args[0]);
	printf("switched to '%s'\n", o.args[0]);
	return cli_finish(CLI_OK);
}

const struct cli_cmd cli_switch = {
	.name = "switch",
	.summary = "make a branch the one the mount root shows",
	.usage = "branchfs switch NAME MNT",
	.help = "Make branch NAME (main or any live branch) the mount's current branch:\n"
		"MNT itself then shows it.  MNT/@NAME paths do not depend on it.\n",
	.run = run,
};
