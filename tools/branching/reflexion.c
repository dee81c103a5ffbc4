/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching reflexion [--retries N] [--critique CMD] -- CMD [ARGS...]
 *
 * Sequential attempts, each told what went wrong before in
 * BRANCHING_FEEDBACK; the first success is committed.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

enum { OPT_RETRIES = 300, OPT_CRITIQUE };

struct args {
	const struct cli_cmd *cmd;
	long retries;
	const char *critique;
};

static int opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case OPT_RETRIES:
		if ((a->retries = cli_number(arg, 1, 10000)) < 0)
			return cli_usage(a->cmd, "invalid number '%s'", arg);
		return 0;
	case OPT_CRITIQUE:
		a->critique = arg;
		return 0;
	}
	return CLI_USAGE;
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "critique", required_argument, NULL, OPT_CRITIQUE },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { cmd, 3, NULL };
	struct bfs_task *tasks = NULL, crit = { 0 };
	struct cli_report x = { "attempts", 0, false };
	struct bfs_reflexion_opts ro = { 0 };
	struct bfs_outcome *out = NULL;
	struct cli_opts o = { 0 };
	struct cli_ws ws;
	size_t n;
	int ret;

	ret = cli_parse(cmd, argc, argv, CLI_O_CANDS | CLI_O_TIMEOUTS, NULL, longopts, opt, &a, &o);
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && !(ret = cli_ws_open(&ws, &o))) {
		cli_pattern_opts(&ro.common, &o, &ws);
		ro.retries = (unsigned int)a.retries;
		crit.shell = a.critique;
		ro.critique_task = a.critique ? &crit : NULL;
		ret = bfs_reflexion(&out, ws.m, tasks, n, &ro);
		x.count = out ? bfs_outcome_count(out) : 0;
		ret = cli_report(cmd, &o, &ws, out, ret, &x);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_reflexion = {
	.name = "reflexion",
	.summary = "retry sequentially, feeding each failure's critique to the next attempt",
	.usage = "branching reflexion [--retries N] [--critique CMD] [--timeout S] [-w PATH] "
		 "[--json] -- CMD [ARGS...]",
	.help = "Run CMD in a new branch up to N times (default 3), one attempt after the\n"
		"other, until one exits 0; it is committed.  Each attempt gets\n"
		"BRANCHING_ATTEMPT and BRANCHING_FEEDBACK: empty for the first, then the\n"
		"output of the critique command, run in the failed attempt's branch before\n"
		"it is aborted (without --critique, or when it fails: why the attempt\n"
		"failed and the end of its stderr).\n"
		"\n"
		"  --retries N           number of attempts (default 3)\n"
		"  --critique CMD        shell command whose stdout is the next "
		"feedback\n" CLI_HELP_CANDS CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
