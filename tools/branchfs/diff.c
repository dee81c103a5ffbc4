/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs diff [BRANCH] [MNT] [--stat] [--json]
 *
 * The changes of BRANCH (default: the mount's current branch) against its
 * parent, like `git status --short`: one "X  PATH" line per path, X one of
 * A (added), M (modified), D (deleted), R (renamed: "R  OLD -> NEW");
 * directories end with '/'.
 *
 * With a single argument it is MNT when it contains '/' or is the root of a
 * branchfs mount ("." included), and BRANCH otherwise.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct diff_args {
	bool json;
	bool stat;
};

static int diff_opt(int c, const char *arg, void *ctx)
{
	struct diff_args *a = ctx;

	(void)arg;
	if (c == 'j')
		a->json = true;
	else if (c == 's')
		a->stat = true;
	else
		return CLI_USAGE;
	return 0;
}

static const char *slash(const struct bfs_diff_entry *e)
{
	return e->type == BFS_TYPE_DIR ? "/" : "";
}

static void print_short(const struct bfs_diff *d)
{
	for (size_t i = 0; i < bfs_diff_count(d); i++) {
		const struct bfs_diff_entry *e = bfs_diff_get(d, i);

		if (e->change == BFS_CHANGE_RENAMED)
			printf("R  %s%s -> %s%s\n", e->old_path, slash(e), e->path, slash(e));
		else
			printf("%c  %s%s\n", (char)e->change, e->path, slash(e));
	}
}

static void print_stat(const struct bfs_diff *d)
{
	size_t n = bfs_diff_count(d), width = 0, count[4] = { 0 };
	static const char changes[] = "AMDR";

	for (size_t i = 0; i < n; i++) {
		const struct bfs_diff_entry *e = bfs_diff_get(d, i);
		size_t w = strlen(e->path) + (e->type == BFS_TYPE_DIR);

		if (w > width)
			width = w;
		count[strchr(changes, (char)e->change) - changes]++;
	}
	for (size_t i = 0; i < n; i++) {
		const struct bfs_diff_entry *e = bfs_diff_get(d, i);
		char size[16];

		cli_size(size, sizeof(size), e->size);
		printf(" %s%s%*s | %c", e->path, slash(e),
		       (int)(width - strlen(e->path) - strlen(slash(e))), "", (char)e->change);
		if (e->change == BFS_CHANGE_RENAMED)
			printf(" from %s%s\n", e->old_path, slash(e));
		else if (e->type == BFS_TYPE_DIR || e->change == BFS_CHANGE_DELETED)
			printf("\n");
		else
			printf(" %s\n", size);
	}
	printf(" %zu change%s: %zu added, %zu modified, %zu deleted, %zu renamed\n", n,
	       n == 1 ? "" : "s", count[0], count[1], count[2], count[3]);
}

static const char *change_name(enum bfs_change c)
{
	switch (c) {
	case BFS_CHANGE_ADDED:
		return "added";
	case BFS_CHANGE_MODIFIED:
		return "modified";
	case BFS_CHANGE_DELETED:
		return "deleted";
	case BFS_CHANGE_RENAMED:
		return "renamed";
	}
	return "unknown";
}

static void print_json(const struct bfs_diff *d)
{
	struct json j;

	json_begin(&j, stdout);
	json_object(&j);
	json_key(&j, "branch");
	json_string(&j, bfs_diff_branch(d));
	json_key(&j, "parent");
	json_string(&j, bfs_diff_parent(d));
	json_key(&j, "changes");
	json_array(&j);
	for (size_t i = 0; i < bfs_diff_count(d); i++) {
		const struct bfs_diff_entry *e = bfs_diff_get(d, i);

		json_object(&j);
		json_key(&j, "status");
		json_string(&j, change_name(e->change));
		json_key(&j, "path");
		json_string(&j, e->path);
		json_key(&j, "old_path");
		json_string(&j, e->old_path);
		json_key(&j, "type");
		json_string(&j, cli_type_name(e->type));
		json_key(&j, "size");
		json_uint(&j, e->size);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	json_finish(&j);
}

/* Sort out [BRANCH] [MNT]. */
static void split_args(const struct cli_opts *o, const char **branch, const char **mnt)
{
	*branch = NULL;
	*mnt = NULL;
	if (o->nargs == 2) {
		*branch = o->args[0];
		*mnt = o->args[1];
	} else if (o->nargs == 1) {
		const char *a = o->args[0];

		if (strchr(a, '/') || !strcmp(a, ".") || !strcmp(a, "..") || cli_is_mount_root(a))
			*mnt = a;
		else
			*branch = a;
	}
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stat", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct diff_args a = { 0 };
	const char *branch, *mnt;
	struct cli_opts o = { 0 };
	struct bfs_mount *m;
	struct bfs_diff *d;
	char *cur = NULL;
	int ret;

	ret = cli_parse(cmd, argc, argv, NULL, longopts, diff_opt, &a, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 0, 2);
	if (ret >= 0)
		return ret;
	split_args(&o, &branch, &mnt);
	ret = cli_open(&m, mnt);
	if (ret)
		return ret;
	if (!branch && (ret = bfs_current(&cur, m)) != 0) {
		bfs_close(m);
		return cli_fail(ret, "diff: cannot read the current branch");
	}
	ret = bfs_diff(&d, m, branch ? branch : cur);
	if (ret == -EINVAL)
		cli_error("cannot diff '%s': main has no parent", branch ? branch : cur);
	else if (ret)
		cli_fail(ret, "diff '%s'", branch ? branch : cur);
	bfs_close(m);
	free(cur);
	if (ret)
		return cli_exit_code(ret);
	if (a.json)
		print_json(d);
	else if (a.stat)
		print_stat(d);
	else
		print_short(d);
	bfs_diff_free(d);
	return cli_finish(CLI_OK);
}

const struct cli_cmd cli_diff = {
	.name = "diff",
	.summary = "show what a branch changed against its parent",
	.usage = "branchfs diff [BRANCH] [MNT] [--stat] [--json]",
	.help = "List the paths BRANCH (default: the mount's current branch) changed\n"
		"against its parent, like `git status --short`:\n"
		"\n"
		"  A  PATH         added\n"
		"  M  PATH         modified (content, type, mode or owner)\n"
		"  D  PATH         deleted\n"
		"  R  OLD -> NEW   directory renamed\n"
		"\n"
		"Directories end with '/'.  A file renamed in the branch shows as D + A.\n"
		"With one argument, it is MNT when it contains '/' or is a mount root,\n"
		"else BRANCH.  MNT defaults to the current directory.\n"
		"\n"
		"  --stat  one line per path with its size, then a summary\n"
		"  --json  print one JSON object (schema: share/doc/branchfs/cli.md)\n",
	.run = run,
};
