/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs create NAME MNT [-p PARENT]
 *
 * Creates NAME as a child of PARENT (default: main, as BranchFS's CLI has
 * it) and switches the mount to it.  Two steps: when the switch fails, the
 * new branch is aborted again, so a failed create leaves nothing behind.
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

/* The switch to the new branch failed: take the branch away again. */
static int undo_create(struct bfs_mount *m, const char *name, int err)
{
	char why[256];
	int ret;

	/* bfs_strerror() may reuse its buffer: keep the first reason. */
	snprintf(why, sizeof(why), "%s", bfs_strerror(err));
	ret = bfs_abort(m, name);
	if (!ret)
		cli_error("cannot switch to the new branch '%s': %s (it was aborted again)", name,
			  why);
	else
		cli_error("cannot switch to the new branch '%s': %s; it is left at %s/@%s "
			  "(aborting it failed: %s)",
			  name, why, bfs_mount_root(m), name, bfs_strerror(ret));
	return cli_exit_code(err);
}

static int create_switch(struct bfs_mount *m, const char *name, const char *parent)
{
	int ret = bfs_create(NULL, NULL, m, parent, name);

	if (ret == -EEXIST) {
		cli_error("branch '%s' already exists", name);
		return CLI_FAILURE;
	}
	if (ret == -ENOENT) {
		cli_error("cannot create '%s': parent branch '%s' does not exist", name, parent);
		return CLI_FAILURE;
	}
	if (ret)
		return cli_fail(ret, "create '%s'", name);
	ret = bfs_switch(m, name);
	if (ret)
		return undo_create(m, name, ret);
	printf("created and switched to branch '%s' (parent '%s')\n", name, parent);
	return cli_finish(CLI_OK);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *parent = BFS_MAIN_NAME, *reason;
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
	.help = "Create branch NAME as a child of PARENT (default: main) and switch MNT\n"
		"to it.  The branch is also at MNT/@NAME.  If the switch fails, the new\n"
		"branch is aborted again.\n"
		"\n"
		"  -p, --parent PARENT  the branch to fork (default main; any live branch)\n"
		"\n"
		"NAME is 1 to 255 bytes, not '.' or '..', without '/', not starting with\n"
		"'@', without whitespace at either end or control characters, not\n"
		"'main', and unique among live branches.\n",
	.run = run,
};
