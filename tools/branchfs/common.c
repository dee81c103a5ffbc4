/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the subcommands share: diagnostics and exit codes, option parsing,
 * opening the mount, human formatting and the final stdout check.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void verror(const char *fmt, va_list ap)
{
	fputs("branchfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
}

int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "branchfs: %s: ", cmd->name);
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

int cli_fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("branchfs: cannot ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", bfs_strerror(err));
	return cli_exit_code(err);
}

/* getopt refused arg: name it as the user wrote it. */
static int bad_option(const struct cli_cmd *cmd, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (strncmp(arg, "--", 2))
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	/* optopt is the option's value when it exists but takes no argument. */
	if (eq && optopt)
		return cli_usage(cmd, "option '%.*s' takes no argument", (int)(eq - arg), arg);
	return cli_usage(cmd, "unknown option '%s'", arg);
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, const char *shortopts,
	      const struct option *own, int (*opt)(int c, const char *arg, void *ctx), void *ctx,
	      struct cli_opts *o)
{
	struct option all[16];
	char optstring[32];
	size_t n = 0;
	int c;

	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n++] = (struct option){ "storage", required_argument, NULL, 'S' };
	for (; own && own->name && n < 15; own++)
		all[n++] = *own;
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(optstring, sizeof(optstring), ":h%s", shortopts ? shortopts : "");
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, optstring, all, NULL)) != -1) {
		int ret;

		switch (c) {
		case 'h':
			printf("usage: %s\n\n%s", cmd->usage, cmd->help);
			return cli_finish(CLI_OK);
		case 'S':
			o->storage = optarg;
			continue;
		case ':':
			return cli_usage(cmd, "option '%s' needs an argument", argv[optind - 1]);
		case '?':
			return bad_option(cmd, argv[optind - 1]);
		}
		ret = opt ? opt(c, optarg, ctx) : CLI_USAGE;
		if (ret)
			return ret;
	}
	o->nargs = argc - optind;
	o->args = argv + optind;
	return -1;
}

int cli_nargs(const struct cli_cmd *cmd, const struct cli_opts *o, int min, int max)
{
	if (o->nargs < min)
		return cli_usage(cmd, "missing argument");
	if (o->nargs > max)
		return cli_usage(cmd, "unexpected argument '%s'", o->args[max]);
	return -1;
}

char *cli_abspath(const char *path)
{
	char cwd[PATH_MAX], *out = realpath(path, NULL);

	if (out)
		return out;
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return strdup(path);
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
		return NULL;
	return out;
}

int cli_open(struct bfs_mount **m, const char *path)
{
	int ret = bfs_open(m, path ? path : ".");

	return ret ? cli_open_failed(ret, path) : CLI_OK;
}

int cli_open_failed(int ret, const char *path)
{
	const char *p = path ? path : ".";
	char *abs = cli_abspath(p);

	if (ret == -EMEDIUMTYPE)
		cli_error("%s is not a branchfs mount", abs ? abs : p);
	else if (ret == -ENOENT || ret == -ENOTDIR)
		cli_error("%s is not a branchfs mount (no such directory)", abs ? abs : p);
	else if (ret == -ENOTCONN)
		cli_error("cannot open %s: the daemon serving the mount is gone", abs ? abs : p);
	else
		cli_error("cannot open %s: %s", abs ? abs : p, bfs_syserr(ret));
	free(abs);
	return ret == -ENOENT || ret == -ENOTDIR ? CLI_NOT_MOUNT : cli_exit_code(ret);
}

bool cli_is_mount_root(const char *path)
{
	struct bfs_mount *m;
	char *abs;
	bool root;

	if (bfs_open(&m, path))
		return false;
	abs = realpath(path, NULL);
	root = abs && !strcmp(abs, bfs_mount_root(m));
	free(abs);
	bfs_close(m);
	return root;
}

void cli_size(char *out, size_t n, uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(out, n, bytes ? "%" PRIu64 "B" : "0", bytes);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (v < 10)
		snprintf(out, n, "%.1f%c", v, units[u]);
	else
		snprintf(out, n, "%.0f%c", v, units[u]);
}

void cli_age(char *out, size_t n, int64_t created_ns)
{
	struct timespec now;
	int64_t s;

	clock_gettime(CLOCK_REALTIME, &now);
	if (created_ns <= 0) {
		snprintf(out, n, "-");
		return;
	}
	s = now.tv_sec - created_ns / 1000000000;
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, n, "%ds", (int)s);
	else if (s < 3600)
		snprintf(out, n, "%dm", (int)(s / 60));
	else if (s < 86400)
		snprintf(out, n, "%dh", (int)(s / 3600));
	else
		snprintf(out, n, "%dd", (int)(s / 86400));
}

const char *cli_type_name(enum bfs_file_type t)
{
	switch (t) {
	case BFS_TYPE_FILE:
		return "file";
	case BFS_TYPE_DIR:
		return "dir";
	case BFS_TYPE_SYMLINK:
		return "symlink";
	case BFS_TYPE_FIFO:
		return "fifo";
	case BFS_TYPE_SOCKET:
		return "socket";
	case BFS_TYPE_CHAR:
		return "char";
	case BFS_TYPE_BLOCK:
		return "block";
	case BFS_TYPE_UNKNOWN:
		break;
	}
	return "unknown";
}

int cli_finish(int code)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return code;
	cli_error("cannot write the output: %s", bfs_syserr(errno));
	return CLI_FAILURE;
}

static int load_storage(struct bfs_branch_list **list, const char *storage)
{
	int ret = bfs_list_storage(list, storage);

	if (!ret)
		return CLI_OK;
	if (ret == -ENOENT)
		cli_error("cannot read storage '%s': no such directory", storage);
	else if (ret == -ENOTDIR)
		cli_error("cannot read storage '%s': not a directory", storage);
	else
		cli_fail(ret, "read storage '%s'", storage);
	return CLI_FAILURE;
}

int cli_load_list(struct bfs_branch_list **list, struct bfs_mount **m, const char *mnt,
		  const char *storage)
{
	int ret;

	*m = NULL;
	if (!mnt && storage)
		return load_storage(list, storage);
	ret = cli_open(m, mnt);
	if (ret)
		return ret;
	ret = bfs_list(list, *m);
	/* A daemon that does not say where its storage is: the user did. */
	if (ret == -ENOTSUP && storage) {
		ret = load_storage(list, storage);
		if (ret) {
			bfs_close(*m);
			*m = NULL;
		}
		return ret;
	}
	if (ret) {
		cli_fail(ret, "list the branches of %s", bfs_mount_root(*m));
		bfs_close(*m);
		*m = NULL;
		return cli_exit_code(ret);
	}
	return CLI_OK;
}
