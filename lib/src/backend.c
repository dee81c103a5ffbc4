/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real branch backend of the patterns: the client calls on an open
 * mount.  A candidate is free to create branches of its own under its
 * branch; those would make our commit or abort fail with ENOTEMPTY, so on
 * that error the descendants are aborted (deepest first) and the operation
 * retried once.  Their work was never committed: dropping it is what
 * aborting or committing the candidate means.
 */
#define _GNU_SOURCE
#include "pattern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is b a strict descendant of name in list? */
static bool descends(const struct bfs_branch_list *list, const struct bfs_branch_info *b,
		     const char *name)
{
	for (unsigned int depth = 0; b && b->parent && depth <= b->depth; depth++) {
		if (!strcmp(b->parent, name))
			return true;
		b = bfs_branch_list_find(list, b->parent);
	}
	return false;
}

/* Abort every live descendant of name.  The list has children after their
 * parents, so walking it backwards aborts children first. */
static int abort_descendants(struct bfs_mount *m, const char *name)
{
	struct bfs_branch_list *list;
	int ret = bfs_list(&list, m);
	size_t n;

	if (ret)
		return ret;
	n = bfs_branch_list_count(list);
	for (size_t i = n; i-- > 0;) {
		const struct bfs_branch_info *b = bfs_branch_list_get(list, i);
		int r;

		if (!descends(list, b, name))
			continue;
		r = bfs_abort(m, b->name);
		if (r && r != -ENOENT && !ret)
			ret = r;
	}
	bfs_branch_list_free(list);
	return ret;
}

static int real_create(void *ctx, char **name, char **path, const char *parent)
{
	return bfs_create(name, path, ctx, parent, NULL);
}

static int real_commit(void *ctx, const char *name)
{
	int ret = bfs_commit(ctx, name);

	if (ret == -ENOTEMPTY && !abort_descendants(ctx, name))
		ret = bfs_commit(ctx, name);
	return ret;
}

static int real_abort(void *ctx, const char *name)
{
	int ret = bfs_abort(ctx, name);

	if (ret == -ENOTEMPTY && !abort_descendants(ctx, name))
		ret = bfs_abort(ctx, name);
	return ret;
}

static int real_path(void *ctx, char **path, const char *name)
{
	return asprintf(path, "%s/@%s", bfs_mount_root(ctx), name) < 0 ? -ENOMEM : 0;
}

static int real_current(void *ctx, char **name)
{
	return bfs_current(name, ctx);
}

static const struct bfs__backend_ops real_ops = {
	.create = real_create,
	.commit = real_commit,
	.abort = real_abort,
	.path = real_path,
	.current = real_current,
};

void bfs__backend_mount(struct bfs__backend *be, struct bfs_mount *m)
{
	be->ops = &real_ops;
	be->ctx = m;
}
