/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a commit is about to change, kept out of the kernel's caches until
 * it has changed.
 *
 * A commit applies under the tree lock held exclusive, so requests see all
 * of it or none of it; but the kernel answers lookups and stat from its own
 * caches for the views' timeouts, and the invalidations a commit sends
 * reach it one by one after the lock is released.  A reader could then see
 * one name the commit added and miss the next, whose absence the kernel
 * still remembers.  So before the commit applies, the paths it will change
 * and their directories are marked pending, and what the kernel cached of
 * them is dropped (entries, attributes and pages invalidated, with no lock
 * of ours held, so what the kernel waits for can finish); until the commit
 * has applied, every answer about a pending path carries a zero timeout,
 * so nothing about it is cached again.  After that, what the kernel asks
 * for is the new state.
 *
 * Each commit has its set (struct bfsd_pending) on the mount's list from
 * bfsd_pending_begin to bfsd_pending_end; several can be there at once
 * (siblings racing to commit), and no lock is held while the kernel is
 * told, so a commit never waits on the kernel while it holds up another.
 * mount->pending_lock (leaf) guards the list; mount->npending gives a
 * lock-free test for the common case of none.
 */
#include "ll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hash_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t path_hash(const char *path)
{
	return bfsd_hash(path, strlen(path));
}

struct bfsd_pending {
	struct bfsd_branch *parent; /* whose paths these are; referenced */
	uint64_t *hash;		    /* bfsd_hash of each path, sorted */
	size_t n, cap;
	struct bfsd_pending *next; /* mount->pending_lock */
};

/* path and every directory above it, up to the view's root (""). */
static int add_with_parents(struct bfsd_pending *ps, const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (;;) {
		char *slash;

		if (ps->n == ps->cap) {
			size_t ncap = ps->cap ? ps->cap * 2 : 64;
			uint64_t *n = realloc(ps->hash, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			ps->hash = n;
			ps->cap = ncap;
		}
		ps->hash[ps->n++] = path_hash(dir);
		if (!dir[0])
			return 0;
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
	}
}

static void pending_free(struct bfsd_pending *ps)
{
	if (!ps)
		return;
	bfsd_branch_put(ps->parent);
	free(ps->hash);
	free(ps);
}

/* What committing b changes, as a set, with the invalidations for it in
 * iv; NULL when nothing needs marking.  *changes: b->changes the plan
 * saw.  tree_lock held shared. */
static struct bfsd_pending *mark(struct bfsd_mount *m, struct bfsd_branch *b, struct bfsd_inval *iv,
				 unsigned int *changes)
{
	struct bfsd_oplist ops = { 0 };
	struct bfsd_pending *ps;
	int ret;

	*changes = atomic_load(&b->changes);
	if (b == m->fs->main || !b->parent || b->dead || b->parent_gen != b->parent->gen)
		return NULL; /* it will not apply */
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		goto out_fail;
	bfsd_lock_ns(m->fs, b, false);
	*changes = atomic_load(&b->changes);
	ret = bfsd_commit_plan(m->fs, b, &ops);
	bfsd_unlock_ns(m->fs, b);
	for (size_t i = 0; !ret && i < ops.n; i++) {
		const struct bfsd_op *op = &ops.op[i];

		ret = add_with_parents(ps, op->kind == BFSD_OP_STAGE_OUT ? op->src : op->dst);
	}
	if (ret)
		goto out_fail;
	if (!ps->n) {
		pending_free(ps); /* nothing to change */
		return NULL;
	}
	qsort(ps->hash, ps->n, sizeof(*ps->hash), hash_cmp);
	ps->parent = bfsd_branch_get(b->parent);
	pthread_mutex_lock(&m->pending_lock);
	ps->next = m->pending;
	m->pending = ps;
	atomic_fetch_add(&m->npending, 1);
	pthread_mutex_unlock(&m->pending_lock);
	/* Full entry invalidations: they wait for lookups in flight, so none
	 * answered before the mark can cache its answer after it. */
	for (size_t i = 0; i < ops.n; i++) {
		const struct bfsd_op *op = &ops.op[i];

		bfsd_inval_path(m, iv, b->parent, op->kind == BFSD_OP_STAGE_OUT ? op->src : op->dst,
				true);
	}
	bfsd_oplist_free(&ops);
	return ps;
out_fail:
	bfsd_oplist_free(&ops);
	pending_free(ps);
	bfsd_dbg("commit of '%s': readers may see it arrive name by name", b->name);
	return NULL;
}

struct bfsd_pending *bfsd_pending_begin(struct bfsd_mount *m, struct bfsd_branch *b,
					unsigned int *changes)
{
	struct bfsd_inval iv = { 0 };
	struct bfsd_pending *ps;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ps = mark(m, b, &iv, changes);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	bfsd_inval_send(m, &iv);
	return ps;
}

void bfsd_pending_end(struct bfsd_mount *m, struct bfsd_pending *ps)
{
	struct bfsd_pending **pp;

	if (!ps)
		return;
	pthread_mutex_lock(&m->pending_lock);
	for (pp = &m->pending; *pp && *pp != ps; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = ps->next;
		atomic_fetch_sub(&m->npending, 1);
	}
	pthread_mutex_unlock(&m->pending_lock);
	pending_free(ps);
}

bool bfsd_pending(struct bfsd_mount *m, struct bfsd_branch *b, const char *path)
{
	bool found = false;
	uint64_t h;

	if (!b || !atomic_load(&m->npending))
		return false;
	h = path_hash(path);
	pthread_mutex_lock(&m->pending_lock);
	for (struct bfsd_pending *ps = m->pending; ps && !found; ps = ps->next)
		found = ps->parent == b && ps->n &&
			bsearch(&h, ps->hash, ps->n, sizeof(h), hash_cmp) != NULL;
	pthread_mutex_unlock(&m->pending_lock);
	return found;
}

bool bfsd_pending_node(struct bfsd_mount *m, struct bfsd_node *n)
{
	struct bfsd_branch *b;
	char path[PATH_MAX];

	if (!atomic_load(&m->npending) || bfsd_node_target(m, n, &b, path))
		return false;
	return bfsd_pending(m, b, path);
}
