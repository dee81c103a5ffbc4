/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Renames in a diff, found after the walk (diff.c).
 *
 * A renamed directory has a redirect marker, so the walk reports it as
 * renamed; its old name's whiteout is a deletion folded into the rename.  A
 * renamed non-directory is a copy at its new name whose origin marker holds
 * the raw number of the object it came from, plus a whiteout at its old
 * name: the walk reports an addition and a deletion, each with that number
 * (struct bfs_diff_ident), and they are paired here.  Only those two kinds
 * of entries are looked at, so a copy (a new object, no origin) is never
 * taken for a rename.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bfs__diff_entry_free(struct bfs_diff_entry *e)
{
	free((char *)e->path);
	free((char *)e->old_path);
}

void bfs__diff_idents_free(struct bfs_diff *d)
{
	for (size_t i = 0; d->id && i < d->n; i++)
		free(d->id[i].ppath);
	free(d->id);
	d->id = NULL;
}

/* Deleted entries by raw number, then path: the first free one of several
 * hard links of one file is taken, the same every time. */
static int cmp_deleted(const void *a, const void *b, void *ctx)
{
	const struct bfs_diff *d = ctx;
	const struct bfs_diff_ident *x = &d->id[*(const size_t *)a],
				    *y = &d->id[*(const size_t *)b];

	if (x->raw != y->raw)
		return x->raw < y->raw ? -1 : 1;
	return strcmp(x->ppath, y->ppath);
}

/* The first deleted entry (in del[0, n), sorted) of number raw and type t
 * not used yet, or n. */
static size_t find_deleted(const struct bfs_diff *d, const size_t *del, const bool *used, size_t n,
			   uint64_t raw, enum bfs_file_type t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->id[del[mid]].raw < raw)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && d->id[del[lo]].raw == raw; lo++)
		if (!used[lo] && d->e[del[lo]].type == t)
			return lo;
	return n;
}

/* An added file that is a copy of a deleted one was renamed from it. */
int bfs__diff_pair_renames(struct bfs_diff *d)
{
	size_t ndel = 0, out = 0, *del = malloc((d->n ? d->n : 1) * sizeof(*del));
	bool *used = calloc(d->n ? d->n : 1, sizeof(*used)),
	     *gone = calloc(d->n ? d->n : 1, sizeof(*gone));
	int ret = 0;

	if (!del || !used || !gone) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->e[i].change == BFS_CHANGE_DELETED && d->id[i].known)
			del[ndel++] = i;
	qsort_r(del, ndel, sizeof(*del), cmp_deleted, d);
	for (size_t i = 0; i < d->n && ndel; i++) {
		struct bfs_diff_entry *e = &d->e[i];
		size_t k;

		if (e->change != BFS_CHANGE_ADDED || !d->id[i].known)
			continue;
		k = find_deleted(d, del, used, ndel, d->id[i].raw, e->type);
		if (k == ndel)
			continue;
		e->old_path = strdup(d->id[del[k]].ppath);
		if (!e->old_path) {
			ret = -ENOMEM;
			goto out_free;
		}
		e->change = BFS_CHANGE_RENAMED;
		used[k] = true;
		gone[del[k]] = true;
	}
	for (size_t i = 0; i < d->n; i++) {
		if (gone[i]) {
			bfs__diff_entry_free(&d->e[i]);
			free(d->id[i].ppath);
			continue;
		}
		d->id[out] = d->id[i];
		d->e[out++] = d->e[i];
	}
	d->n = out;
out_free:
	free(gone);
	free(used);
	free(del);
	return ret;
}

static int cmp_ptr_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A renamed directory's old name is deleted as well: keep only the rename. */
int bfs__diff_fold_renames(struct bfs_diff *d)
{
	/* The old names belong to the rename entries, which stay. */
	const char **old = malloc((d->n ? d->n : 1) * sizeof(*old));
	size_t out = 0, n = 0;

	if (!old)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++)
		if (d->e[i].change == BFS_CHANGE_RENAMED)
			old[n++] = d->e[i].old_path;
	qsort(old, n, sizeof(*old), cmp_ptr_str);
	for (size_t i = 0; i < d->n; i++) {
		const char *path = d->e[i].path;
		bool folded = n && d->e[i].change == BFS_CHANGE_DELETED &&
			      bsearch(&path, old, n, sizeof(*old), cmp_ptr_str);

		if (folded) {
			bfs__diff_entry_free(&d->e[i]);
			free(d->id[i].ppath);
			continue;
		}
		d->id[out] = d->id[i];
		d->e[out++] = d->e[i];
	}
	d->n = out;
	free(old);
	return 0;
}
