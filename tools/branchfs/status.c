/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs status [MNT] [--storage DIR] [--json]
 *
 * The mount (root, base, storage, daemon) and its current branch.
 */
#include "cli.h"

#include <getopt.h>

static int status_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c != 'j')
		return CLI_USAGE;
	*(bool *)ctx = true;
	return 0;
}

struct status {
	const char *mount, *base, *storage;
	int pid;
	size_t nbranches; /* live branches but main */
	const struct bfs_branch_info *cur;
};

static void print_human(const struct status *s)
{
	char size[16];

	cli_size(size, sizeof(size), s->cur ? s->cur->change_bytes : 0);
	printf("mount:    %s\n", s->mount ? s->mount : "-");
	printf("base:     %s\n", s->base ? s->base : "-");
	printf("storage:  %s\n", s->storage ? s->storage : "-");
	if (s->pid)
		printf("daemon:   %d\n", s->pid);
	else
		printf("daemon:   -\n");
	printf("branch:   %s\n", s->cur ? s->cur->name : "-");
	printf("parent:   %s\n", s->cur && s->cur->parent ? s->cur->parent : "-");
	printf("stale:    %s\n", s->cur && s->cur->stale ? "yes" : "no");
	printf("changes:  %s\n", s->cur && s->cur->parent ? size : "-");
	printf("branches: %zu\n", s->nbranches);
}

static void print_json(const struct status *s)
{
	struct json j;

	json_begin(&j, stdout);
	json_object(&j);
	json_key(&j, "mount");
	json_string(&j, s->mount);
	json_key(&j, "base");
	json_string(&j, s->base);
	json_key(&j, "storage");
	json_string(&j, s->storage);
	json_key(&j, "daemon_pid");
	if (s->pid)
		json_int(&j, s->pid);
	else
		json_null(&j);
	json_key(&j, "branches");
	json_uint(&j, s->nbranches);
	json_key(&j, "current");
	if (s->cur)
		cli_branch_json(&j, s->cur);
	else
		json_null(&j);
	json_end(&j);
	json_finish(&j);
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o = { 0 };
	struct bfs_branch_list *l;
	struct status s = { 0 };
	struct bfs_mount *m;
	int ret;

	ret = cli_parse(cmd, argc, argv, NULL, longopts, status_opt, &o.json, &o);
	if (ret < 0)
		ret = cli_nargs(cmd, &o, 0, 1);
	if (ret >= 0)
		return ret;
	ret = cli_load_list(&l, &m, o.nargs ? o.args[0] : NULL, o.storage);
	if (ret)
		return ret;
	s.storage = o.storage;
	if (m) {
		s.mount = bfs_mount_root(m);
		s.base = bfs_mount_base(m);
		if (bfs_mount_storage(m))
			s.storage = bfs_mount_storage(m);
		s.pid = bfs_mount_daemon_pid(m);
	}
	for (size_t i = 0; i < bfs_branch_list_count(l); i++) {
		const struct bfs_branch_info *b = bfs_branch_list_get(l, i);

		s.nbranches += b->parent != NULL;
		if (b->current)
			s.cur = b;
	}
	if (o.json)
		print_json(&s);
	else
		print_human(&s);
	bfs_branch_list_free(l);
	bfs_close(m);
	return cli_finish(CLI_OK);
}

const struct cli_cmd cli_status = {
	.name = "status",
	.summary = "show the mount and its current branch",
	.usage = "branchfs status [MNT] [--storage DIR] [--json]",
	.help = "Show the mount holding MNT (default: the current directory): its root,\n"
		"base directory, storage directory and daemon pid, and its current\n"
		"branch with its parent, stale flag and the size of its changes.  With\n"
		"--storage DIR and no MNT, show what the storage directory records.\n"
		"\n"
		"  --storage DIR  read this storage directory (no mount needed)\n"
		"  --json         print one JSON object (schema: share/doc/branchfs/cli.md)\n",
	.run = run,
};
