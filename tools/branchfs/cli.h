/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The branchfs command: one file per subcommand, each a struct cli_cmd in
 * the table of main.c, all built on the public libbranchfs API only.
 *
 * Output rules: primary output on stdout, diagnostics on stderr as one line
 * "branchfs: ...", lowercase, no full stop.  Exit codes below.
 */
#ifndef BRANCHFS_CLI_H
#define BRANCHFS_CLI_H

#include <branchfs/branchfs.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum cli_exit {
	CLI_OK = 0,
	CLI_FAILURE = 1,
	CLI_USAGE = 2,
	CLI_CONFLICT = 3, /* ESTALE: a sibling committed first */
	CLI_NOT_MOUNT = 4,
};

struct cli_cmd {
	const char *name;
	const char *summary; /* one line for `branchfs --help` */
	const char *usage;   /* the synopsis after "usage: " */
	const char *help;    /* description and options for `branchfs help NAME` */
	int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
};

extern const struct cli_cmd cli_mount, cli_unmount, cli_create, cli_commit, cli_abort, cli_switch,
	cli_list, cli_status, cli_diff;

/* common.c */

/* Print "branchfs: <fmt>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of cmd: one line on stderr; returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The exit code for a library error. */
int cli_exit_code(int err);
/* Report "cannot <what>: <bfs_strerror(err)>"; returns cli_exit_code(err). */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Options shared by every subcommand, parsed by cli_parse(): --help,
 * --storage DIR, and the subcommand's own (short string and long table in
 * getopt_long form, handled by its callback).
 */
struct cli_opts {
	const char *storage;
	bool json;
	int nargs; /* positional arguments left */
	char **args;
};

struct option;
/* Parse argv (argv[0] is the subcommand).  The callback gets each own
 * option; it returns 0 or an exit code.  Returns -1 to go on, or an exit
 * code (0 after --help). */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, const char *shortopts,
	      const struct option *own, int (*opt)(int c, const char *arg, void *ctx), void *ctx,
	      struct cli_opts *o);
/* Check the number of positional arguments against [min, max]. */
int cli_nargs(const struct cli_cmd *cmd, const struct cli_opts *o, int min, int max);

/* An absolute spelling of path for messages (malloc'd). */
char *cli_abspath(const char *path);
/* Open the mount holding path (NULL: the current directory), reporting
 * failures; returns CLI_OK or an exit code. */
int cli_open(struct bfs_mount **m, const char *path);
/* Report bfs_open(path) failing with ret; returns the exit code. */
int cli_open_failed(int ret, const char *path);
/* The branches, from the mount holding mnt, or from the storage directory
 * alone when mnt is NULL and storage is not (then *m is NULL), or when the
 * mount's daemon does not say where its storage is (-ENOTSUP); reports
 * failures, returns CLI_OK or an exit code. */
int cli_load_list(struct bfs_branch_list **list, struct bfs_mount **m, const char *mnt,
		  const char *storage);
/* Is path the root of a branchfs mount? */
bool cli_is_mount_root(const char *path);

/* Human sizes ("0", "512B", "4.0K", "12M") and ages ("5s", "3m", "2h", "4d"). */
void cli_size(char *out, size_t n, uint64_t bytes);
void cli_age(char *out, size_t n, int64_t created_ns);
const char *cli_type_name(enum bfs_file_type t);

/* Flush stdout and report a failed write; returns code or CLI_FAILURE. */
int cli_finish(int code);

/* list.c: one branch as a JSON object (the schema of docs/cli.md). */
struct json;
void cli_branch_json(struct json *j, const struct bfs_branch_info *b);

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
void json_string(struct json *j, const char *s); /* NULL: null */
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif
