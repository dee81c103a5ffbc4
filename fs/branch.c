/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The branch tree: creation, lookup by name, abort, discard and the
 * generation rules.
 *
 * Creating a child of P costs O(1) in the size of the base and of P's
 * changes: P's top layer is frozen (shared, read-only) when P has written to
 * it, P gets a fresh top, and the child gets its own empty top over the
 * frozen layers.  A child of main instead sees main's preservation chain from
 * the current epoch.  A branch is stale when its parent's generation moved
 * since its creation; only its commit is refused.
 *
 * Callers hold fs->tree_lock exclusive for every change here.
 */
#include "bfsd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BHASH_CAP 1024

struct bfsd_branch *bfsd_branch_get(struct bfsd_branch *b)
{
	if (b)
		atomic_fetch_add(&b->refs, 1);
	return b;
}

void bfsd_branch_put(struct bfsd_branch *b)
{
	if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	for (int i = 0; i < b->nlayers; i++)
		bfsd_layer_put(b->layers[i]);
	free(b->layers);
	bfsd_cache_free(b);
	bfsd_links_moves_free(b);
	pthread_mutex_destroy(&b->moves_lock);
	pthread_rwlock_destroy(&b->ns_lock);
	pthread_rwlock_destroy(&b->write_gate);
	free(b->name);
	free(b);
}

int bfsd_branch_alloc(struct bfsd_fs *fs, uint64_t id, const char *name, struct bfsd_branch **out)
{
	struct bfsd_branch *b = calloc(1, sizeof(*b));

	(void)fs;
	if (!b)
		return -ENOMEM;
	b->name = strdup(name);
	if (!b->name) {
		free(b);
		return -ENOMEM;
	}
	b->id = id;
	atomic_init(&b->refs, 1);
	pthread_rwlock_init(&b->ns_lock, NULL);
	pthread_rwlock_init(&b->write_gate, NULL);
	pthread_mutex_init(&b->moves_lock, NULL);
	bfsd_cache_init(b);
	*out = b;
	return 0;
}

static size_t name_slot(const char *name)
{
	return bfsd_hash(name, strlen(name)) & (BHASH_CAP - 1);
}

void bfsd_branch_link(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	size_t slot = name_slot(b->name);

	if (!fs->bhash)
		fs->bhash = calloc(BHASH_CAP, sizeof(*fs->bhash));
	b->hnext = fs->bhash[slot];
	fs->bhash[slot] = b;
	if (b->parent) {
		/* Append, so children stay in creation order. */
		struct bfsd_branch **pp = &b->parent->children;

		while (*pp)
			pp = &(*pp)->sibling;
		*pp = b;
	}
	fs->nbranches += b != fs->main;
}

static void branch_unlink(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	struct bfsd_branch **pp = &fs->bhash[name_slot(b->name)];

	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
	if (b->parent) {
		pp = &b->parent->children;
		while (*pp && *pp != b)
			pp = &(*pp)->sibling;
		if (*pp)
			*pp = b->sibling;
	}
	fs->nbranches--;
}

struct bfsd_branch *bfsd_branch_find(struct bfsd_fs *fs, const char *name)
{
	struct bfsd_branch *b;

	if (!fs->bhash)
		return NULL;
	for (b = fs->bhash[name_slot(name)]; b; b = b->hnext)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

static struct bfsd_branch *find_id_below(struct bfsd_branch *b, uint64_t id)
{
	for (; b; b = b->sibling) {
		struct bfsd_branch *found;

		if (b->id == id)
			return b;
		found = find_id_below(b->children, id);
		if (found)
			return found;
	}
	return NULL;
}

struct bfsd_branch *bfsd_branch_find_id(struct bfsd_fs *fs, uint64_t id)
{
	return find_id_below(fs->main, id);
}

bool bfsd_branch_is_stale(const struct bfsd_branch *b)
{
	return b->parent && b->parent_gen != b->parent->gen;
}

int bfsd_branch_count(const struct bfsd_fs *fs)
{
	return fs->nbranches;
}

static void each_below(struct bfsd_branch *b, void (*fn)(struct bfsd_branch *, void *), void *arg)
{
	for (; b; b = b->sibling) {
		struct bfsd_branch *children = b->children;

		fn(b, arg);
		each_below(children, fn, arg);
	}
}

void bfsd_branch_each(struct bfsd_fs *fs, void (*fn)(struct bfsd_branch *, void *), void *arg)
{
	each_below(fs->main->children, fn, arg);
}

/*
 * Freeze p's top (when p wrote to it): p gets a fresh top layer.  *frozen
 * says whether it did, for thaw_top to undo it when the creation fails
 * later: p's new stack is only in memory until the creation's log record
 * names it, and a crash would send a top the log never named, with every
 * write p made to it, to the trash.
 */
static int freeze_top(struct bfsd_fs *fs, struct bfsd_branch *p, bool *frozen)
{
	struct bfsd_layer **layers, *top;
	int ret;

	*frozen = false;
	if (!atomic_load(&p->layers[0]->dirty))
		return 0;
	layers = malloc((p->nlayers + 1) * sizeof(*layers));
	if (!layers)
		return -ENOMEM;
	/* The root's attributes stay in the old top until p changes
	 * something again (bfsd_copyup_root). */
	ret = bfsd_layer_create(fs, BFSD_LAYER_DELTA, &top);
	if (ret) {
		free(layers);
		return ret;
	}
	layers[0] = top;
	memcpy(layers + 1, p->layers, p->nlayers * sizeof(*layers));
	pthread_rwlock_wrlock(&p->write_gate);
	free(p->layers);
	p->layers = layers;
	p->nlayers++;
	p->nown++;
	atomic_fetch_add(&p->write_epoch, 1);
	pthread_rwlock_unlock(&p->write_gate);
	bfsd_cache_flush(p);
	*frozen = true;
	atomic_store(&fs->fold_wanted, true);
	return 0;
}

/*
 * Undo freeze_top: the old top is p's top again.  Nothing was written to
 * the fresh one (tree_lock is held exclusive throughout, and every writer
 * must take it shared to catch up with the new write epoch).
 */
static void thaw_top(struct bfsd_branch *p)
{
	struct bfsd_layer *top = p->layers[0];

	pthread_rwlock_wrlock(&p->write_gate);
	memmove(p->layers, p->layers + 1, (p->nlayers - 1) * sizeof(*p->layers));
	p->nlayers--;
	p->nown--;
	atomic_fetch_add(&p->write_epoch, 1);
	pthread_rwlock_unlock(&p->write_gate);
	bfsd_cache_flush(p);
	bfsd_layer_put(top);
}

static int name_for(struct bfsd_fs *fs, const char *name, char *out)
{
	char uuid[37];
	int ret;

	if (!name) {
		ret = bfsd_uuid(uuid);
		if (ret)
			return ret;
		strcpy(out, "branch-");
		strcat(out, uuid);
		return 0;
	}
	if (bfsd_branch_name_valid(name) || !strcmp(name, BFSD_MAIN))
		return -EINVAL;
	if (bfsd_branch_find(fs, name))
		return -EEXIST;
	strcpy(out, name);
	return 0;
}

/* The child's stack: its top, then every layer of p but p's writable top. */
static int child_stack(struct bfsd_fs *fs, struct bfsd_branch *p, struct bfsd_branch *c)
{
	int inherit = p == fs->main ? 0 : p->nlayers - 1;
	struct bfsd_layer *top;
	int ret;

	c->layers = calloc(inherit + 1, sizeof(*c->layers));
	if (!c->layers)
		return -ENOMEM;
	ret = bfsd_layer_create(fs, BFSD_LAYER_DELTA, &top);
	if (ret)
		return ret;
	c->layers[0] = top;
	for (int i = 0; i < inherit; i++)
		c->layers[i + 1] = bfsd_layer_get(p->layers[i + 1]);
	c->nlayers = inherit + 1;
	c->nown = 1;
	/* The view's root takes its attributes from the layer below until
	 * the child changes something (bfsd_copyup_root). */
	return 0;
}

int bfsd_branch_create(struct bfsd_fs *fs, struct bfsd_branch *parent, const char *name,
		       char *name_out)
{
	char chosen[BFSD_NAME_MAX + 1];
	struct bfsd_branch *c;
	bool frozen = false, made = false;
	int ret;

	if (parent->dead)
		return -ENOENT;
	ret = name_for(fs, name, chosen);
	if (ret)
		return ret;
	if (parent == fs->main) {
		uint64_t epoch;

		pthread_rwlock_wrlock(&parent->write_gate);
		ret = bfsd_epoch_snapshot(fs, &epoch, &made);
		pthread_rwlock_unlock(&parent->write_gate);
		if (ret)
			return ret;
		ret = bfsd_branch_alloc(fs, fs->next_branch_id, chosen, &c);
		if (ret)
			goto out_thaw;
		c->epoch = epoch;
	} else {
		ret = freeze_top(fs, parent, &frozen);
		if (ret)
			return ret;
		ret = bfsd_branch_alloc(fs, fs->next_branch_id, chosen, &c);
		if (ret)
			goto out_thaw;
		c->epoch = parent->epoch;
	}
	fs->next_branch_id++;
	c->parent = parent;
	c->parent_gen = parent->gen;
	c->created_ns = bfsd_now_ns();
	ret = child_stack(fs, parent, c);
	if (ret)
		goto out_free;
	bfsd_branch_link(fs, c);
	bfsd_fault_point(fs, "create-layered");
	/* One record names the parent's new stack and the child together. */
	ret = bfsd_fault_fail(fs, "create-logging");
	if (!ret)
		ret = bfsd_store_save_create(fs, parent, c);
	if (ret) {
		branch_unlink(fs, c);
		goto out_free;
	}
	if (name_out)
		strcpy(name_out, chosen);
	return 0;

out_free:
	bfsd_branch_put(c);
out_thaw:
	/* Like the parent's fresh top, a new preservation layer is named by
	 * no log record yet: main's writes must not go into it. */
	if (frozen)
		thaw_top(parent);
	if (made)
		bfsd_epoch_unsnapshot(fs);
	return ret;
}

void bfsd_branch_discard(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	while (b->children)
		bfsd_branch_discard(fs, b->children);
	branch_unlink(fs, b);
	b->dead = true;
	if (fs->current == b)
		fs->current = b->parent;
	bfsd_store_save_gone(fs, b);
	atomic_store(&fs->fold_wanted, true);
	/*
	 * No request runs (tree_lock is exclusive) and every later one checks
	 * b->dead, so the layers can go now; open files keep their own
	 * descriptors and read on until closed.
	 */
	bfsd_cache_discard(fs, b);
	for (int i = 0; i < b->nlayers; i++)
		bfsd_layer_put(b->layers[i]);
	b->nlayers = 0;
	b->nown = 0;
	bfsd_branch_put(b);
}

/*
 * A stale child can never commit, so it goes; but one with children of its
 * own stays: those are live branches (they can still commit into it), and
 * no branch is ever destroyed implicitly.  It blocks like a live child.
 */
int bfsd_branch_prune_children(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	struct bfsd_branch *c = b->children, *next;

	for (; c; c = next) {
		next = c->sibling;
		if (bfsd_branch_is_stale(c) && !c->children)
			bfsd_branch_discard(fs, c);
	}
	return b->children ? -ENOTEMPTY : 0;
}

int bfsd_branch_abort(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	int ret;

	if (b == fs->main)
		return -EPERM;
	if (b->dead)
		return -ENOENT;
	ret = bfsd_branch_prune_children(fs, b);
	if (ret)
		return ret;
	/* Its record carries the fs line too; a release of epochs writes
	 * its own. */
	bfsd_branch_discard(fs, b);
	bfsd_epoch_release(fs);
	return 0;
}
