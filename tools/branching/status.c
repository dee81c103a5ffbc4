/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching status [-w PATH] [--json]
 *
 * The workspace: its mount, base directory, current branch and branches.
 */
#include "cli.h"

#include <stdlib.h>

static void print_text(const struct cli_ws *ws, const struct bfs_branch_list *l,
		       const char *current)
{
	size_t n = bfs_branch_list_count(l);

	printf("workspace: %s\n", bfs_mount_root(ws->m));
	printf("base:      %s\n", bfs_mount_base(ws->m) ? bfs_mount_base(ws->m) : "-");
	printf("current:   %s\n", current);
	if (ws->parent)
		printf("here:      %s\n", ws->parent);
	printf("branches:  %zu\n", n - 1);
	for (size_t i = 1; i < n; i++) {
		const struct bfs_branch_info *b = bfs_branch_list_get(l, i);

		printf("  %*s%s%s\n", 2 * (int)(b->depth - 1), "", b->name,
		       b->stale ? " (stale)" : "");
	}
}

static void print_json(const struct cli_ws *ws, const struct bfs_branch_list *l,
		       const char *current)
{
	struct json j;

	json_begin(&j, stdout);
	json_object(&j);
	json_key(&j, "command");
	json_string(&j, "status");
	json_key(&j, "workspace");
	json_string(&j, bfs_mount_root(ws->m));
	json_key(&j, "fstype");
	json_string(&j, "fuse.branchfs");
	json_key(&j, "base");
	json_string(&j, bfs_mount_base(ws->m));
	json_key(&j, "current");
	json_string(&j, current);
	json_key(&j, "here");
	json_string(&j, ws->parent);
	json_key(&j, "branches");
	json_array(&j);
	for (size_t i = 1; i < bfs_branch_list_count(l); i++)
		json_string(&j, bfs_branch_list_get(l, i)->name);
	json_end(&j);
	json_key(&j, "tree");
	json_array(&j);
	for (size_t i = 1; i < bfs_branch_list_count(l); i++) {
		const struct bfs_branch_info *b = bfs_branch_list_get(l, i);

		json_object(&j);
		json_key(&j, "name");
		json_string(&j, b->name);
		json_key(&j, "parent");
		json_string(&j, b->parent);
		json_key(&j, "stale");
		json_bool(&j, b->stale);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	json_finish(&j);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct bfs_branch_list *l = NULL;
	struct cli_opts o = { 0 };
	char *current = NULL;
	struct cli_ws ws;
	int ret;

	ret = cli_parse(cmd, argc, argv, 0, NULL, NULL, NULL, NULL, &o);
	if (ret < 0 && o.ncmd)
		ret = cli_usage(cmd, "unexpected argument '%s'", o.cmd[0]);
	if (ret >= 0 || (ret = cli_ws_open(&ws, &o)))
		return ret;
	ret = bfs_current(&current, ws.m);
	if (!ret)
		ret = bfs_list(&l, ws.m);
	if (ret) {
		cli_error("cannot read the branches of %s: %s", bfs_mount_root(ws.m),
			  bfs_strerror(ret));
		ret = cli_exit_code(ret);
	} else {
		if (o.json)
			print_json(&ws, l, current);
		else
			print_text(&ws, l, current);
		ret = cli_finish(CLI_OK);
	}
	bfs_branch_list_free(l);
	free(current);
	cli_ws_close(&ws);
	return ret;
}

const struct cli_cmd cli_status = {
	.name = "status",
	.summary = "show the workspace and its branches",
	.usage = "branching status [-w PATH] [--json]",
	.help = "Show the branchfs mount holding PATH (default: the current directory),\n"
		"its base directory, its current branch, the branch PATH is in (when it\n"
		"is inside @NAME), and the live branches as a tree.\n"
		"\n"
		"  -w, --workspace PATH  the mount (default: the one holding the current\n"
		"                        directory)\n"
		"  --json                print one JSON object (docs/patterns.md)\n",
	.run = run,
};
