/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching: run candidate attempts in parallel branches of a branchfs
 * mount, keep the best, drop the rest.
 *
 *   branching SUBCOMMAND [ARGS...]   branching help [SUBCOMMAND]
 *   branching --help                 branching --version
 *
 * Exit codes: 0 something was committed (run: the command's status),
 * 1 nothing was committed or a failure, 2 usage, 3 conflict (a commit lost
 * the first-winner race), 4 not a branchfs mount, 128 + N after signal N.
 */
#include "cli.h"

#include <string.h>

static const struct cli_cmd *const commands[] = {
	&cli_run,  &cli_speculate,  &cli_best_of_n, &cli_reflexion, &cli_tree,
	&cli_beam, &cli_tournament, &cli_cascade,   &cli_status,
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
	fprintf(f, "usage: branching SUBCOMMAND [ARGS...]\n"
		   "       branching help [SUBCOMMAND] | --help | --version\n"
		   "\n"
		   "Run attempts in parallel copy-on-write branches of a branchfs mount,\n"
		   "commit the best, abort the rest.\n"
		   "\n"
		   "subcommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n"
		   "The workspace is the branchfs mount holding the current directory, or\n"
		   "-w PATH.  Exit codes: 0 something was committed (run: the command's\n"
		   "status), 1 nothing was, 2 usage, 3 conflict (a sibling committed first),\n"
		   "4 not a branchfs mount, 128 + N when signal N stopped the run.  See\n"
		   "branching(1).\n");
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
		cli_error("help: unknown subcommand '%s' (see 'branching --help')", argv[1]);
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
		printf("branching %s\n", bfs_version());
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
		cli_error("unknown subcommand '%s' (see 'branching --help')", argv[1]);
		return CLI_USAGE;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}
