/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching best-of-n -n N [--evaluate CMD] [--rollout] -- CMD [ARGS...]
 *
 * Run CMD N times in parallel branches (BRANCHING_ATTEMPT=0..N-1), score
 * each success, commit the best.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

enum { OPT_EVALUATE = 300, OPT_ROLLOUT };

struct args {
	const struct cli_cmd *cmd;
	long n;
	const char *evaluate;
	bool rollout;
};

static int opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case 'n':
		if ((a->n = cli_number(arg, 1, 10000)) < 0)
			return cli_usage(a->cmd, "invalid number '%s'", arg);
		return 0;
	case OPT_EVALUATE:
		a->evaluate = arg;
		return 0;
	case OPT_ROLLOUT:
		a->rollout = true;
		return 0;
	}
	return CLI_USAGE;
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "evaluate", required_argument, NULL, OPT_EVALUATE },
		{ "rollout", no_argument, NULL, OPT_ROLLOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { cmd, 3, NULL, false };
	struct bfs_task *tasks = NULL, eval = { 0 };
	struct cli_report x = { "n", 0, true };
	struct bfs_best_of_n_opts bo = { 0 };
	struct bfs_outcome *out = NULL;
	struct cli_opts o = { 0 };
	struct cli_ws ws;
	size_t n;
	int ret;

	ret = cli_parse(cmd, argc, argv, CLI_O_PATTERN, "n:", longopts, opt, &a, &o);
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && !(ret = cli_ws_open(&ws, &o))) {
		cli_pattern_opts(&bo.common, &o, &ws);
		bo.n = (size_t)a.n;
		bo.rollout = a.rollout;
		eval.shell = a.evaluate;
		bo.scoring.evaluate_task = a.evaluate ? &eval : NULL;
		x.count = bo.n;
		ret = bfs_best_of_n(&out, ws.m, tasks, n, &bo);
		ret = cli_report(cmd, &o, &ws, out, ret, &x);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_best_of_n = {
	.name = "best-of-n",
	.summary = "run N attempts in parallel, commit the highest-scoring success",
	.usage = "branching best-of-n [-n N] [--evaluate CMD] [--rollout] [-j N] [--timeout S] "
		 "[-w PATH] [--json] -- CMD [ARGS...]",
	.help = "Run CMD N times (default 3), each in its own new branch, in parallel,\n"
		"with BRANCHING_ATTEMPT=0..N-1.  Each success is scored: the number its\n"
		"command wrote to file descriptor 3 (none: 1.0), or with --evaluate the\n"
		"number the evaluation command prints when run in the candidate's branch.\n"
		"The highest score wins (ties go to the lowest attempt) and is committed;\n"
		"the others are aborted.  Exit status 0 when something was committed.\n"
		"\n"
		"  -n N                  number of attempts (default 3)\n"
		"  --evaluate CMD        score each success with this shell command, run in\n"
		"                        its branch (a number on fd 3 or as the last word\n"
		"                        of its stdout)\n"
		"  --rollout             commit nothing: report the best, abort all (exit\n"
		"                        status 1: nothing was committed)\n" CLI_HELP_CANDS
			CLI_HELP_PARALLEL CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
