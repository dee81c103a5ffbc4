/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs list [MNT] [--storage DIR] [--json]
 *
 * The branch tree: name (indented under its parent), age, size of its
 * changes, stale marker; '*' marks the mount's current branch.
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static int list_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c != 'j')
		return CLI_USAGE;
	*(bool *)ctx = true;
	return 0;
}

static void print_tree(const struct bfs_branch_list *l)
{
	size_t n = bfs_branch_list_count(l), width = 0;

	for (size_t i = 0; i < n; i++) {
		const struct bfs_branch_info *b = bfs_branch_list_get(l, i);
		size_t w = 2 * b->depth + strlen(b->name);

		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < n; i++) {
		const struct bfs_branch_info *b = bfs_branch_list_get(l, i);
		char age[16] = "-", size[16] = "-";

		if (b->parent) {
			cli_age(age, sizeof(age), b->created_ns);
			cli_size(size, sizeof(size), b->change_bytes);
		}
		printf("%c %*s%-*s  %4s  %6s%s\n", b->current ? '*' : ' ', (int)(2 * b->depth), "",
		       (int)(width - 2 * b->depth), b->name, age, size, b->stale ? "  stale" : "");
	}
}

void cli_branch_json(struct json *j, const struct bfs_branch_info *b)
{
	json_object(j);
	json_key(j, "name");
	json_string(j, b->name);
	json_key(j, "parent");
	json_string(j, b->parent);
	json_key(j, "depth");
	json_uint(j, b->depth);
	json_key(j, "generation");
	json_uint(j, b->generation);
	json_key(j, "parent_generation");
	json_uint(j, b->parent_generation);
	json_key(j, "stale");
	json_bool(j, b->stale);
	json_key(j, "current");
	json_bool(j, b->current);
	json_key(j, "created_ns");
	json_int(j, b->created_ns);
	json_key(j, "change_bytes");
	json_uint(j, b->change_bytes);
	json_end(j);
}

static void print_json(const struct bfs_branch_list *l, const char *storage)
{
	const struct bfs_branch_info *cur = NULL;
	struct json j;

	json_begin(&j, stdout);
	json_object(&j);
	json_key(&j, "storage");
	json_string(&j, storage);
	for (size_t i = 0; i < bfs_branch_list_count(l); i++)
		if (bfs_branch_list_get(l, i)->current)
			cur = bfs_branch_list_get(l, i);
	json_key(&j, "current");
	json_string(&j, cur ? cur->name : NULL);
	json_key(&j, "branches");
	json_array(&j);
	for (size_t i = 0; i < bfs_branch_list_count(l); i++)
		cli_branch_json(&j, bfs_branch_list_get(l, i));
	json_end(&j);
	json_end(&j);
	json_finish(&j);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct bfs_branch_list *l;
	struct cli_opts o = { 0 };
	struct bfs_mount *m;
	int ret;

	ret = cli_parse(cmd, argc, argv, NULL, longopts, list_opt, &o.json, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 0, 1);
	if (ret >= 0)
		return ret;
	ret = cli_load_list(&l, &m, o.nargs ? o.args[0] : NULL, o.storage);
	if (ret)
		return ret;
	if (o.json)
		print_json(l, m && bfs_mount_storage(m) ? bfs_mount_storage(m) : o.storage);
	else
		print_tree(l);
	bfs_branch_list_free(l);
	bfs_close(m);
	return cli_finish(CLI_OK);
}

const struct cli_cmd cli_list = {
	.name = "list",
	.summary = "show the branch tree",
	.usage = "branchfs list [MNT] [--storage DIR] [--json]",
	.help = "Show the branches of the mount holding MNT (default: the current\n"
		"directory), or of the storage directory DIR when no MNT is given, as\n"
		"a tree: a '*' marks the current branch, then the name (indented under\n"
		"its parent), its age, the disk space of its changes, and 'stale' when\n"
		"a sibling committed first (its commit would fail).\n"
		"\n"
		"  --storage DIR  read this storage directory (no mount needed)\n"
		"  --json         print one JSON object (schema: share/doc/branchfs/cli.md)\n",
	.run = run,
};
