/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching speculate -c CMD [-c CMD]... [-j N] [--timeout S]
 *
 * Race the commands in parallel branches; the first to succeed is
 * committed, the others are killed and aborted.
 */
#include "cli.h"

#include <stdlib.h>

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct bfs_speculate_opts so = { 0 };
	struct cli_report x = { "candidates", 0, false };
	struct cli_opts o = { 0 };
	struct bfs_outcome *out = NULL;
	struct bfs_task *tasks = NULL;
	struct cli_ws ws;
	size_t n;
	int ret;

	ret = cli_parse(cmd, argc, argv, CLI_O_PATTERN, NULL, NULL, NULL, NULL, &o);
	if (ret < 0 && o.ncmd)
		ret = cli_usage(cmd, "unexpected argument '%s' (candidates are given with -c)",
				o.cmd[0]);
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && !(ret = cli_ws_open(&ws, &o))) {
		cli_pattern_opts(&so.common, &o, &ws);
		x.count = n;
		ret = bfs_speculate(&out, ws.m, tasks, n, &so);
		ret = cli_report(cmd, &o, &ws, out, ret, &x);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_speculate = {
	.name = "speculate",
	.summary = "race commands in parallel branches, commit the first success",
	.usage = "branching speculate -c CMD [-c CMD]... [-j N] [--timeout S] [-w PATH] [--json]",
	.help = "Run each CMD (a shell command line) in its own new branch, all in\n"
		"parallel.  The first one to exit 0 is committed into the parent branch;\n"
		"the others are killed and aborted.  Exit status 0 when something was\n"
		"committed, 1 when no candidate succeeded.\n"
		"\n"
		"  -c, --candidate CMD   a candidate's shell command line (repeat for "
		"each)\n" CLI_HELP_PARALLEL CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
