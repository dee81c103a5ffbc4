/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs: manage branchfs mounts and their branches.
 *
 *   branchfs SUBCOMMAND [ARGS...]   branchfs help [SUBCOMMAND]
 *   branchfs --help                 branchfs --version
 *
 * Exit codes: 0 ok, 1 failure, 2 usage, 3 conflict (a sibling committed
 * first), 4 not a branchfs mount.
 */
#include "cli.h"

#include <string.h>

static const struct cli_cmd *const commands[] = {
	&cli_mount,  &cli_unmount, &cli_create, &cli_commit, &cli_abort,
	&cli_switch, &cli_list,	   &cli_status, &cli_diff,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void overview(FILE *f)
{
	fprintf(f, "usage: branchfs SUBCOMMAND [ARGS...]\n"
		   "       branchfs help [SUBCOMMAND] | --help | --version\n"
		   "\n"
		   "Copy-on-write branches of a directory tree, as a file system.\n"
		   "\n"
		   "subcommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n"
		   "Every subcommand accepts --storage DIR and --help.  Exit codes: 0 ok,\n"
		   "1 failure, 2 usage, 3 conflict (a sibling committed first), 4 not a\n"
		   "branchfs mount.  See branchfs(1).\n");
}

static int help(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc < 2) {
		overview(stdout);
		return cli_finish(CLI_OK);
	}
	cmd = find(argv[1]);
	if (!cmd) {
		cli_error("help: unknown subcommand '%s' (see 'branchfs --help')", argv[1]);
		return CLI_USAGE;
	}
	printf("usage: %s\n\n%s", cmd->usage, cmd->help);
	return cli_finish(CLI_OK);
}

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc < 2) {
		overview(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("branchfs %s\n", bfs_version());
		return cli_finish(CLI_OK);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		overview(stdout);
		return cli_finish(CLI_OK);
	}
	if (!strcmp(argv[1], "help"))
		return help(argc - 1, argv + 1);
	cmd = find(argv[1]);
	if (!cmd) {
		cli_error("unknown subcommand '%s' (see 'branchfs --help')", argv[1]);
		return CLI_USAGE;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}
