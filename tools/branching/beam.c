/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching beam -c CMD... [--width K] [--depth D] [--expand CMD] [--evaluate CMD]
 *
 * Beam search: keep the global top K per level, one child committed into
 * each surviving beam; the best beam is committed at the end.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

enum { OPT_DEPTH = 300, OPT_EXPAND, OPT_EVALUATE, OPT_WIDTH };

struct args {
	const struct cli_cmd *cmd;
	long depth, width;
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
	case OPT_WIDTH:
		if ((a->width = cli_number(arg, 1, 1000)) < 0)
			return cli_usage(a->cmd, "invalid width '%s'", arg);
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
		{ "width", required_argument, NULL, OPT_WIDTH },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "expand", required_argument, NULL, OPT_EXPAND },
		{ "evaluate", required_argument, NULL, OPT_EVALUATE },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { cmd, 2, 2, NULL, NULL };
	struct bfs_task *tasks = NULL, expand = { 0 }, eval = { 0 };
	struct bfs_beam_opts to = { 0 };
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
		to.width = (unsigned int)a.width;
		expand.shell = a.expand;
		to.expansion.expand_task = a.expand ? &expand : NULL;
		eval.shell = a.evaluate;
		to.scoring.evaluate_task = a.evaluate ? &eval : NULL;
		ret = bfs_beam_search(&out, ws.m, tasks, n, &to);
		ret = cli_report(cmd, &o, &ws, out, ret, NULL);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_beam = {
	.name = "beam",
	.summary = "beam search: keep the top K branches per level, commit the best",
	.usage = "branching beam -c CMD [-c CMD]... [--width K] [--depth D] [--expand CMD] "
		 "[--evaluate CMD] [-j N] [--timeout S] [-w PATH] [--json]",
	.help = "Run the candidates in parallel branches (the beams) and keep the K best\n"
		"successes (default 2).  At each next level, expand every beam: its\n"
		"children run in child branches of the beam, all in parallel; the K best\n"
		"children overall survive, each beam's best survivor is committed into it\n"
		"(at most one per beam) and the other children are aborted, as is every\n"
		"beam left without a survivor.  After D levels (default 2) the best beam\n"
		"is committed into the parent.  Expansion and scoring as for tree.\n"
		"\n"
		"  --width K             beams kept per level (default 2)\n"
		"  --depth D             number of levels (default 2)\n"
		"  --expand CMD          print a beam's next shell command lines (run in\n"
		"                        the beam's directory)\n"
		"  --evaluate CMD        score each success (see best-of-n)\n" CLI_HELP_CANDS
			CLI_HELP_PARALLEL CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
