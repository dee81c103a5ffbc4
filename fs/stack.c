/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer stacks: which layers a branch sees, top first.
 *
 * A branch's stack is its explicit layers (its own, then those inherited
 * from its ancestors, frozen), then main's preservation layers from the
 * branch's epoch to the newest, then the base.  Main's stack is the base
 * alone.  The preservation part is not copied into each branch: a new epoch
 * appends one layer to fs->pres and every branch sees it at once.
 *
 * Callers hold fs->tree_lock (shared is enough).
 */
#include "bfsd.h"

static size_t chain_len(const struct bfsd_fs *fs, const struct bfsd_branch *b)
{
	if (b == fs->main)
		return 0;
	return fs->npres - (size_t)(b->epoch - fs->pres_first);
}

int bfsd_stack_count(const struct bfsd_fs *fs, const struct bfsd_branch *b)
{
	return b->nlayers + (int)chain_len(fs, b) + 1;
}

struct bfsd_layer *bfsd_stack_at(const struct bfsd_fs *fs, const struct bfsd_branch *b, int idx)
{
	size_t chain;

	if (idx < b->nlayers)
		return b->layers[idx];
	idx -= b->nlayers;
	chain = chain_len(fs, b);
	if ((size_t)idx < chain)
		return fs->pres[b->epoch - fs->pres_first + idx];
	return fs->base;
}

struct bfsd_layer *bfsd_branch_top(const struct bfsd_fs *fs, const struct bfsd_branch *b)
{
	return b->nlayers ? b->layers[0] : fs->base;
}
