/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The branching command: agent patterns over a branchfs mount.  One file
 * per subcommand, each a struct cli_cmd in the table of main.c, all built on
 * the public libbranchfs API only (<branchfs/patterns.h>, runner.h).
 *
 * Output rules: primary output on stdout (a report, or one JSON object with
 * --json), diagnostics on stderr as one line "branching: ...", lowercase, no
 * full stop.  Exit codes below; a run stopped by SIGINT, SIGTERM or SIGHUP
 * exits 128 + the signal after it cleaned up.
 */
#ifndef BRANCHING_CLI_H
#define BRANCHING_CLI_H

#include <branchfs/branchfs.h>
#include <branchfs/patterns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_exit {
	CLI_OK = 0,	 /* something was committed (run: the command's status) */
	CLI_FAILURE = 1, /* nothing was committed, or an error */
	CLI_USAGE = 2,
	CLI_CONFLICT = 3,  /* ESTALE: the parent moved, a commit lost the race */
	CLI_NOT_MOUNT = 4, /* the workspace is not a branchfs mount */
};

/* Bytes of stdout and of stderr kept per candidate (the last ones). */
#define CLI_OUTPUT_LIMIT 65536

struct cli_cmd {
	const char *name;
	const char *summary; /* one line for `branching --help` */
	const char *usage;   /* the synopsis after "usage: " */
	const char *help;    /* description and options for `branching help NAME` */
	int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
};

extern const struct cli_cmd cli_run, cli_speculate, cli_best_of_n, cli_reflexion, cli_tree,
	cli_beam, cli_tournament, cli_cascade, cli_status;

/* common.c: diagnostics, options, the workspace, tasks. */

/* Print "branching: <fmt>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of cmd: one line on stderr; returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The exit code for a library error. */
int cli_exit_code(int err);
/* Flush stdout and report a failed write; returns code or CLI_FAILURE. */
int cli_finish(int code);

/* Options the subcommands share (which ones each takes: CLI_O_*). */
struct cli_opts {
	const char *workspace; /* -w, --workspace */
	const char *parent;    /* -p, --parent */
	bool json;
	unsigned int timeout_ms, task_timeout_ms, helper_timeout_ms, grace_ms;
	unsigned int max_parallel; /* -j */
	const char **cands;	   /* -c CMD, in order */
	size_t ncands;
	char **cmd; /* what follows the options (after "--") */
	int ncmd;
};

#define CLI_O_CANDS    0x01u /* -c CMD */
#define CLI_O_PARALLEL 0x02u /* -j N */
#define CLI_O_TIMEOUTS 0x04u /* --timeout, --task-timeout, --helper-timeout, --grace */
#define CLI_O_PATTERN  (CLI_O_CANDS | CLI_O_PARALLEL | CLI_O_TIMEOUTS)

/* Help lines of the shared options. */
#define CLI_HELP_CANDS                                                                 \
	"  -c, --candidate CMD   a candidate's shell command line (repeat), instead\n" \
	"                        of -- CMD; candidate i runs the (i mod count)-th\n"
#define CLI_HELP_PARALLEL "  -j, --max-parallel N  run at most N candidates at once\n"
#define CLI_HELP_TIMEOUTS                                                             \
	"  --timeout S           bound on the whole run, in seconds\n"                \
	"  --task-timeout S      bound on each candidate and helper command\n"        \
	"  --helper-timeout S    bound on each evaluate, critique, judge or expand\n" \
	"                        command (default: --task-timeout, else what is\n"    \
	"                        left of --timeout, else 600)\n"                      \
	"  --grace S             from SIGTERM to SIGKILL (default 2)\n"
#define CLI_HELP_WORKSPACE                                                            \
	"  -w, --workspace PATH  the mount (default: the one holding the current\n"   \
	"                        directory)\n"                                        \
	"  -p, --parent BRANCH   fork from BRANCH (default: the branch PATH is in,\n" \
	"                        else the mount's current branch)\n"                  \
	"  --json                print one JSON object (docs/patterns.md)\n"

struct option;
/*
 * Parse argv (argv[0] is the subcommand): -h/--help, -w, -p, --json, the
 * shared options in `which`, then the subcommand's own (short string and
 * long table in getopt_long form, handled by opt(c, arg, ctx), which
 * returns 0 or an exit code).  Parsing stops at "--" or at the first
 * argument that is not an option.  Returns -1 to go on, or an exit code
 * (0 after --help); o->cands is malloc'd (cli_opts_free()).
 */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, unsigned int which,
	      const char *shortopts, const struct option *own,
	      int (*opt)(int c, const char *arg, void *ctx), void *ctx, struct cli_opts *o);
void cli_opts_free(struct cli_opts *o);
/* "1.5" seconds into ms (> 0); -1 when invalid. */
long cli_seconds(const char *arg);
/* A whole number in [min, max]; -1 when invalid. */
long cli_number(const char *arg, long min, long max);

/* The workspace: the mount holding -w (or the current directory), and the
 * branch to fork from: -p, else the @NAME the path is in, else the mount's
 * current branch (NULL). */
struct cli_ws {
	struct bfs_mount *m;
	char *parent;
};

/* Open it, reporting failures; returns CLI_OK or an exit code. */
int cli_ws_open(struct cli_ws *ws, const struct cli_opts *o);
void cli_ws_close(struct cli_ws *ws);

/* The candidates' tasks: the -c commands (shell command lines), else the
 * command after the options (a single argument with white space is a
 * shell command line, several are an argv).  *tasks is malloc'd (free()).
 * Returns -1 to go on, or an exit code (usage errors reported). */
int cli_tasks(struct bfs_task **tasks, size_t *n, const struct cli_cmd *cmd,
	      const struct cli_opts *o);
/* The shared pattern options from o and ws. */
void cli_pattern_opts(struct bfs_pattern_opts *p, const struct cli_opts *o,
		      const struct cli_ws *ws);

/* report.c: the outcome of a pattern, as text or JSON. */
struct cli_report {
	const char *count_key; /* an extra count ("candidates", "n", "attempts"), or NULL */
	size_t count;
	bool winner_object; /* "winner": {"index", "score"} (best-of-n) */
};

/* Print the outcome (o->json: one JSON object) and the error line; return
 * the exit code: 128 + signal, CLI_CONFLICT, CLI_FAILURE (also a rollout,
 * which never commits), or CLI_OK when something was committed. */
int cli_report(const struct cli_cmd *cmd, const struct cli_opts *o, const struct cli_ws *ws,
	       const struct bfs_outcome *out, int ret, const struct cli_report *extra);

/* json.c: a tiny streaming JSON writer (compact, one document). */
#define JSON_MAX_DEPTH 32

struct json {
	FILE *f;
	int depth;
	char closer[JSON_MAX_DEPTH];	     /* '}' or ']' per open level */
	bool need_comma[JSON_MAX_DEPTH + 1]; /* a value came before at this level */
};

void json_begin(struct json *j, FILE *f);
void json_object(struct json *j);
void json_array(struct json *j);
void json_end(struct json *j); /* closes the innermost object or array */
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);	      /* NULL: null */
void json_stringn(struct json *j, const char *s, size_t len); /* NULL: null */
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_double(struct json *j, double v); /* not finite: null */
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif
