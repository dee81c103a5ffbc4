/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs commit MNT and branchfs abort MNT: commit (merge into its
 * parent) or abort (discard) the mount's current branch; the mount then
 * shows the parent.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

static int finish(struct bfs_mount *m, bool commit)
{
	const char *verb = commit ? "commit" : "abort";
	char *cur = NULL, *parent = NULL;
	int ret = bfs_current(&cur, m);

	if (ret)
		return cli_fail(ret, "%s: cannot read the current branch", verb);
	ret = commit ? bfs_commit(m, NULL) : bfs_abort(m, NULL);
	if (ret) {
		cli_fail(ret, "%s '%s'", verb, cur);
	} else if (bfs_current(&parent, m) == 0) {
		if (commit)
			printf("committed '%s' into '%s'\n", cur, parent);
		else
			printf("aborted '%s', now on '%s'\n", cur, parent);
	} else {
		printf("%s '%s'\n", commit ? "committed" : "aborted", cur);
	}
	free(cur);
	free(parent);
	return ret ? cli_exit_code(ret) : cli_finish(CLI_OK);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct bfs_mount *m;
	int ret;

	ret = cli_parse(cmd, argc, argv, NULL, NULL, NULL, NULL, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 1, 1);
	if (ret >= 0)
		return ret;
	ret = cli_open(&m, o.args[0]);
	if (ret)
		return ret;
	ret = finish(m, cmd == &cli_commit);
	bfs_close(m);
	return ret;
}

const struct cli_cmd cli_commit = {
	.name = "commit",
	.summary = "commit the current branch into its parent",
	.usage = "branchfs commit MNT",
	.help = "Merge the mount's current branch into its parent (into the base\n"
		"directory itself when the parent is main), atomically, and switch MNT\n"
		"to the parent.  Fails with exit code 3 when a sibling committed first;\n"
		"the branch then stays until aborted.\n",
	.run = run,
};

const struct cli_cmd cli_abort = {
	.name = "abort",
	.summary = "discard the current branch",
	.usage = "branchfs abort MNT",
	.help = "Discard the mount's current branch and switch MNT to its parent.\n"
		"Siblings and the parent are untouched.\n",
	.run = run,
};
