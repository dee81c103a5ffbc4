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
 * them is dropped (entries and attributes invalidated, with no lock of
 * ours held, so what the kernel waits for can finish); until the commit
 * has applied, every answer about a pending path carries a zero timeout,
 * so nothing about it is cached again.  After that, what the kernel asks
 * for is the new state.
 *
 * Locks: pending_mutex serialises commits from bfsd_pending_begin to
 * bfsd_pending_end; pending_lock (leaf) guards the set, which
 * pending_branch (NULL when no commit is pending) gives a lock-free test.
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

/* path and every directory above it, up to the view's root (""). */
static int add_with_parents(struct bfsd_mount *m, const char *path, size_t *cap)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (;;) {
		char *slash;

		if (m->pending_n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			uint64_t *n = realloc(m->pending_hash, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			m->pending_hash = n;
			*cap = ncap;
		}
		m->pending_hash[m->pending_n++] = path_hash(dir);
		if (!dir[0])
			return 0;
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
	}
}

/* The kernel's entry and attributes of (p, path), in both views. */
static void uncache(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_branch *p,
		    const char *path)
{
	char parent[PATH_MAX];
	const char *name = path[0] ? bfsd_path_split(path, parent) : NULL;

	for (int via_root = 0; via_root < 2; via_root++) {
		struct bfsd_node *n = bfsd_node_walk(m, p, via_root, path);

		if (n)
			bfsd_inval_inode(iv, bfsd_node_id(m, n), -1, 0);
		if (!name)
			continue;
		n = bfsd_node_walk(m, p, via_root, parent);
		if (!n)
			continue;
		/* A full invalidation: it waits for lookups in flight, so none
		 * answered before the mark can cache its answer after it. */
		bfsd_inval_entry(iv, bfsd_node_id(m, n), name);
		bfsd_inval_inode(iv, bfsd_node_id(m, n), -1, 0);
	}
}

/* Mark what committing b changes, and collect the invalidations for it;
 * tree_lock held shared. */
static int mark(struct bfsd_mount *m, struct bfsd_branch *b, struct bfsd_inval *iv)
{
	struct bfsd_oplist ops = { 0 };
	size_t cap = 0;
	int ret;

	if (b == m->fs->main || !b->parent || b->dead || b->parent_gen != b->parent->gen)
		return 0; /* it will not apply */
	bfsd_lock_ns(m->fs, b, false);
	ret = bfsd_commit_plan(m->fs, b, &ops);
	bfsd_unlock_ns(m->fs, b);
	if (ret)
		return ret;
	pthread_mutex_lock(&m->pending_lock);
	for (size_t i = 0; !ret && i < ops.n; i++) {
		const struct bfsd_op *op = &ops.op[i];

		ret = add_with_parents(m, op->kind == BFSD_OP_STAGE_OUT ? op->src : op->dst, &cap);
	}
	if (!ret) {
		qsort(m->pending_hash, m->pending_n, sizeof(*m->pending_hash), hash_cmp);
		atomic_store(&m->pending_branch, b->parent);
	}
	pthread_mutex_unlock(&m->pending_lock);
	for (size_t i = 0; !ret && i < ops.n; i++) {
		const struct bfsd_op *op = &ops.op[i];

		uncache(m, iv, b->parent, op->kind == BFSD_OP_STAGE_OUT ? op->src : op->dst);
	}
	bfsd_oplist_free(&ops);
	return ret;
}

void bfsd_pending_begin(struct bfsd_mount *m, struct bfsd_branch *b)
{
	struct bfsd_inval iv = { 0 };
	int ret;

	pthread_mutex_lock(&m->pending_mutex);
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = mark(m, b, &iv);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret)
		bfsd_dbg("commit of '%s': readers may see it arrive name by name: %s", b->name,
			 bfsd_strerror(-ret));
	bfsd_inval_send(m, &iv);
}

void bfsd_pending_end(struct bfsd_mount *m)
{
	pthread_mutex_lock(&m->pending_lock);
	atomic_store(&m->pending_branch, NULL);
	free(m->pending_hash);
	m->pending_hash = NULL;
	m->pending_n = 0;
	pthread_mutex_unlock(&m->pending_lock);
	pthread_mutex_unlock(&m->pending_mutex);
}

bool bfsd_pending(struct bfsd_mount *m, struct bfsd_branch *b, const char *path)
{
	uint64_t h;
	bool found;

	if (!b || atomic_load(&m->pending_branch) != b)
		return false;
	h = path_hash(path);
	pthread_mutex_lock(&m->pending_lock);
	found = m->pending_n &&
		bsearch(&h, m->pending_hash, m->pending_n, sizeof(h), hash_cmp) != NULL;
	pthread_mutex_unlock(&m->pending_lock);
	return found;
}

bool bfsd_pending_node(struct bfsd_mount *m, struct bfsd_node *n)
{
	struct bfsd_branch *b;
	char path[PATH_MAX];

	if (!atomic_load(&m->pending_branch) || bfsd_node_target(m, n, &b, path))
		return false;
	return bfsd_pending(m, b, path);
}
