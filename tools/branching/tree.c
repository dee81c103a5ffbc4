/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching tree [-c CMD]... [--depth D] [--expand CMD] [--evaluate CMD]
 *
 * Tree of thoughts: level by level under a root branch, each level's best
 * committed into the root; the root is committed at the end.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

enum { OPT_DEPTH = 300, OPT_EXPAND, OPT_EVALUATE };

struct args {
	const struct cli_cmd *cmd;
	long depth;
	const char *expand, *evaluate;
};

static int opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case OPT_DEPTH:
		if ((a->depth = cli_number(arg, 1, 1000)) < 0)
			return cli_usage(a->cmd, "invalid depth '%s'", arg);
		return 0;
	case OPT_EXPAND:
		a->expand = arg;
		return 0;
	case OPT_EVALUATE:
		a->evaluate = arg;
		return 0;
	}
	return CLI_USAGE;
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "expand", required_argument, NULL, OPT_EXPAND },
		{ "evaluate", required_argument, NULL, OPT_EVALUATE },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { cmd, 1, NULL, NULL };
	struct bfs_task *tasks = NULL, expand = { 0 }, eval = { 0 };
	struct bfs_tree_opts to = { 0 };
	struct bfs_outcome *out = NULL;
	struct cli_opts o = { 0 };
	struct cli_ws ws;
	size_t n;
	int ret;

	ret = cli_parse(cmd, argc, argv, CLI_O_PATTERN, NULL, longopts, opt, &a, &o);
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && !(ret = cli_ws_open(&ws, &o))) {
		cli_pattern_opts(&to.common, &o, &ws);
		to.depth = (unsigned int)a.depth;
		expand.shell = a.expand;
		to.expansion.expand_task = a.expand ? &expand : NULL;
		eval.shell = a.evaluate;
		to.scoring.evaluate_task = a.evaluate ? &eval : NULL;
		ret = bfs_tree_of_thoughts(&out, ws.m, tasks, n, &to);
		ret = cli_report(cmd, &o, &ws, out, ret, NULL);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_tree = {
	.name = "tree",
	.summary = "tree of thoughts: level by level, the best of each level kept",
	.usage = "branching tree -c CMD [-c CMD]... [--depth D] [--expand CMD] "
		 "[--evaluate CMD] [-j N] [--timeout S] [-w PATH] [--json]",
	.help = "Create a root branch; run the candidates in parallel child branches of\n"
		"it; commit the best success (scored as by best-of-n) into the root and\n"
		"abort the others; then expand: the next level is one candidate per\n"
		"line the --expand command prints, run in the root's directory (without\n"
		"--expand, the same candidates again, with BRANCHING_LEVEL set).  After\n"
		"D levels, or an empty expansion, the root is committed into the parent.\n"
		"A level without a success aborts the root: nothing is committed.\n"
		"\n"
		"  --depth D             number of levels (default 1)\n"
		"  --expand CMD          print the next level's shell command lines\n"
		"  --evaluate CMD        score each success (see best-of-n)\n" CLI_HELP_CANDS
			CLI_HELP_PARALLEL CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
