/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Folding frozen layers: a branch that writes between child creations
 * freezes one layer per creation (branch.c, freeze_top), and an uncached
 * lookup walks them all.  Two adjacent frozen layers that are held by the
 * same stacks (the children that held the lower one alone are gone) are
 * folded into one: the upper layer U's objects move down into the lower
 * layer L, one rename each, and U leaves every stack.
 *
 * Every step leaves each stack showing what it showed: an object moves from
 * U to the same name in L only once L's object there, which it hid, has left
 * L's tree (for L's held directory, see drop_lower); a directory of U that
 * hid a non-directory of L is marked opaque before it moves, as its
 * position made it.  So a crash anywhere
 * leaves a stack that shows the same tree, and the next fold finishes the
 * job.  A directory of U that was renamed (a redirect marker) reads L at
 * another path, which the fold would change: a U holding one is left as it
 * is.  Moved objects keep their inode (so open files, page caches and
 * `st_ino`); their ctime is the fold's.
 *
 * Runs after a control request's reply (bfsd_store_tidy), under tree_lock
 * exclusive like a commit, one pair at a time and FOLD_CHUNK entries at a
 * time: between chunks requests run (each step shows the same tree, and
 * the holders' caches are emptied), and the next chunk finds its pair again
 * or another one.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Entries folded per hold of tree_lock: while 10,000 rewritten files were
 * folded, the longest wait of a lookup went from 673 ms (one hold) to
 * 38-41 ms (the first chunk also reads the names). */
#define FOLD_CHUNK 256

struct fold {
	struct bfsd_fs *fs;
	struct bfsd_layer *u, *l;
	int budget; /* entries left in this chunk */
};

static void names_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The names in directory path of layer l, NULL-terminated (names_free). */
static int names_of(struct bfsd_layer *l, const char *path, char ***out)
{
	int fd = openat(l->dirfd, bfsd_rel(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t n = 0, cap = 16;
	struct dirent *de;
	char **v;
	DIR *d;
	int ret = 0;

	d = bfsd_fdopendir(fd);
	if (!d)
		return -errno;
	v = calloc(cap, sizeof(*v));
	if (!v)
		ret = -ENOMEM;
	while (!ret && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n] = strdup(de->d_name);
		ret = v[n] ? 0 : -ENOMEM;
		v[n += !ret] = NULL;
	}
	closedir(d);
	if (ret) {
		names_free(v);
		return ret;
	}
	*out = v;
	return 0;
}

/*
 * The markers of directory path of l: *opaque, and 1 when it was renamed
 * (a redirect marker).  Its buffer lives only here: the walks below recurse
 * once per level of a tree that can be thousands deep, so their frames
 * hold no PATH_MAX array but the one path they build.
 */
static int dir_markers(struct bfsd_layer *l, const char *path, bool *opaque)
{
	char redirect[PATH_MAX];
	uint64_t origin;
	int ret = bfsd_marker_dir(l, path, opaque, redirect, &origin);

	return ret ? ret : redirect[0] != '\0';
}

/* Whether any directory of l below path was renamed (1), or -errno. */
static int has_redirect(struct bfsd_layer *l, const char *path)
{
	char **names = NULL, *child = malloc(PATH_MAX);
	int ret = child ? names_of(l, path, &names) : -ENOMEM;

	for (size_t i = 0; !ret && names[i]; i++) {
		struct stat st;
		bool opaque;

		ret = bfsd_path_join(child, path, names[i]);
		if (!ret && fstatat(l->dirfd, child, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = -errno;
		if (ret || !S_ISDIR(st.st_mode))
			continue;
		ret = dir_markers(l, child, &opaque);
		if (!ret)
			ret = has_redirect(l, child);
	}
	names_free(names);
	free(child);
	return ret;
}

/* Empty the held file dir/name (st), which nothing can read. */
static void empty(struct fold *f, int dir, const char *name, const struct stat *st)
{
	int fd = openat(dir, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, 0) == 0)
		bfsd_quota_charge(f->fs, f->l, -(int64_t)st->st_size);
	if (fd >= 0)
		close(fd);
}

/*
 * L's object at path leaves L's tree for L's held directory, where it lives
 * as long as L: a copy elsewhere (U's object over it, a renamed copy) can
 * carry its inode number as its `origin`, and a freed number would be
 * given to a new object, which the view would then show with the same
 * st_ino.  Only the number is needed: a file no name and no open file
 * keeps is emptied, its bytes given back to the quota.
 */
static int drop_lower(struct fold *f, const char *path)
{
	char tmp[NAME_MAX + 1];
	struct stat st;
	int fd = bfsd_store_open_held(f->fs, f->l->id), ret = 0;

	if (fd < 0)
		return fd;
	bfsd_fs_tmpname(f->fs, tmp);
	if (fstatat(f->l->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    renameat(f->l->dirfd, path, fd, tmp) < 0)
		ret = errno == ENOENT ? 0 : -errno;
	else if (S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_size &&
		 !bfsd_files_open_on(f->fs, st.st_dev, st.st_ino))
		empty(f, fd, tmp, &st);
	close(fd);
	return ret;
}

/* The times of the directory copy whose attributes a stack shows, as they
 * were before the fold moved anything out of it or into it. */
struct dir_times {
	struct bfsd_layer *src;
	const char *path;
	struct timespec times[2];
};

/* Put them back after a move, so that no step, a crash's or a chunk's
 * last, shows a directory's time changed. */
static void put_times_back(const struct dir_times *d)
{
	utimensat(d->src->dirfd, bfsd_rel(d->path), d->times, AT_SYMLINK_NOFOLLOW);
}

static int fold_dir(struct fold *f, const char *path, const struct dir_times *parent);

/* Move U's object at path down into L; parent is its directory's times. */
static int fold_entry(struct fold *f, const char *path, const struct dir_times *parent)
{
	struct stat ust, lst;
	bool in_l, opaque = false;
	int ret;

	if (fstatat(f->u->dirfd, path, &ust, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	in_l = fstatat(f->l->dirfd, path, &lst, AT_SYMLINK_NOFOLLOW) == 0;
	if (!in_l && errno != ENOENT)
		return -errno;
	if (S_ISDIR(ust.st_mode)) {
		ret = dir_markers(f->u, path, &opaque); /* no redirect: fold_pair */
		if (ret < 0)
			return ret;
		if (!opaque && in_l && S_ISDIR(lst.st_mode))
			return fold_dir(f, path, parent);
	}
	/* Only moves count: a chunk always gets down to one, however deep. */
	if (f->budget-- <= 0)
		return -EAGAIN;
	/* A directory over L's non-directory: resolution stops at that, so it
	 * is opaque in effect. */
	if (S_ISDIR(ust.st_mode) && !opaque && in_l) {
		ret = bfsd_marker_set(f->u, path, "opaque", "1", 1);
		if (ret)
			return ret;
	}
	if (in_l) {
		ret = drop_lower(f, path);
		put_times_back(parent);
		if (ret)
			return ret;
	}
	bfsd_fault_point(f->fs, "fold-step");
	if (renameat(f->u->dirfd, path, f->l->dirfd, path) < 0)
		return -errno;
	put_times_back(parent);
	bfsd_fault_point(f->fs, "fold-step");
	return 0;
}

/*
 * Fold U's directory path into L's (the root when parent, the times of its
 * parent directory, is NULL).  The attributes the stack showed come
 * from U's copy when it carries them (every copy below the root does; a
 * root only once its branch changed something) and stay L's own otherwise:
 * either way their times are put back after every move.
 */
static int fold_dir(struct fold *f, const char *path, const struct dir_times *parent)
{
	bool from_u = path[0] || bfsd_layer_rooted(f->u);
	struct dir_times dt = { from_u ? f->u : f->l, path, { { 0 } } };
	char **names = NULL, *child;
	struct stat st;
	int ret;

	if (fstatat(dt.src->dirfd, bfsd_rel(path), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	dt.times[0] = st.st_atim;
	dt.times[1] = st.st_mtim;
	child = malloc(PATH_MAX);
	ret = child ? names_of(f->u, path, &names) : -ENOMEM;
	for (size_t i = 0; !ret && names[i]; i++) {
		ret = bfsd_path_join(child, path, names[i]);
		if (!ret)
			ret = fold_entry(f, child, &dt);
	}
	names_free(names);
	free(child);
	if (ret < 0)
		return ret;
	if (from_u)
		ret = bfsd_copy_attrs(f->fs, f->u, path, f->l, path, true, dt.times);
	else
		put_times_back(&dt);
	if (!ret && parent && unlinkat(f->u->dirfd, path, AT_REMOVEDIR) < 0)
		ret = -errno;
	if (parent)
		put_times_back(parent);
	return ret;
}

static void zero_stacks(struct bfsd_branch *b, void *arg)
{
	(void)arg;
	for (int i = 0; i < b->nlayers; i++)
		b->layers[i]->stacks = 0;
}

/* In l->stacks, how many live stacks hold each layer. */
static void count_stacks(struct bfsd_branch *b, void *arg)
{
	(void)arg;
	for (int i = 0; i < b->nlayers; i++)
		b->layers[i]->stacks++;
}

struct pair {
	struct bfsd_layer *u, *l;
};

static void find_pair(struct bfsd_branch *b, void *arg)
{
	struct pair *p = arg;

	/*
	 * layers[0] is b's writable top; every layer below it is frozen.  A
	 * stack holds an ancestor's layers below a descendant's, and a live
	 * descendant keeps its ancestors live: equal counts mean one owner
	 * (the same side of b's nown) and the same holders.
	 */
	for (int i = 1; !p->u && i + 1 < b->nlayers; i++) {
		struct bfsd_layer *u = b->layers[i], *l = b->layers[i + 1];

		if (!u->nofold && u->stacks == l->stacks && (i + 1 < b->nown || i >= b->nown) &&
		    u->kind == BFSD_LAYER_DELTA && l->kind == BFSD_LAYER_DELTA)
			*p = (struct pair){ u, l };
	}
}

/* Holders of u (u->stacks of them), with u's index in each. */
struct holders {
	struct bfsd_layer *u;
	struct bfsd_branch **b;
	int *at;
	int n;
};

static void find_holders(struct bfsd_branch *b, void *arg)
{
	struct holders *h = arg;

	for (int i = 0; i < b->nlayers; i++) {
		if (b->layers[i] == h->u) {
			h->b[h->n] = b;
			h->at[h->n++] = i;
		}
	}
}

/* Take u out of (or, with back, put it again into) each holder's stack;
 * u and the layer below it are on one side of each holder's nown. */
static void restack(struct holders *h, bool back)
{
	for (int k = 0; k < h->n; k++) {
		struct bfsd_branch *b = h->b[k];
		int i = h->at[k];

		pthread_rwlock_wrlock(&b->write_gate);
		if (back) {
			memmove(b->layers + i + 1, b->layers + i,
				(b->nlayers - i) * sizeof(*b->layers));
			b->layers[i] = h->u;
			b->nlayers++;
			b->nown += i < b->nown;
		} else {
			b->nown -= i < b->nown;
			b->nlayers--;
			memmove(b->layers + i, b->layers + i + 1,
				(b->nlayers - i) * sizeof(*b->layers));
		}
		pthread_rwlock_unlock(&b->write_gate);
		bfsd_cache_flush(b);
	}
}

/* U is empty: it leaves the stacks, as one log record says. */
static int unstack(struct bfsd_fs *fs, struct bfsd_layer *u, struct bfsd_layer *l)
{
	struct holders h = { .u = u };
	int ret;

	h.b = calloc(u->stacks, sizeof(*h.b));
	h.at = calloc(u->stacks, sizeof(*h.at));
	ret = h.b && h.at ? 0 : -ENOMEM;
	if (!ret) {
		bfsd_branch_each(fs, find_holders, &h);
		restack(&h, false);
		if (fs->durable && syncfs(l->dirfd) < 0)
			ret = -errno;
		if (!ret)
			ret = bfsd_fault_fail(fs, "fold-logging");
		if (!ret)
			ret = bfsd_store_save_branches(fs, h.b, h.n);
		if (ret)
			restack(&h, true);
		else
			bfsd_fault_point(fs, "fold-recorded");
	}
	if (!ret) {
		bfsd_quota_fold(fs, u, l);
		bfsd_files_relayer(fs, u, l);
		for (int k = 0; k < h.n; k++)
			bfsd_layer_put(u);
	}
	free(h.b);
	free(h.at);
	return ret;
}

/* A holder of the layer arg: what it cached of U's names is gone. */
static void flush_holder(struct bfsd_branch *b, void *arg)
{
	for (int i = 0; i < b->nlayers; i++)
		if (b->layers[i] == arg)
			bfsd_cache_flush(b);
}

/* Fold U into L: 0, or -EAGAIN when this chunk's budget ran out. */
static int fold_pair(struct bfsd_fs *fs, struct bfsd_layer *u, struct bfsd_layer *l)
{
	struct fold f = { fs, u, l, FOLD_CHUNK };
	int ret = u->fold_checked ? 0 : has_redirect(u, "");

	if (ret)
		return ret < 0 ? ret : -EXDEV;
	u->fold_checked = true; /* frozen: it gains no redirect */
	ret = fold_dir(&f, "", NULL);
	if (!ret)
		ret = bfsd_store_hand_held(fs, u->id, l->id); /* U goes, L stays */
	if (ret)
		bfsd_branch_each(fs, flush_holder, u);
	/* L has names it had not: its map of hard links is made again. */
	pthread_mutex_lock(&l->links_lock);
	bfsd_layer_links_free(l);
	pthread_mutex_unlock(&l->links_lock);
	if (!ret)
		ret = unstack(fs, u, l);
	return ret;
}

int bfsd_fold(struct bfsd_fs *fs)
{
	int folded = 0, ret = 0;

	while (!ret) {
		struct pair p = { 0 };

		pthread_rwlock_wrlock(&fs->tree_lock);
		if (!fs->pending) {
			bfsd_branch_each(fs, zero_stacks, NULL);
			bfsd_branch_each(fs, count_stacks, NULL);
			bfsd_branch_each(fs, find_pair, &p);
		}
		ret = p.u ? fold_pair(fs, p.u, p.l) : -ENOENT;
		if (ret == -EAGAIN) {
			/* Let the requests waiting meanwhile in; the tree may
			 * change before the next chunk, which looks again. */
			pthread_rwlock_unlock(&fs->tree_lock);
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			ret = 0;
			continue;
		}
		if (ret == -EXDEV) {
			p.u->nofold = true;
			ret = 0;
		} else if (ret && p.u) {
			/* Left as it is, the half folded part included (it shows
			 * the same tree), until the next control request. */
			bfsd_warn("cannot fold layer %llu into layer %llu: %s",
				  (unsigned long long)p.u->id, (unsigned long long)p.l->id,
				  bfsd_strerror(-ret));
			atomic_store(&fs->fold_wanted, true);
		} else {
			folded += !ret;
		}
		pthread_rwlock_unlock(&fs->tree_lock);
	}
	return folded;
}
