/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching cascade [--fan-out 1,2,4] -- CMD [ARGS...]
 *
 * Waves of growing width; each wave races like speculate, and the errors
 * of a failed wave are fed to the later ones in BRANCHING_FEEDBACK.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WAVES 64

enum { OPT_FAN_OUT = 300 };

struct args {
	const struct cli_cmd *cmd;
	unsigned int fan[MAX_WAVES];
	size_t waves;
};

static int parse_fan_out(struct args *a, const char *arg)
{
	char buf[512], *save = NULL;

	if (strlen(arg) >= sizeof(buf))
		return cli_usage(a->cmd, "invalid fan-out '%s'", arg);
	strcpy(buf, arg);
	a->waves = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		long v = cli_number(t, 1, 10000);

		if (v < 0 || a->waves == MAX_WAVES)
			return cli_usage(a->cmd, "invalid fan-out '%s'", arg);
		a->fan[a->waves++] = (unsigned int)v;
	}
	return a->waves ? 0 : cli_usage(a->cmd, "invalid fan-out '%s'", arg);
}

static int opt(int c, const char *arg, void *ctx)
{
	return c == OPT_FAN_OUT ? parse_fan_out(ctx, arg) : CLI_USAGE;
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fan-out", required_argument, NULL, OPT_FAN_OUT },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { .cmd = cmd, .fan = { 1, 2, 4 }, .waves = 3 };
	struct bfs_cascade_opts co = { 0 };
	struct bfs_outcome *out = NULL;
	struct bfs_task *tasks = NULL;
	struct cli_opts o = { 0 };
	struct cli_ws ws;
	size_t n;
	int ret;

	ret = cli_parse(cmd, argc, argv, CLI_O_CANDS | CLI_O_TIMEOUTS, NULL, longopts, opt, &a, &o);
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && !(ret = cli_ws_open(&ws, &o))) {
		cli_pattern_opts(&co.common, &o, &ws);
		co.fan_out = a.fan;
		co.waves = a.waves;
		ret = bfs_cascade(&out, ws.m, tasks, n, &co);
		ret = cli_report(cmd, &o, &ws, out, ret, NULL);
		bfs_outcome_free(out);
		cli_ws_close(&ws);
	}
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_cascade = {
	.name = "cascade",
	.summary = "widen the fan-out wave by wave, passing errors forward",
	.usage = "branching cascade [--fan-out W,W,...] [--timeout S] [-w PATH] [--json] "
		 "-- CMD [ARGS...]",
	.help = "Run waves of parallel attempts of CMD, each in its own new branch: 1,\n"
		"then 2, then 4 by default.  Within a wave the first success is committed\n"
		"and the others killed and aborted, as with speculate.  When a wave fails,\n"
		"the errors of its attempts (why each failed and the end of its stderr)\n"
		"are added to BRANCHING_FEEDBACK for every later attempt.\n"
		"\n"
		"  --fan-out W,W,...     widths of the waves (default 1,2,4)\n" CLI_HELP_CANDS
			CLI_HELP_TIMEOUTS CLI_HELP_WORKSPACE,
	.run = run,
};
