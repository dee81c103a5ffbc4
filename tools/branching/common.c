/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the subcommands share: diagnostics and exit codes, option parsing,
 * the workspace (mount and parent branch) and the candidates' tasks.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OPTIONS 32

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("branching: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "branching: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (usage: %s)\n", cmd->usage);
	return CLI_USAGE;
}

int cli_exit_code(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return CLI_OK;
	case ESTALE:
		return CLI_CONFLICT;
	case EMEDIUMTYPE:
		return CLI_NOT_MOUNT;
	}
	return CLI_FAILURE;
}

int cli_finish(int code)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return code;
	cli_error("cannot write the output: %s", bfs_syserr(errno));
	return CLI_FAILURE;
}

long cli_seconds(const char *arg)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(s) || s <= 0 || s * 1000 > UINT_MAX)
		return -1;
	return s * 1000 < 1 ? 1 : (long)(s * 1000);
}

long cli_number(const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		return -1;
	return v;
}

enum { OPT_JSON = 256, OPT_TIMEOUT, OPT_TASK_TIMEOUT, OPT_HELPER_TIMEOUT, OPT_GRACE };

/* The shared options of `which` into all[], their letters into optstring. */
static size_t shared_options(struct option *all, char *optstring, size_t size, unsigned int which)
{
	size_t n = 0;

	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n++] = (struct option){ "workspace", required_argument, NULL, 'w' };
	all[n++] = (struct option){ "json", no_argument, NULL, OPT_JSON };
	snprintf(optstring, size, "+:hw:");
	if (which & CLI_O_CANDS) {
		all[n++] = (struct option){ "candidate", required_argument, NULL, 'c' };
		strncat(optstring, "c:", size - strlen(optstring) - 1);
	}
	if (which & CLI_O_PARALLEL) {
		all[n++] = (struct option){ "max-parallel", required_argument, NULL, 'j' };
		strncat(optstring, "j:", size - strlen(optstring) - 1);
	}
	if (which & CLI_O_TIMEOUTS) {
		all[n++] = (struct option){ "timeout", required_argument, NULL, OPT_TIMEOUT };
		all[n++] = (struct option){ "task-timeout", required_argument, NULL,
					    OPT_TASK_TIMEOUT };
		all[n++] = (struct option){ "helper-timeout", required_argument, NULL,
					    OPT_HELPER_TIMEOUT };
		all[n++] = (struct option){ "grace", required_argument, NULL, OPT_GRACE };
	}
	if (which) {
		all[n++] = (struct option){ "parent", required_argument, NULL, 'p' };
		strncat(optstring, "p:", size - strlen(optstring) - 1);
	}
	return n;
}

static int add_cand(struct cli_opts *o, const char *cmd)
{
	const char **v = realloc(o->cands, (o->ncands + 1) * sizeof(*v));

	if (!v) {
		cli_error("out of memory");
		return CLI_FAILURE;
	}
	o->cands = v;
	o->cands[o->ncands++] = cmd;
	return 0;
}

/* A shared option c: 0, an exit code, or -1 when it is not shared. */
static int shared(const struct cli_cmd *cmd, int c, const char *arg, struct cli_opts *o)
{
	long v;

	switch (c) {
	case 'w':
		o->workspace = arg;
		return 0;
	case 'p':
		o->parent = arg;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case 'c':
		return add_cand(o, arg);
	case 'j':
		if ((v = cli_number(arg, 1, 100000)) < 0)
			return cli_usage(cmd, "invalid number '%s'", arg);
		o->max_parallel = (unsigned int)v;
		return 0;
	case OPT_TIMEOUT:
	case OPT_TASK_TIMEOUT:
	case OPT_HELPER_TIMEOUT:
	case OPT_GRACE:
		if ((v = cli_seconds(arg)) < 0)
			return cli_usage(cmd, "invalid duration '%s' (seconds)", arg);
		*(c == OPT_TIMEOUT	    ? &o->timeout_ms
		  : c == OPT_GRACE	    ? &o->grace_ms
		  : c == OPT_HELPER_TIMEOUT ? &o->helper_timeout_ms
					    : &o->task_timeout_ms) = (unsigned int)v;
		return 0;
	}
	return -1;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, unsigned int which,
	      const char *shortopts, const struct option *own,
	      int (*opt)(int c, const char *arg, void *ctx), void *ctx, struct cli_opts *o)
{
	struct option all[MAX_OPTIONS];
	char optstring[64];
	size_t n = shared_options(all, optstring, sizeof(optstring), which);
	int c;

	for (; own && own->name && n < MAX_OPTIONS - 1; own++)
		all[n++] = *own;
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	strncat(optstring, shortopts ? shortopts : "", sizeof(optstring) - strlen(optstring) - 1);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, optstring, all, NULL)) != -1) {
		int ret;

		switch (c) {
		case 'h':
			printf("usage: %s\n\n%s", cmd->usage, cmd->help);
			return cli_finish(CLI_OK);
		case ':':
			return cli_usage(cmd, "option '%s' needs an argument", argv[optind - 1]);
		case '?':
			if (optopt)
				return cli_usage(cmd, "unknown option '-%c'", optopt);
			return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
		ret = shared(cmd, c, optarg, o);
		if (ret < 0)
			ret = opt ? opt(c, optarg, ctx) : CLI_USAGE;
		if (ret)
			return ret;
	}
	o->ncmd = argc - optind;
	o->cmd = argv + optind;
	return -1;
}

void cli_opts_free(struct cli_opts *o)
{
	free(o->cands);
	o->cands = NULL;
}

/* The branch whose directory path is in: NAME of <root>/@NAME[/...]. */
static char *branch_of(const char *root, const char *path)
{
	char *real = realpath(path, NULL), *name = NULL;
	size_t n = strlen(root);

	if (real && !strncmp(real, root, n) && real[n] == '/' && real[n + 1] == '@')
		name = strndup(real + n + 2, strcspn(real + n + 2, "/"));
	free(real);
	return name;
}

int cli_ws_open(struct cli_ws *ws, const struct cli_opts *o)
{
	const char *path = o->workspace ? o->workspace : ".";
	int ret;

	memset(ws, 0, sizeof(*ws));
	ret = bfs_open(&ws->m, path);
	if (ret == -EMEDIUMTYPE || ret == -ENOENT || ret == -ENOTDIR) {
		char *abs = realpath(path, NULL);

		cli_error("%s is not a branchfs mount%s", abs ? abs : path,
			  ret == -EMEDIUMTYPE ? "" : " (no such directory)");
		free(abs);
		return CLI_NOT_MOUNT;
	}
	if (ret) {
		cli_error("cannot open the workspace %s: %s", path, bfs_strerror(ret));
		return cli_exit_code(ret);
	}
	if (o->parent)
		ws->parent = strdup(o->parent);
	else
		ws->parent = branch_of(bfs_mount_root(ws->m), path);
	return CLI_OK;
}

void cli_ws_close(struct cli_ws *ws)
{
	bfs_close(ws->m);
	free(ws->parent);
	memset(ws, 0, sizeof(*ws));
}

/* Does s need a shell (white space or shell syntax)? */
static bool needs_shell(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || strchr("|&;<>()$`\\\"'*?[]#~=%{}", *s))
			return true;
	return false;
}

int cli_tasks(struct bfs_task **tasks, size_t *n, const struct cli_cmd *cmd,
	      const struct cli_opts *o)
{
	size_t count = o->ncands ? o->ncands : 1;
	struct bfs_task *v;

	if (o->ncands && o->ncmd)
		return cli_usage(cmd, "give candidates with -c or a command after --, not both");
	if (!o->ncands && !o->ncmd)
		return cli_usage(cmd, "no command given");
	v = calloc(count, sizeof(*v));
	if (!v) {
		cli_error("out of memory");
		return CLI_FAILURE;
	}
	for (size_t i = 0; i < o->ncands; i++)
		v[i].shell = o->cands[i];
	if (!o->ncands && o->ncmd == 1 && needs_shell(o->cmd[0]))
		v[0].shell = o->cmd[0];
	else if (!o->ncands)
		v[0].argv = (const char *const *)o->cmd;
	*tasks = v;
	*n = count;
	return -1;
}

void cli_pattern_opts(struct bfs_pattern_opts *p, const struct cli_opts *o, const struct cli_ws *ws)
{
	memset(p, 0, sizeof(*p));
	p->version = BFS_PATTERN_OPTS_VERSION;
	p->parent = ws->parent;
	p->max_parallel = o->max_parallel;
	p->timeout_ms = o->timeout_ms;
	p->task_timeout_ms = o->task_timeout_ms;
	p->helper_timeout_ms = o->helper_timeout_ms;
	p->grace_ms = o->grace_ms;
	p->output_limit = CLI_OUTPUT_LIMIT;
}
