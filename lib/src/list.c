/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listing branches from the storage directory: the state log gives the tree,
 * generations and names; the branch's own layers give the size of its
 * changes.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bfs_branch_list {
	struct bfs_branch_info *e;
	size_t n;
	struct bfs_state st; /* owns the names */
};

static int own_size(uint64_t *bytes, const char *dir, const struct bfs_state_branch *b)
{
	char path[PATH_MAX];
	int ret = 0;

	*bytes = 0;
	for (int i = 0; i < b->nown && !ret; i++) {
		if (snprintf(path, sizeof(path), "%s/layers/%" PRIu64, dir, b->layers[i]) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		ret = bfs__du(bytes, path);
	}
	return ret;
}

/* Append b and then its subtree, children in creation (id) order. */
static int add_tree(struct bfs_branch_list *l, const char *dir, const struct bfs_state_branch *b,
		    unsigned int depth)
{
	const struct bfs_state *st = &l->st;
	const struct bfs_state_branch *p = b->id ? bfs__state_find(st, b->parent) : NULL;
	struct bfs_branch_info *e = &l->e[l->n++];
	int ret;

	e->name = b->name;
	e->parent = p ? p->name : NULL;
	e->id = b->id;
	e->generation = b->gen;
	e->parent_generation = b->parent_gen;
	e->created_ns = b->created_ns;
	e->depth = depth;
	e->stale = p && p->gen != b->parent_gen;
	e->current = st->current == b->id;
	ret = b->id ? own_size(&e->change_bytes, dir, b) : 0;
	for (size_t i = 0; i < st->n && !ret; i++) {
		const struct bfs_state_branch *c = &st->b[i];

		if (c->id && !c->gone && c->parent == b->id)
			ret = add_tree(l, dir, c, depth + 1);
	}
	return ret;
}

int bfs_list_storage(struct bfs_branch_list **out, const char *dir)
{
	struct bfs_branch_list *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	ret = bfs__state_read(&l->st, dir);
	if (!ret) {
		l->e = calloc(l->st.n, sizeof(*l->e));
		ret = l->e ? add_tree(l, dir, bfs__state_find(&l->st, 0), 0) : -ENOMEM;
	}
	if (ret) {
		bfs_branch_list_free(l);
		return ret;
	}
	*out = l;
	return 0;
}

int bfs_list(struct bfs_branch_list **out, struct bfs_mount *m)
{
	int ret = bfs__refresh_info(m);

	if (ret)
		return ret;
	if (!m->storage)
		return -ENOTSUP;
	return bfs_list_storage(out, m->storage);
}

size_t bfs_branch_list_count(const struct bfs_branch_list *list)
{
	return list->n;
}

const struct bfs_branch_info *bfs_branch_list_get(const struct bfs_branch_list *list, size_t i)
{
	return i < list->n ? &list->e[i] : NULL;
}

const struct bfs_branch_info *bfs_branch_list_find(const struct bfs_branch_list *list,
						   const char *name)
{
	for (size_t i = 0; i < list->n; i++)
		if (!strcmp(list->e[i].name, name))
			return &list->e[i];
	return NULL;
}

void bfs_branch_list_free(struct bfs_branch_list *list)
{
	if (!list)
		return;
	free(list->e);
	bfs__state_free(&list->st);
	free(list);
}
