/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preservation: main writes into the live base directory, so before it
 * changes anything a live branch still sees, the old version goes into the
 * preservation layer of the current epoch.
 *
 * Epoch e starts when a branch is created off main while the previous
 * preservation layer holds something (otherwise the branch shares it).  A
 * branch of epoch e sees pres[e], pres[e+1], ..., pres[newest], then the
 * base: pres[k] holds the state at the start of epoch k of every path first
 * changed during epoch k, so the first layer that knows a path has its value
 * at the start of epoch e.  Only the newest layer is ever written, and only
 * for a path it does not already decide ("covered"): a path is covered when
 * the layer holds it, a whiteout or non-directory above it, or an opaque
 * directory above it.
 *
 * Callers hold tree_lock (shared at least) and main's ns_lock exclusive;
 * preservation takes lower_lock exclusive so branches never resolve halfway
 * through it.  Cost: nothing without live branches; otherwise one lookup per
 * path component in the newest layer, plus the copy of what changes (a
 * rename for removals, a data copy for in-place writes, a tree copy only
 * for a directory moved away by rename).
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool bfsd_preserve_active(struct bfsd_fs *fs)
{
	/* The branch being committed into main is about to go: what it
	 * replaces need not be kept for it alone. */
	int others = bfsd_branch_count(fs) - (fs->committing && fs->committing->parent == fs->main);

	return fs->npres > 0 && others > 0;
}

enum cover { NOT_COVERED, COVERED, CONTAINER };

/* How much of path the newest preservation layer already decides. */
static int covered(struct bfsd_layer *p, const char *path, enum cover *out)
{
	char prefix[PATH_MAX];
	const char *s = path;

	for (;;) {
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		struct stat st;
		bool opaque = false;
		char redirect[PATH_MAX];
		uint64_t origin;
		int ret;

		memcpy(prefix, path, len);
		prefix[len] = '\0';
		if (fstatat(p->dirfd, prefix, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return -errno;
			*out = NOT_COVERED;
			return 0;
		}
		if (!S_ISDIR(st.st_mode)) {
			*out = COVERED;
			return 0;
		}
		ret = bfsd_marker_dir(p, prefix, &opaque, redirect, &origin);
		if (ret)
			return ret;
		if (opaque) {
			*out = COVERED;
			return 0;
		}
		if (!slash) {
			*out = CONTAINER;
			return 0;
		}
		s = slash + 1;
	}
}

/*
 * Preserved directories keep the times they had when they were copied: the
 * entries preservation adds to them must not move their times.  Saved for
 * the path's parent and the path itself, restored after the change.
 */
struct dirtimes {
	char dir[2][PATH_MAX];
	struct timespec ts[2][2];
	bool valid[2];
};

static void dirtimes_save(struct bfsd_layer *p, const char *path, struct dirtimes *t)
{
	struct stat st;

	bfsd_path_split(path, t->dir[0]);
	snprintf(t->dir[1], PATH_MAX, "%s", path);
	for (int i = 0; i < 2; i++) {
		t->valid[i] =
			fstatat(p->dirfd, bfsd_rel(t->dir[i]), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			S_ISDIR(st.st_mode);
		t->ts[i][0] = st.st_atim;
		t->ts[i][1] = st.st_mtim;
	}
}

static void dirtimes_restore(struct bfsd_layer *p, const struct dirtimes *t)
{
	for (int i = 0; i < 2; i++)
		if (t->valid[i])
			utimensat(p->dirfd, bfsd_rel(t->dir[i]), t->ts[i], AT_SYMLINK_NOFOLLOW);
}

/* The base root's attributes into p unless p has them (lower_lock held):
 * 1 when copied, 0, or -errno. */
static int keep_root(struct bfsd_fs *fs, struct bfsd_layer *p)
{
	int ret;

	if (bfsd_layer_rooted(p))
		return 0;
	ret = bfsd_copy_attrs(fs, fs->base, "", p, "", true, NULL);
	return ret ? ret : 1;
}

/* Give p every ancestor directory of path, with the base's attributes. */
static int make_containers(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path)
{
	char prefix[PATH_MAX];
	const char *s = path;
	struct dirtimes t;
	struct stat st;
	int ret;

	/* First content of this epoch: keep the root's attributes too. */
	ret = keep_root(fs, p);
	if (ret < 0)
		return ret;
	for (;;) {
		const char *slash = strchr(s, '/');

		if (!slash)
			return 0;
		memcpy(prefix, path, slash - path);
		prefix[slash - path] = '\0';
		s = slash + 1;
		if (fstatat(p->dirfd, prefix, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		ret = bfsd_layer_lstat(fs->base, prefix, &st);
		if (ret)
			return ret;
		/* The new container must not move the times of the one above. */
		dirtimes_save(p, prefix, &t);
		ret = bfsd_copy_object_as(fs, fs->base, prefix, p, prefix, false,
					  bfsd_fs_vino(fs, fs->base, &st), S_IFDIR);
		dirtimes_restore(p, &t);
		if (ret)
			return ret;
	}
}

/* Move base/path into p/path, charging its data to p; -EXDEV when the
 * base is another filesystem, or main has the object (or one below it)
 * open for writing: the caller copies instead. */
static int hand_over(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path)
{
	struct bfsd_at at;
	int64_t bytes = 0;
	int ret = bfsd_at_open(fs->base, path, &at);

	if (ret)
		return ret;
	/* What main writes to stays with its writer: a copy is kept instead. */
	if (bfsd_files_main_writing(fs, &at)) {
		ret = -EXDEV;
		goto out_close;
	}
	if (bfsd_quota_on(fs))
		bytes = bfsd_quota_tree_bytes(at.fd, at.name);
	ret = bfsd_quota_charge(fs, p, bytes);
	if (ret)
		goto out_close;
	if (renameat(at.fd, at.name, p->dirfd, path) < 0) {
		ret = -errno;
		bfsd_quota_charge(fs, p, -bytes);
		goto out_close;
	}
	atomic_store(&p->dirty, true);
out_close:
	bfsd_at_close(&at);
	return ret;
}

/*
 * Main changes a multi-linked file in place, or takes one of its names
 * away (unlink, rename from or over it): every name of it is preserved, as
 * one copy and links to it, so the snapshot keeps one file too.  Keeping
 * only the name that goes made it a file of its own in the snapshot, no
 * longer linked to the others.
 */
static int preserve_links(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path,
			  const struct stat *bst)
{
	const char *first = NULL;
	char **names = NULL;
	size_t n = 0;
	int ret = bfsd_links_names(fs, bst->st_dev, bst->st_ino, &names, &n);

	for (size_t i = 0; !ret && i <= n; i++) {
		const char *q = i < n ? names[i] : path;
		struct dirtimes t;
		enum cover cov;

		if (i == n && first && !strcmp(first, path))
			break;
		ret = covered(p, q, &cov);
		if (ret || cov != NOT_COVERED)
			continue;
		ret = make_containers(fs, p, q);
		if (ret)
			break;
		dirtimes_save(p, q, &t);
		if (!first) {
			ret = bfsd_copy_object_as(fs, fs->base, q, p, q, true,
						  bfsd_fs_vino(fs, fs->base, bst), S_IFREG);
			first = q;
		} else if (linkat(p->dirfd, first, p->dirfd, q, 0) < 0) {
			ret = -errno;
		}
		dirtimes_restore(p, &t);
	}
	if (!ret && first) {
		struct stat copy;

		bfsd_files_retarget(fs, NULL, bst->st_dev, bst->st_ino, p, first);
		if (fs->on_preserved && !fstatat(p->dirfd, first, &copy, AT_SYMLINK_NOFOLLOW))
			fs->on_preserved(fs->hook_ctx, fs, bst->st_dev, bst->st_ino, &copy);
	}
	if (!ret)
		bfsd_links_set_kept(fs, bst->st_dev, bst->st_ino, p->id);
	bfsd_links_free(names, n);
	return ret;
}

/* How a directory that leaves the base is kept: moved (the base drops it)
 * or copied, and, when moved, its subdirectories that must be copied all
 * the same (bfsd_links_split_dirs). */
struct keep {
	bool move;
	char **split;
	size_t nsplit;
};

static int fill_container(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path,
			  const struct keep *k);

/*
 * Keep base/path, which p does not hold, as preserve_locked keeps one
 * object: a file with several names as all its names (preserve_links); when
 * the base loses it (move), the object itself handed over, unless it is a
 * tree with a file that has a name outside it (both names would stay one
 * object in two layers, and main's next write through the outside name
 * would change the snapshot); otherwise a copy, a directory's filled by
 * fill_container, and the branches' descriptors on a copied file
 * re-pointed at the copy (they read main's writes after a rename).
 */
static int keep_object(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path,
		       const struct keep *k)
{
	static const char one = '1';
	struct stat st;
	int ret = bfsd_layer_lstat(fs->base, path, &st);

	if (ret)
		return ret;
	if (S_ISREG(st.st_mode) && st.st_nlink > 1)
		return preserve_links(fs, p, path, &st);
	if (k->move && (!S_ISDIR(st.st_mode) || !bfsd_links_split_has(k->split, k->nsplit, path))) {
		ret = hand_over(fs, p, path);
		if (!ret && S_ISDIR(st.st_mode))
			ret = bfsd_marker_set(p, path, "opaque", &one, 1);
		if (ret != -EXDEV)
			return ret ? ret : 1;
	}
	ret = bfsd_copy_object_as(fs, fs->base, path, p, path, S_ISREG(st.st_mode),
				  bfsd_fs_vino(fs, fs->base, &st), st.st_mode & S_IFMT);
	if (!ret && S_ISDIR(st.st_mode))
		ret = fill_container(fs, p, path, k);
	if (!ret && S_ISREG(st.st_mode))
		bfsd_files_retarget(fs, NULL, st.st_dev, st.st_ino, p, path);
	return ret;
}

/* Whether p's directory path is complete (opaque): what the base has
 * there now is none of its branches' business. */
static BFSD_NOINLINE bool complete_in(struct bfsd_layer *p, const char *path)
{
	char redirect[PATH_MAX];
	bool opaque = false;
	uint64_t origin;

	return !bfsd_marker_dir(p, path, &opaque, redirect, &origin) && opaque;
}

/*
 * Give the container p/path everything the base has of dir path that p does
 * not decide yet (keep_object), then make p/path opaque: it is complete and
 * nothing below may show.  Its times stay as they were.
 */
static int fill_container(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path,
			  const struct keep *k)
{
	struct bfsd_res *r = NULL;
	struct bfsd_dirlist list = { 0 };
	char child[PATH_MAX];
	static const char one = '1';
	struct dirtimes t;
	int ret;

	dirtimes_save(p, path, &t);
	ret = bfsd_resolve(fs, fs->main, path, &r);
	if (!ret && r->type == S_IFDIR)
		ret = bfsd_dir_list(fs, fs->main, r, INT_MAX, 0, &list);
	for (size_t i = 0; !ret && i < list.n; i++) {
		struct stat st;

		ret = bfsd_path_join(child, path, list.e[i].name);
		if (ret)
			break;
		if (fstatat(p->dirfd, child, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = keep_object(fs, p, child, k);
		else if (S_ISDIR(st.st_mode) && !complete_in(p, child))
			ret = fill_container(fs, p, child, k);
		ret = ret < 0 ? ret : 0;
	}
	bfsd_dirlist_free(&list);
	bfsd_res_put(r);
	if (!ret)
		ret = bfsd_marker_set(p, path, "opaque", &one, 1);
	dirtimes_restore(p, &t);
	return ret;
}

/* The old object at path, a directory, leaves the base: complete it in p
 * and make it opaque, so whatever later takes the name never merges in. */
static int dir_leaves(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path,
		      enum bfsd_change what, bool exists, const struct stat *bst)
{
	static const char one = '1';
	struct keep k = { .move = what == BFSD_CH_DROP };
	int ret = 0;

	if (what == BFSD_CH_MOVE || what == BFSD_CH_DROP) {
		if (k.move)
			ret = bfsd_links_split_dirs(fs, path, &k.split, &k.nsplit);
		if (!ret)
			ret = exists ? fill_container(fs, p, path, &k)
				     : keep_object(fs, p, path, &k);
		bfsd_links_free(k.split, k.nsplit);
		return ret;
	}
	/* rmdir and replacement: the base's copy is empty, p's is complete (a
	 * container p holds has the attributes it was made with: not the
	 * base's now, which main may have changed since). */
	if (!exists)
		ret = bfsd_copy_object_as(fs, fs->base, path, p, path, false,
					  bfsd_fs_vino(fs, fs->base, bst), S_IFDIR);
	return ret ? ret : bfsd_marker_set(p, path, "opaque", &one, 1);
}

/* Preserve path (not covered by p) before main changes it; the
 * containers of its ancestors exist. */
static int preserve_locked(struct bfsd_fs *fs, struct bfsd_layer *p, const char *path,
			   enum bfsd_change what, struct stat *bst, enum cover cov)
{
	bool dir = S_ISDIR(bst->st_mode);
	int ret;

	if (what == BFSD_CH_DROP && !dir)
		what = BFSD_CH_REMOVE;
	if (!bst->st_mode)
		return cov == CONTAINER ? 0 : bfsd_marker_whiteout_make(p, path);
	if (dir && what != BFSD_CH_MODIFY)
		return dir_leaves(fs, p, path, what, cov == CONTAINER, bst);
	if (cov == CONTAINER)
		return 0; /* a directory's attributes, kept already */
	if (!dir && (what == BFSD_CH_REMOVE || what == BFSD_CH_CREATE) && bst->st_nlink == 1) {
		/* The base loses this object: hand the object itself over (never
		 * one with other names: it would stay shared with the base). */
		ret = hand_over(fs, p, path);
		if (ret != -EXDEV)
			return ret ? ret : 1;
	}
	ret = bfsd_copy_object_as(fs, fs->base, path, p, path, S_ISREG(bst->st_mode),
				  bfsd_fs_vino(fs, fs->base, bst), bst->st_mode & S_IFMT);
	if (!ret && S_ISREG(bst->st_mode))
		bfsd_files_retarget(fs, NULL, bst->st_dev, bst->st_ino, p, path);
	return ret;
}

/*
 * The root's own attributes are about to change: a branch's top takes
 * them only with its first change (enum bfsd_layer_root), so the epoch
 * keeps the ones its branches saw.
 */
static int preserve_root(struct bfsd_fs *fs, struct bfsd_layer *p)
{
	int ret;

	pthread_rwlock_wrlock(&fs->lower_lock);
	ret = keep_root(fs, p);
	if (ret > 0)
		bfsd_cache_lower_changed(fs);
	pthread_rwlock_unlock(&fs->lower_lock);
	if (ret < 0) {
		bfsd_err("cannot preserve the root for live branches: %s", bfsd_strerror(-ret));
		return ret;
	}
	return 0;
}

int bfsd_preserve(struct bfsd_fs *fs, const char *path, enum bfsd_change what)
{
	struct bfsd_layer *p;
	struct dirtimes t;
	struct stat bst;
	enum cover cov;
	int ret;

	if (!bfsd_preserve_active(fs))
		return 0;
	p = fs->pres[fs->npres - 1];
	if (!path[0])
		return preserve_root(fs, p);
	memset(&bst, 0, sizeof(bst));
	ret = bfsd_layer_lstat(fs->base, path, &bst);
	/* An ancestor is no directory now (swapped for a symlink behind our
	 * back): the base has nothing at path, and the change fails there. */
	if (ret == -ENOTDIR)
		return 0;
	if (ret) {
		if (ret != -ENOENT)
			return ret;
		memset(&bst, 0, sizeof(bst));
		if (what != BFSD_CH_CREATE)
			return 0;
	}
	/* Every name of a file kept already: nothing to do, and no lock that
	 * stops every branch's lookups.  Looking at each name again made
	 * each unlink of one of thousands cost as many lookups. */
	if (S_ISREG(bst.st_mode) && bst.st_nlink > 1 &&
	    bfsd_links_kept(fs, bst.st_dev, bst.st_ino, p->id))
		return 0;
	/* The first need of the link map walks the whole base: not under the
	 * lock that stops every branch's lookups (0.48 s of them for 150,000
	 * files). */
	if ((S_ISREG(bst.st_mode) && bst.st_nlink > 1) ||
	    (S_ISDIR(bst.st_mode) && what == BFSD_CH_DROP))
		bfsd_links_prepare(fs);
	pthread_rwlock_wrlock(&fs->lower_lock);
	if (S_ISREG(bst.st_mode) && bst.st_nlink > 1) {
		ret = preserve_links(fs, p, path, &bst);
		goto out_done;
	}
	ret = covered(p, path, &cov);
	if (ret || cov == COVERED)
		goto out_unlock;
	/* Containers first, with the base's times; then save and restore
	 * those times around what the change adds into them. */
	if (cov == NOT_COVERED)
		ret = make_containers(fs, p, path);
	if (!ret) {
		dirtimes_save(p, path, &t);
		ret = preserve_locked(fs, p, path, what, &bst, cov);
		if (ret >= 0)
			dirtimes_restore(p, &t);
	}
out_done:
	bfsd_fault_point(fs, "preserved");
	if (ret >= 0)
		bfsd_cache_lower_changed(fs);
out_unlock:
	pthread_rwlock_unlock(&fs->lower_lock);
	if (ret < 0)
		bfsd_err("cannot preserve '%s' for live branches: %s", path, bfsd_strerror(-ret));
	return ret;
}

int bfsd_preserve_push(struct bfsd_fs *fs, struct bfsd_layer *l)
{
	if (fs->npres == fs->pres_cap) {
		size_t cap = fs->pres_cap ? fs->pres_cap * 2 : 8;
		struct bfsd_layer **n = realloc(fs->pres, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		fs->pres = n;
		fs->pres_cap = cap;
	}
	fs->pres[fs->npres++] = l;
	return 0;
}

int bfsd_epoch_snapshot(struct bfsd_fs *fs, uint64_t *epoch, bool *made)
{
	struct bfsd_layer *l;
	int ret;

	*made = false;
	if (fs->npres && !atomic_load(&fs->pres[fs->npres - 1]->dirty)) {
		*epoch = fs->pres_first + fs->npres - 1;
		return 0;
	}
	ret = bfsd_layer_create(fs, BFSD_LAYER_PRESERVE, &l);
	if (ret)
		return ret;
	ret = bfsd_preserve_push(fs, l);
	if (ret) {
		bfsd_layer_put(l);
		return ret;
	}
	if (fs->npres == 1)
		fs->pres_first = fs->next_epoch;
	fs->next_epoch = fs->pres_first + fs->npres;
	/* Main's open writers must check the new layer before their next write. */
	atomic_fetch_add(&fs->main_write_epoch, 1);
	*epoch = fs->pres_first + fs->npres - 1;
	*made = true;
	return 0;
}

void bfsd_epoch_unsnapshot(struct bfsd_fs *fs)
{
	struct bfsd_layer *l = fs->pres[--fs->npres];

	fs->next_epoch--;
	atomic_fetch_add(&fs->main_write_epoch, 1);
	bfsd_layer_put(l);
}

static void min_epoch(struct bfsd_branch *b, void *arg)
{
	uint64_t *min = arg;

	if (b->epoch < *min)
		*min = b->epoch;
}

void bfsd_epoch_release(struct bfsd_fs *fs)
{
	uint64_t min = UINT64_MAX;
	size_t drop;

	bfsd_branch_each(fs, min_epoch, &min);
	drop = 0;
	while (drop < fs->npres && fs->pres_first + drop < min)
		drop++;
	if (!drop)
		return;
	/* The log stops naming them before they go to the trash: a crash in
	 * between must not leave it naming layers that are gone.  Unrecorded,
	 * they stay until the next release. */
	if (bfsd_store_save_pres(fs, drop))
		return;
	for (size_t i = 0; i < drop; i++)
		bfsd_layer_put(fs->pres[i]);
	memmove(fs->pres, fs->pres + drop, (fs->npres - drop) * sizeof(*fs->pres));
	fs->npres -= drop;
	fs->pres_first += drop;
	bfsd_cache_lower_changed(fs);
}
