/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rename in a view, with RENAME_NOREPLACE and RENAME_EXCHANGE.
 *
 * Main renames in the base after preserving both names.  A branch renames in
 * its top layer: a non-directory is copied up straight to its new name; a
 * directory is renamed (or, when only lower layers have it, created as an
 * empty copy) and marked with a redirect to its old logical path in the
 * layers below, so its lower content follows it without being copied.  A
 * directory with nothing below is marked opaque instead when the new name
 * has something below.  The markers are set before the directory reaches
 * its new name (a lower-only one is built in the work area and placed by
 * one rename), so it never shows there without its lower content.  The old
 * name gets a whiteout if a lower layer still has it.  The new name is
 * placed before the old one is hidden, so a crash in between can duplicate
 * an object but never lose it.
 *
 * Locks as in view.c.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE	 (1 << 1)
#endif

/* Has the directory r anything in the layers below the top? */
static bool has_lower(const struct bfsd_res *r)
{
	for (int i = 0; i < r->nloc; i++)
		if (r->loc[i].idx > 0)
			return true;
	return false;
}

/* Are from and to two names of the same (non-directory) file? */
static bool same_file(const struct bfsd_res *from, const struct bfsd_res *to)
{
	struct stat a, b;

	return from->type && to->type && from->type != S_IFDIR && to->type != S_IFDIR &&
	       !bfsd_res_stat(from, &a) && !bfsd_res_stat(to, &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int check_names(const struct bfsd_res *from, const struct bfsd_res *to, unsigned int flags,
		       struct bfsd_fs *fs, struct bfsd_branch *b)
{
	int ret;

	if (flags & RENAME_EXCHANGE)
		return to->type ? 0 : -ENOENT;
	if (!to->type)
		return 0;
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (from->type == S_IFDIR && to->type != S_IFDIR)
		return -ENOTDIR;
	if (from->type != S_IFDIR && to->type == S_IFDIR)
		return -EISDIR;
	if (to->type == S_IFDIR) {
		ret = bfsd_view_dir_empty(fs, b, to);
		if (ret <= 0)
			return ret ? ret : -ENOTEMPTY;
	}
	return 0;
}

static int main_rename(struct bfsd_fs *fs, const struct bfsd_res *from, const struct bfsd_res *to,
		       unsigned int flags)
{
	struct bfsd_at af, at = { .owned = false };
	struct stat fst, tst = { 0 };
	bool known = !bfsd_res_stat(from, &fst) && (!to->type || !bfsd_res_stat(to, &tst));
	int ret;

	ret = bfsd_preserve(fs, from->path, BFSD_CH_MOVE);
	if (ret >= 0)
		ret = bfsd_preserve(fs, to->path,
				    (flags & RENAME_EXCHANGE) ? BFSD_CH_MOVE : BFSD_CH_CREATE);
	if (ret < 0)
		return ret;
	ret = bfsd_at_open(fs->base, from->path, &af);
	if (!ret)
		ret = bfsd_at_open(fs->base, to->path, &at);
	/* A replaced object may already be in the preservation layer: fine. */
	if (!ret && renameat2(af.fd, af.name, at.fd, at.name, flags) < 0)
		ret = -errno;
	bfsd_at_close(&at);
	bfsd_at_close(&af);
	if (!ret)
		bfsd_links_rename(fs, from->path, to->path, flags & RENAME_EXCHANGE,
				  known ? &fst : NULL, known ? &tst : NULL);
	return ret;
}

/*
 * Set on l/phys the markers that the directory from r needs at path in b.
 * Set before the directory reaches path: it never shows there without its
 * lower content.  At its old place they change nothing (a redirect to its
 * own lower path; opaque where nothing is below).
 */
static int mark_moved_dir(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r,
			  struct bfsd_layer *l, const char *phys, const char *path)
{
	static const char one = '1';
	const char *low = bfsd_res_lowpath(r);
	int ret;

	if (has_lower(r))
		return bfsd_marker_set(l, phys, "redirect", low, strlen(low));
	ret = bfsd_marker_del(l, phys, "redirect");
	if (!ret && bfsd_view_need_whiteout(fs, b, path))
		ret = bfsd_marker_set(l, phys, "opaque", &one, 1);
	return ret;
}

/*
 * A directory only the layers below have moves as an empty copy carrying
 * its markers, built in the work area and put at to by one rename: a crash
 * leaves it either not there or whole.
 */
static int place_lower_dir(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *from,
			   const char *to)
{
	char tmp[NAME_MAX + 1];
	int ret;

	bfsd_fs_tmpname(fs, tmp);
	ret = bfsd_copy_object_as(fs, from->loc[0].layer, from->loc[0].phys, fs->work, tmp, false,
				  from->vino, S_IFDIR);
	if (ret)
		return ret;
	ret = mark_moved_dir(fs, b, from, fs->work, tmp, to);
	if (!ret)
		ret = bfsd_layer_rename_in(fs->work->dirfd, tmp, b->layers[0], to);
	if (ret)
		bfsd_rm_rf_at(fs->work->dirfd, tmp);
	return ret;
}

/* Put the object of from at to in the top layer (to is free or replaced). */
static int place(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *from,
		 const char *to)
{
	struct bfsd_layer *top = b->layers[0];
	struct stat st;
	int ret;

	if (bfsd_res_in_top(fs, b, from)) {
		if (from->type == S_IFDIR) {
			ret = mark_moved_dir(fs, b, from, top, from->path, to);
			if (ret)
				return ret;
		}
		return bfsd_layer_rename_in(top->dirfd, from->path, top, to);
	}
	/* Only below: copy it up straight to its new name. */
	ret = bfsd_layer_lstat(from->loc[0].layer, from->loc[0].phys, &st);
	if (!ret && from->type == S_IFDIR)
		ret = place_lower_dir(fs, b, from, to);
	else if (!ret)
		ret = bfsd_copy_object_as(fs, from->loc[0].layer, from->loc[0].phys, top, to, true,
					  from->vino, from->type);
	if (ret == -ENOENT || ret == -ENOTDIR)
		bfsd_cache_flush(b); /* the base changed behind our back */
	if (ret)
		return ret;
	if (S_ISREG(st.st_mode))
		bfsd_files_retarget(fs, b, st.st_dev, st.st_ino, top, to);
	return 0;
}

static int branch_exchange(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *from,
			   const struct bfsd_res *to)
{
	struct bfsd_layer *top = b->layers[0];
	int ret;

	ret = bfsd_copyup(fs, b, from->path, true);
	if (!ret)
		ret = bfsd_copyup(fs, b, to->path, true);
	/* Each directory keeps its lower content under its new name. */
	if (!ret && from->type == S_IFDIR)
		ret = mark_moved_dir(fs, b, from, top, from->path, to->path);
	if (!ret && to->type == S_IFDIR)
		ret = mark_moved_dir(fs, b, to, top, to->path, from->path);
	if (ret)
		return ret;
	if (renameat2(top->dirfd, from->path, top->dirfd, to->path, RENAME_EXCHANGE) < 0)
		return -errno;
	return 0;
}

static int branch_rename(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *from,
			 const struct bfsd_res *to)
{
	struct bfsd_layer *top = b->layers[0];
	bool need_wh;
	int ret;

	ret = bfsd_copyup_parents(fs, b, to->path);
	if (ret)
		return ret;
	/* The replaced directory is empty to users but may hold whiteouts. */
	if (to->type == S_IFDIR && bfsd_res_in_top(fs, b, to)) {
		char tmp[NAME_MAX + 1];

		bfsd_fs_tmpname(fs, tmp);
		if (renameat(top->dirfd, to->path, fs->trash_fd, tmp) < 0 && errno != ENOENT)
			return -errno;
		if (bfsd_quota_on(fs))
			bfsd_quota_charge(fs, top, -bfsd_quota_tree_bytes(fs->trash_fd, tmp));
		bfsd_store_wake_reclaimer(fs);
	}
	need_wh = bfsd_view_need_whiteout(fs, b, from->path);
	ret = place(fs, b, from, to->path);
	/* The old name's whiteout needs its directories in the top too. */
	if (!ret && need_wh)
		ret = bfsd_copyup_parents(fs, b, from->path);
	if (!ret && need_wh)
		ret = bfsd_marker_whiteout_make(top, from->path);
	atomic_store(&top->dirty, true);
	return ret;
}

/*
 * One name of a lower file with others, about to move or be replaced in
 * branch b: bring the file up with all its names first (as an unlink
 * does), so a moved name stays a link of the others' copy, not a copy of
 * its own, and the names a replaced one leaves count one link fewer.  *r
 * is resolved again.
 */
static int up_with_names(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			 struct bfsd_res **r)
{
	struct stat st;
	int ret;

	if ((*r)->type != S_IFREG || bfsd_res_in_top(fs, b, *r) || bfsd_res_stat(*r, &st) ||
	    st.st_nlink < 2)
		return 0;
	ret = bfsd_copyup(fs, b, path, true);
	if (ret)
		return ret;
	bfsd_res_put(*r);
	*r = NULL;
	return bfsd_resolve_existing(fs, b, path, r);
}

int bfsd_view_rename(struct bfsd_fs *fs, struct bfsd_branch *b, const char *from, const char *to,
		     unsigned int flags)
{
	struct bfsd_res *rf = NULL, *rt = NULL, *parent = NULL;
	int ret;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (!from[0] || !to[0])
		return -EBUSY;
	ret = bfsd_resolve_existing(fs, b, from, &rf);
	if (!ret)
		ret = bfsd_view_parent(fs, b, to, &parent);
	if (!ret)
		ret = bfsd_resolve(fs, b, to, &rt);
	if (ret)
		goto out_put;
	if (!strcmp(from, to))
		goto out_put;
	/* A directory cannot move below itself, nor its ancestor onto it. */
	if ((rf->type == S_IFDIR && bfsd_path_within(to, from)) ||
	    (rt->type == S_IFDIR && bfsd_path_within(from, to))) {
		ret = -EINVAL;
		goto out_put;
	}
	ret = check_names(rf, rt, flags, fs, b);
	if (ret || same_file(rf, rt))
		goto out_put; /* two names of one file: rename does nothing */
	if (b == fs->main) {
		ret = main_rename(fs, rf, rt, flags);
	} else if (flags & RENAME_EXCHANGE) {
		ret = branch_exchange(fs, b, rf, rt);
	} else {
		/* The name moved, and the name it replaces, which its other
		 * names outlive with one link fewer. */
		ret = up_with_names(fs, b, from, &rf);
		if (!ret && rt->type)
			ret = up_with_names(fs, b, to, &rt);
		if (!ret)
			ret = branch_rename(fs, b, rf, rt);
	}
	if (b != fs->main)
		bfsd_cache_flush(b);
out_put:
	bfsd_res_put(parent);
	bfsd_res_put(rt);
	bfsd_res_put(rf);
	return ret;
}
