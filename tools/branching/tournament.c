/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching tournament [-n N] --judge CMD -- CMD [ARGS...]
 *
 * N attempts, then a single-elimination bracket among the successful ones,
 * decided by the judge; the champion is committed.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

enum { OPT_JUDGE = 300 };

struct args {
	const struct cli_cmd *cmd;
	long n;
	const char *judge;
};

static int opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case 'n':
		if ((a->n = cli_number(arg, 1, 10000)) < 0)
			return cli_usage(a->cmd, "invalid number '%s'", arg);
		return 0;
	case OPT_JUDGE:
		a->judge = arg;
		return 0;
	}
	return CLI_USAGE;
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "judge", required_argument, NULL, OPT_JUDGE },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { cmd, 0, NULL };
	struct bfs_task *tasks = NULL, judge = { 0 };
	struct bfs_tournament_opts to = { 0 };
	struct cli_report x = { "n", 0, false };
	struct bfs_outcome *out = NULL;
	struct cli_opts o = { 0 };
	struct cli_ws ws;
	size_t n;
	int ret;

	ret = cli_parse(cmd, argc, argv, CLI_O_PATTERN, "n:", longopts, opt, &a, &o);
	if (ret < 0 && !a.judge)
		ret = cli_usage(cmd, "--judge is required");
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && !(ret = cli_ws_open(&ws, &o))) {
		cli_pattern_opts(&to.common, &o, &ws);
		to.n = a.n ? (size_t)a.n : o.ncands ? n : 4;
		judge.shell = a.judge;
		to.judge_task = &judge;
		x.count = to.n;
		ret = bfs_tournament(&out, ws.m, tasks, n, &to);
		ret = cli_report(cmd, &o, &ws, out, ret, &x);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_tournament = {
	.name = "tournament",
	.summary = "run N attempts, let a judge pick the best pairwise, commit it",
	.usage = "branching tournament [-n N] --judge CMD [-j N] [--timeout S] [-w PATH] "
		 "[--json] -- CMD [ARGS...]",
	.help = "Run N attempts of CMD (default 4; with -c, one per candidate) in\n"
		"parallel branches.  The successful ones then play a single-elimination\n"
		"bracket: neighbours are paired in order, an odd one out gets a bye.  The\n"
		"judge is a shell command run in the parent branch's directory with the\n"
		"two candidates' branch directories as $1 and $2 (also BRANCHING_A and\n"
		"BRANCHING_B); it exits 0 and prints 'a' (or 0) when the first is better,\n"
		"'b' (or 1) when the second is.  The champion is committed.  A judge that\n"
		"fails, hangs past the timeout or answers anything else ends the\n"
		"tournament: nothing is committed (exit status 1).\n"
		"\n"
		"  -n N                  number of attempts\n"
		"  --judge CMD           the judge (required)\n" CLI_HELP_CANDS CLI_HELP_PARALLEL
			CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
