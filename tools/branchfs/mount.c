/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs mount [--base DIR] [--storage DIR] [--max-storage SIZE] [-o OPTS] MNT
 *
 * Runs the daemon and returns once the mount answers.  The daemon is
 * $BRANCHFSD, else the branchfsd next to this program (../fs/ in the build
 * tree, ../sbin/ once installed), else the one on PATH.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mount_args {
	struct bfs_daemon_options d;
	char daemon[PATH_MAX];
};

/* SIZE: a number with an optional K, M, G or T suffix. */
static bool valid_size(const char *s)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	strtoull(s, &end, 10);
	if (*end && strchr("kKmMgGtT", *end))
		end++;
	return *end == '\0';
}

static int mount_opt(int c, const char *arg, void *ctx)
{
	struct mount_args *a = ctx;

	switch (c) {
	case 'b':
		a->d.base = arg;
		return 0;
	case 'm':
		if (!valid_size(arg))
			return cli_usage(&cli_mount, "invalid size '%s'", arg);
		a->d.max_storage = arg;
		return 0;
	case 'o':
		a->d.options = arg;
		return 0;
	}
	return CLI_USAGE;
}

/* The daemon beside this program, if there is one. */
static const char *find_daemon(char *buf)
{
	static const char *const rel[] = { "../fs/branchfsd", "../sbin/branchfsd" };
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (getenv("BRANCHFSD") && getenv("BRANCHFSD")[0])
		return NULL; /* the library takes it from there */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(buf, PATH_MAX, "%s/%s", self, rel[i]);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* The daemon's diagnostics as one line, "a; b", without its own prefixes
 * ("branchfsd: ", "error: "), and without a "cannot mount MNT" after what
 * libfuse said (ours says that); NULL without memory. */
static char *one_line(const char *s, const char *mnt)
{
	static const char *const prefixes[] = { "branchfsd: ", "error: ", "warning: " };
	char *buf = malloc(2 * strlen(s) + 1), *out = buf, said[PATH_MAX + 16];

	if (!buf)
		return NULL;
	snprintf(said, sizeof(said), "cannot mount %s", mnt);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t plen = strlen(prefixes[i]);

			if (len >= plen && !strncmp(s, prefixes[i], plen)) {
				s += plen;
				len -= plen;
			}
		}
		/* The daemon's "cannot mount MNT" after libfuse's reason. */
		if (len && !(out != buf && len == strlen(said) && !strncmp(s, said, len))) {
			if (out != buf) {
				*out++ = ';';
				*out++ = ' ';
			}
			memcpy(out, s, len);
			out += len;
		}
		s += len + (nl != NULL);
	}
	*out = '\0';
	return buf;
}

/*
 * bfs_daemon_start, after detaching a mount whose daemon died (a crash)
 * when one is at mnt, so a mount after a crash needs no unmount first: the
 * branches of the dead mount are in its storage.
 */
static int start(char **msg, const char *mnt, const struct bfs_daemon_options *d)
{
	int ret = bfs_daemon_start(NULL, msg, mnt, d);

	if (ret != -ENOTCONN)
		return ret;
	ret = bfs_detach(mnt);
	if (ret == -EMEDIUMTYPE) {
		cli_error("cannot mount %s: a mount of another file system whose daemon is gone "
			  "is there",
			  mnt);
		return -ENOTCONN;
	}
	if (ret) {
		cli_error("cannot mount %s: cannot detach the mount whose daemon is gone: %s", mnt,
			  bfs_syserr(ret));
		return -ENOTCONN;
	}
	cli_error("the daemon serving %s was gone: its mount was detached", mnt);
	return bfs_daemon_start(NULL, msg, mnt, d);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "max-storage", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct mount_args a = { .d = BFS_DAEMON_OPTIONS_INIT };
	struct cli_opts o = { 0 };
	char *mnt, *base = NULL, *msg = NULL;
	struct stat st;
	int ret;

	ret = cli_parse(cmd, argc, argv, "o:", longopts, mount_opt, &a, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 1, 1);
	if (ret >= 0)
		return ret;
	mnt = cli_abspath(o.args[0]);
	if (!mnt)
		return cli_fail(-ENOMEM, "mount");
	if (a.d.base && (stat(a.d.base, &st) < 0 || !S_ISDIR(st.st_mode))) {
		cli_error("cannot mount %s: base directory '%s' does not exist", mnt, a.d.base);
		free(mnt);
		return CLI_FAILURE;
	}
	a.d.storage = o.storage;
	a.d.daemon = find_daemon(a.daemon);
	ret = start(&msg, mnt, &a.d);
	if (ret == -EBUSY)
		cli_error("cannot mount %s: a branchfs mount is already there", mnt);
	else if (ret && msg) {
		char *line = one_line(msg, mnt);

		cli_error("cannot mount %s: %s", mnt, line ? line : msg);
		free(line);
	} else if (ret == -ENOENT && (stat(mnt, &st) < 0 || !S_ISDIR(st.st_mode)))
		cli_error("cannot mount %s: cannot make the mount point: %s", mnt, bfs_syserr(ret));
	else if (ret == -ENOENT)
		cli_error("cannot mount %s: cannot find the daemon branchfsd", mnt);
	else if (ret && ret != -ENOTCONN) /* start() said why for ENOTCONN */
		cli_error("cannot mount %s: %s", mnt, bfs_syserr(ret));
	else if (!ret) {
		base = cli_abspath(a.d.base ? a.d.base : mnt);
		printf("mounted %s at %s\n", base ? base : mnt, mnt);
	}
	free(base);
	free(msg);
	free(mnt);
	return ret ? cli_exit_code(ret) : cli_finish(CLI_OK);
}

const struct cli_cmd cli_mount = {
	.name = "mount",
	.summary = "mount a directory with branches",
	.usage = "branchfs mount [--base DIR] [--storage DIR] [--max-storage SIZE] [-o OPTS] MNT",
	.help = "Mount DIR (default: MNT itself) at MNT, on the main branch, and return once\n"
		"the mount answers.  MNT is created when missing.\n"
		"\n"
		"  --base DIR          the directory to branch (main is DIR itself)\n"
		"  --storage DIR       where branches are kept (default: the daemon's,\n"
		"                      /var/lib/branchfs/... or $XDG_STATE_HOME/branchfs/...)\n"
		"  --max-storage SIZE  storage quota, e.g. 10G (suffixes K, M, G, T)\n"
		"  -o OPTS             more mount options for branchfsd(8)\n"
		"\n"
		"The daemon is $BRANCHFSD, else the branchfsd installed with branchfs,\n"
		"else branchfsd on PATH.\n",
	.run = run,
};
