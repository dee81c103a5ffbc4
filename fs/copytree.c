/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tree copies: a directory as a branch's stack shows it, rebuilt object by
 * object in a layer or in the base, for a commit that moves a directory
 * whose contents lie in layers it cannot take them from whole.
 *
 * A file with several names in the tree is copied once; its other names
 * become links to that copy (a pair in the tree lands as a pair).  The
 * copies made so far are found by (dev, ino) in an open-addressed table,
 * so a tree of many linked files costs one look-up per name.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tree_linked {
	dev_t dev;
	ino_t ino;
	char *dphys; /* NULL: a free slot */
};

/* A tree copy: where it goes and the linked files copied so far. */
struct tree_copy {
	struct bfsd_fs *fs;
	struct bfsd_branch *b;
	int start;
	struct bfsd_layer *dstl;
	struct tree_linked *linked; /* nslots entries, a power of two */
	size_t n, nslots;
};

static size_t linked_slot(const struct tree_copy *tc, dev_t dev, ino_t ino)
{
	uint64_t h =
		((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)dev * 0xc2b2ae3d27d4eb4full);
	size_t i = (size_t)(h >> 17) & (tc->nslots - 1);

	while (tc->linked[i].dphys && !(tc->linked[i].dev == dev && tc->linked[i].ino == ino))
		i = (i + 1) & (tc->nslots - 1);
	return i;
}

/* The copy of (dev, ino) made earlier in this tree, or NULL. */
static const char *tree_linked_find(const struct tree_copy *tc, const struct stat *st)
{
	return tc->nslots ? tc->linked[linked_slot(tc, st->st_dev, st->st_ino)].dphys : NULL;
}

static int tree_linked_grow(struct tree_copy *tc)
{
	struct tree_copy old = *tc;

	tc->nslots = old.nslots ? old.nslots * 2 : 64;
	tc->linked = calloc(tc->nslots, sizeof(*tc->linked));
	if (!tc->linked) {
		*tc = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.nslots; i++)
		if (old.linked[i].dphys)
			tc->linked[linked_slot(tc, old.linked[i].dev, old.linked[i].ino)] =
				old.linked[i];
	free(old.linked);
	return 0;
}

/* Remember dphys as the copy of st's file; without memory, the next name
 * of it is copied instead. */
static void tree_linked_add(struct tree_copy *tc, const struct stat *st, const char *dphys)
{
	struct tree_linked *e;

	if ((tc->n + 1) * 2 > tc->nslots && tree_linked_grow(tc))
		return;
	e = &tc->linked[linked_slot(tc, st->st_dev, st->st_ino)];
	e->dphys = strdup(dphys);
	if (e->dphys) {
		e->dev = st->st_dev;
		e->ino = st->st_ino;
		tc->n++;
	}
}

static int copy_children(struct tree_copy *tc, const struct bfsd_res *r, const char *dphys);

static int copy_tree_at(struct tree_copy *tc, const char *path, const char *dphys)
{
	struct bfsd_res *r;
	const struct bfsd_loc *src;
	const char *first = NULL;
	bool linked = false;
	struct stat st;
	int ret = bfsd_resolve_from(tc->fs, tc->b, tc->start, path, &r);

	if (ret)
		return ret;
	if (!r->type) {
		bfsd_res_put(r);
		return -ENOENT;
	}
	src = &r->loc[r->attr];
	linked = r->type == S_IFREG && !bfsd_layer_lstat(src->layer, src->phys, &st) &&
		 st.st_nlink > 1;
	if (linked)
		first = tree_linked_find(tc, &st);
	if (first) {
		ret = linkat(tc->dstl->dirfd, first, tc->dstl->dirfd, dphys, 0) < 0 ? -errno : 0;
		goto out_put;
	}
	ret = bfsd_copy_object_as(tc->fs, src->layer, src->phys, tc->dstl, dphys, true,
				  bfsd_layer_is_storage(tc->dstl) ? r->vino : 0, r->type);
	if (!ret && linked)
		tree_linked_add(tc, &st, dphys);
	if (!ret && r->type == S_IFDIR)
		ret = copy_children(tc, r, dphys);
out_put:
	bfsd_res_put(r);
	return ret;
}

/* Fill the new directory dphys with the children of dir r (sub-stack view). */
static int copy_children(struct tree_copy *tc, const struct bfsd_res *r, const char *dphys)
{
	char cpath[PATH_MAX], cdst[PATH_MAX];
	struct bfsd_dirlist list = { 0 };
	struct bfsd_at at;
	struct stat st;
	int ret;

	ret = bfsd_dir_list(tc->fs, tc->b, r, INT_MAX, 0, &list);
	for (size_t i = 0; !ret && i < list.n; i++) {
		ret = bfsd_path_join(cpath, r->path, list.e[i].name);
		if (!ret)
			ret = bfsd_path_join(cdst, dphys, list.e[i].name);
		if (!ret)
			ret = copy_tree_at(tc, cpath, cdst);
	}
	bfsd_dirlist_free(&list);
	/* Adding children moved the directory's times: put them back. */
	if (!ret && !bfsd_res_stat(r, &st) && !bfsd_at_open(tc->dstl, dphys, &at)) {
		struct timespec ts[2] = { st.st_atim, st.st_mtim };

		utimensat(at.fd, at.name, ts, AT_SYMLINK_NOFOLLOW);
		bfsd_at_close(&at);
	}
	return ret;
}

/* Copy the tree at path of (b, start) to dstl/dphys. */
static int copy_tree(struct bfsd_fs *fs, struct bfsd_branch *b, int start, const char *path,
		     struct bfsd_layer *dstl, const char *dphys)
{
	struct tree_copy tc = { .fs = fs, .b = b, .start = start, .dstl = dstl };
	int ret = copy_tree_at(&tc, path, dphys);

	for (size_t i = 0; i < tc.nslots; i++)
		free(tc.linked[i].dphys);
	free(tc.linked);
	return ret;
}

int bfsd_copy_tree(struct bfsd_fs *fs, struct bfsd_branch *b, int start, const char *path,
		   struct bfsd_layer *dstl, const char *dphys)
{
	char tmp[NAME_MAX + 1];
	int ret;

	/* The base: the caller names a temporary destination and retries. */
	if (!bfsd_layer_is_storage(dstl)) {
		struct bfsd_at at;

		ret = bfsd_at_open(dstl, dphys, &at);
		if (ret)
			return ret;
		bfsd_rm_rf_at(at.fd, at.name);
		bfsd_at_close(&at);
		return copy_tree(fs, b, start, path, dstl, dphys);
	}
	/* Storage: build in the work directory, rename the finished tree in. */
	bfsd_fs_tmpname(fs, tmp);
	ret = copy_tree(fs, b, start, path, fs->work, tmp);
	if (!ret)
		ret = bfsd_layer_rename_in(fs->work_fd, tmp, dstl, dphys);
	if (ret)
		bfsd_rm_rf_at(fs->work_fd, tmp);
	else
		atomic_store(&dstl->dirty, true);
	return ret;
}
