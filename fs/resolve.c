/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolution: where a logical path of a branch lives in its layer stack, and
 * the per-branch cache of those answers.
 *
 * A directory's resolution lists every layer copy that contributes to it, top
 * first; a child is looked up only in those copies.  Walking them top down: a
 * whiteout ends the search (name deleted), a non-directory is the object (and
 * hides everything below), a directory is added to the list and the walk
 * goes on unless it is opaque; a redirected directory continues in the
 * layers below at the redirect's logical path, resolved from the root of the
 * sub-stack under it.
 *
 * Main is the base alone and changes behind our back, so main's answers are
 * never cached.  A branch's answers are cached by path hash and stay valid
 * while branch->res_gen (bumped by changes that move subtrees) and
 * fs->lower_gen (bumped whenever main preserves something) are unchanged;
 * single-path changes drop their entries instead.
 *
 * Callers hold the request locks (bfsd_lock_op): for a branch other than
 * main that includes lower_lock shared, so preservation never runs under a
 * resolution in progress.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static struct bfsd_res *res_alloc(int nloc)
{
	struct bfsd_res *r = calloc(1, sizeof(*r) + nloc * sizeof(r->loc[0]));

	if (r)
		atomic_init(&r->refs, 1);
	return r;
}

void bfsd_res_put(struct bfsd_res *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (int i = 0; i < r->nloc; i++)
		free(r->loc[i].phys);
	free(r->lowpath);
	free(r->path);
	free(r);
}

static struct bfsd_res *res_ref(struct bfsd_res *r)
{
	atomic_fetch_add(&r->refs, 1);
	return r;
}

static int res_set_loc(struct bfsd_res *r, int i, struct bfsd_layer *l, int idx, const char *phys)
{
	r->loc[i].layer = l;
	r->loc[i].idx = idx;
	r->loc[i].phys = strdup(phys);
	return r->loc[i].phys ? 0 : -ENOMEM;
}

/* The root of the sub-stack of b starting at index start. */
static int res_root(struct bfsd_fs *fs, struct bfsd_branch *b, int start, struct bfsd_res **out)
{
	int n = bfsd_stack_count(fs, b) - start;
	struct bfsd_res *r = res_alloc(n);
	struct stat st;
	int ret = 0;

	if (!r)
		return -ENOMEM;
	r->type = S_IFDIR;
	r->nloc = n;
	r->attr = -1;
	for (int k = 0; k < n && !ret; k++) {
		struct bfsd_layer *l = bfsd_stack_at(fs, b, start + k);

		ret = res_set_loc(r, k, l, start + k, "");
		if (!ret && r->attr < 0 && bfsd_layer_rooted(l))
			r->attr = k;
	}
	if (!ret)
		r->path = strdup("");
	if (!ret && !r->path)
		ret = -ENOMEM;
	if (!ret && fstat(fs->base->dirfd, &st) < 0)
		ret = -errno;
	if (ret) {
		bfsd_res_put(r);
		return ret;
	}
	r->vino = bfsd_fs_vino(fs, fs->base, &st);
	*out = r;
	return 0;
}

/* Set r->lowpath: the child's logical path in the namespace below the top. */
static int child_lowpath(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *parent,
			 const char *name, const char *redirect, bool top, struct bfsd_res *r)
{
	char buf[PATH_MAX];
	const char *plow;
	int ret;

	if (b == fs->main)
		return 0;
	if (top && redirect && redirect[0]) {
		r->lowpath = strdup(redirect);
		return r->lowpath ? 0 : -ENOMEM;
	}
	plow = bfsd_res_lowpath(parent);
	ret = bfsd_path_join(buf, plow, name);
	if (ret)
		return ret;
	if (!strcmp(buf, r->path))
		return 0;
	r->lowpath = strdup(buf);
	return r->lowpath ? 0 : -ENOMEM;
}

/*
 * Look name up below the directory parent.  Builds the child's resolution
 * in *out (type 0 when absent); *top (may be NULL) gets the lstat of its
 * topmost copy, which is what bfsd_res_stat would read now.
 */
static int resolve_child(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *parent,
			 const char *name, struct bfsd_res **out, struct stat *top)
{
	int cap = parent->nloc, n = 0, ret = 0;
	struct bfsd_res *r, *sub = NULL;
	char phys[PATH_MAX], redirect[PATH_MAX] = "";
	bool top_redirect = false;

	r = res_alloc(cap + bfsd_stack_count(fs, b));
	if (!r)
		return -ENOMEM;
	ret = bfsd_path_join(phys, parent->path, name);
	if (ret)
		goto out_free;
	r->path = strdup(phys);
	if (!r->path) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < parent->nloc; i++) {
		const struct bfsd_loc *pl = &parent->loc[i];
		struct bfsd_layer *l = pl->layer;
		struct stat st;
		uint64_t origin = 0;
		bool opaque = false;

		ret = bfsd_path_join(phys, pl->phys, name);
		if (ret)
			goto out_free;
		ret = bfsd_layer_lstat(l, phys, &st);
		if (ret == -ENOENT || ret == -ENOTDIR) {
			ret = 0;
			continue;
		}
		if (ret)
			goto out_free;
		if (bfsd_marker_is_whiteout(l, phys, &st)) {
			if (!n && pl->idx == 0 && b->nlayers)
				r->top_whiteout = true;
			break;
		}
		if (!n && top)
			*top = st;
		if (!S_ISDIR(st.st_mode)) {
			if (n)
				break;
			r->type = st.st_mode & S_IFMT;
			if (bfsd_layer_is_storage(l) && bfsd_marker_origin(l, phys, &origin) > 0)
				r->vino = origin;
			else
				r->vino = bfsd_fs_vino(fs, l, &st);
			ret = res_set_loc(r, n++, l, pl->idx, phys);
			break;
		}
		if (bfsd_layer_is_storage(l)) {
			ret = bfsd_marker_dir(l, phys, &opaque, redirect, &origin);
			if (ret)
				goto out_free;
		} else {
			redirect[0] = '\0';
		}
		if (!n) {
			r->type = S_IFDIR;
			r->vino = origin ? origin : bfsd_fs_vino(fs, l, &st);
			r->opaque = opaque;
			top_redirect = pl->idx == 0 && b->nlayers && redirect[0];
		}
		ret = res_set_loc(r, n++, l, pl->idx, phys);
		if (ret || opaque)
			break;
		if (redirect[0]) {
			ret = bfsd_resolve_from(fs, b, pl->idx + 1, redirect, &sub);
			if (ret == -ENOENT || ret == -ENOTDIR) {
				ret = 0;
				break;
			}
			if (ret)
				goto out_free;
			for (int k = 0; sub->type == S_IFDIR && k < sub->nloc && !ret; k++)
				ret = res_set_loc(r, n++, sub->loc[k].layer, sub->loc[k].idx,
						  sub->loc[k].phys);
			break;
		}
	}
	r->nloc = n;
	if (ret)
		goto out_free;
	ret = child_lowpath(fs, b, parent, name, top_redirect ? redirect : NULL, top_redirect, r);
	if (ret)
		goto out_free;
	bfsd_res_put(sub);
	*out = r;
	return 0;

out_free:
	r->nloc = n;
	bfsd_res_put(sub);
	bfsd_res_put(r);
	return ret;
}

int bfsd_resolve_from(struct bfsd_fs *fs, struct bfsd_branch *b, int start, const char *path,
		      struct bfsd_res **out)
{
	struct bfsd_res *r, *next;
	char name[NAME_MAX + 1];
	const char *p = path;
	int ret;

	ret = res_root(fs, b, start, &r);
	if (ret)
		return ret;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (r->type != S_IFDIR || len > NAME_MAX) {
			ret = len > NAME_MAX ? -ENAMETOOLONG : r->type ? -ENOTDIR : -ENOENT;
			bfsd_res_put(r);
			return ret;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		ret = resolve_child(fs, b, r, name, &next, NULL);
		bfsd_res_put(r);
		if (ret)
			return ret;
		r = next;
		p += len + (slash ? 1 : 0);
	}
	*out = r;
	return 0;
}

/* ---- cache ---- */

void bfsd_cache_init(struct bfsd_branch *b)
{
	pthread_mutex_init(&b->cache_lock, NULL);
	atomic_init(&b->res_gen, 1);
	b->cache = NULL;
	b->cache_cap = 0;
	b->cache_n = 0;
}

static void cache_clear_locked(struct bfsd_branch *b)
{
	for (size_t i = 0; i < b->cache_cap; i++) {
		struct bfsd_res *r = b->cache[i];

		while (r) {
			struct bfsd_res *next = r->cnext;

			bfsd_res_put(r);
			r = next;
		}
		b->cache[i] = NULL;
	}
	b->cache_n = 0;
}

void bfsd_cache_clear(struct bfsd_branch *b)
{
	pthread_mutex_lock(&b->cache_lock);
	cache_clear_locked(b);
	pthread_mutex_unlock(&b->cache_lock);
}

struct bfsd_garbage {
	struct bfsd_res **table;
	size_t cap;
	struct bfsd_garbage *next;
};

void bfsd_cache_discard(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	struct bfsd_garbage *g = calloc(1, sizeof(*g));

	/* Freeing thousands of entries is the reclaimer's job, not abort's. */
	pthread_mutex_lock(&b->cache_lock);
	if (!g || !fs->reclaimer_running) {
		cache_clear_locked(b);
		pthread_mutex_unlock(&b->cache_lock);
		free(g);
		return;
	}
	g->table = b->cache;
	g->cap = b->cache_cap;
	b->cache = NULL;
	b->cache_cap = 0;
	b->cache_n = 0;
	pthread_mutex_unlock(&b->cache_lock);
	pthread_mutex_lock(&fs->reclaim_lock);
	g->next = fs->garbage;
	fs->garbage = g;
	pthread_mutex_unlock(&fs->reclaim_lock);
	bfsd_store_wake_reclaimer(fs);
}

void bfsd_cache_free_garbage(struct bfsd_fs *fs)
{
	struct bfsd_garbage *g;

	pthread_mutex_lock(&fs->reclaim_lock);
	g = fs->garbage;
	fs->garbage = NULL;
	pthread_mutex_unlock(&fs->reclaim_lock);
	while (g) {
		struct bfsd_garbage *next = g->next;

		for (size_t i = 0; i < g->cap; i++) {
			struct bfsd_res *r = g->table[i];

			while (r) {
				struct bfsd_res *rn = r->cnext;

				bfsd_res_put(r);
				r = rn;
			}
		}
		free(g->table);
		free(g);
		g = next;
	}
}

void bfsd_cache_free(struct bfsd_branch *b)
{
	pthread_mutex_lock(&b->cache_lock);
	cache_clear_locked(b);
	free(b->cache);
	b->cache = NULL;
	b->cache_cap = 0;
	pthread_mutex_unlock(&b->cache_lock);
	pthread_mutex_destroy(&b->cache_lock);
}

void bfsd_cache_flush(struct bfsd_branch *b)
{
	atomic_fetch_add(&b->res_gen, 1);
	atomic_fetch_add(&b->changes, 1);
}

void bfsd_cache_lower_changed(struct bfsd_fs *fs)
{
	atomic_fetch_add(&fs->lower_gen, 1);
}

static bool res_valid(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r)
{
	return r->gen == atomic_load(&b->res_gen) && r->lower_gen == atomic_load(&fs->lower_gen);
}

static struct bfsd_res *cache_get(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
				  uint64_t h)
{
	struct bfsd_res *r, *found = NULL;

	pthread_mutex_lock(&b->cache_lock);
	if (b->cache_cap) {
		for (r = b->cache[h & (b->cache_cap - 1)]; r; r = r->cnext) {
			if (r->hash == h && !strcmp(r->path, path)) {
				if (res_valid(fs, b, r))
					found = res_ref(r);
				break;
			}
		}
	}
	pthread_mutex_unlock(&b->cache_lock);
	return found;
}

static void cache_unlink_locked(struct bfsd_branch *b, const char *path, uint64_t h)
{
	struct bfsd_res **pp;

	if (!b->cache_cap)
		return;
	for (pp = &b->cache[h & (b->cache_cap - 1)]; *pp; pp = &(*pp)->cnext) {
		struct bfsd_res *r = *pp;

		if (r->hash == h && !strcmp(r->path, path)) {
			*pp = r->cnext;
			b->cache_n--;
			bfsd_res_put(r);
			return;
		}
	}
}

size_t bfsd_res_cache_limit(const struct bfsd_fs *fs)
{
	size_t live = fs->nbranches > 0 ? (size_t)fs->nbranches : 1;
	size_t share = BFSD_RES_CACHE_TOTAL / live;

	if (share < BFSD_RES_CACHE_MIN)
		return BFSD_RES_CACHE_MIN;
	return share < BFSD_RES_CACHE_MAX ? share : BFSD_RES_CACHE_MAX;
}

static void cache_put(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_res *r)
{
	size_t limit = bfsd_res_cache_limit(fs);
	struct bfsd_res **slot;

	pthread_mutex_lock(&b->cache_lock);
	if (b->cache_n >= limit)
		cache_clear_locked(b);
	if (!b->cache_cap) {
		b->cache = calloc(1024, sizeof(*b->cache));
		if (!b->cache)
			goto out_unlock;
		b->cache_cap = 1024;
	} else if (b->cache_n >= b->cache_cap && b->cache_cap < BFSD_RES_CACHE_MAX) {
		size_t cap = b->cache_cap * 4;
		struct bfsd_res **t = calloc(cap, sizeof(*t));

		if (t) {
			for (size_t i = 0; i < b->cache_cap; i++) {
				struct bfsd_res *e = b->cache[i];

				while (e) {
					struct bfsd_res *next = e->cnext;

					e->cnext = t[e->hash & (cap - 1)];
					t[e->hash & (cap - 1)] = e;
					e = next;
				}
			}
			free(b->cache);
			b->cache = t;
			b->cache_cap = cap;
		}
	}
	cache_unlink_locked(b, r->path, r->hash);
	slot = &b->cache[r->hash & (b->cache_cap - 1)];
	r->cnext = *slot;
	*slot = res_ref(r);
	b->cache_n++;
out_unlock:
	pthread_mutex_unlock(&b->cache_lock);
}

void bfsd_cache_drop(struct bfsd_branch *b, const char *path)
{
	uint64_t h = bfsd_hash(path, strlen(path));

	atomic_fetch_add(&b->changes, 1);
	pthread_mutex_lock(&b->cache_lock);
	cache_unlink_locked(b, path, h);
	pthread_mutex_unlock(&b->cache_lock);
}

/*
 * lstat base/path without following a symlink in any component (the base
 * is changed by other programs: a directory may have become a link to
 * elsewhere).  1 when the parent is a directory without the name; -ENOENT
 * or -ENOTDIR when an ancestor is missing or not a directory.
 */
static int stat_beneath(const struct bfsd_layer *base, const char *path, struct stat *st)
{
	struct bfsd_at at;
	int ret = bfsd_at_open(base, path, &at);

	if (ret)
		return ret;
	if (fstatat(at.fd, at.name, st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = errno == ENOENT ? 1 : -errno;
	bfsd_at_close(&at);
	return ret;
}

/* Main: the base alone, looked up directly every time; *top (may be
 * NULL) gets what it found there, and *fresh says so. */
static int resolve_main(struct bfsd_fs *fs, const char *path, struct bfsd_res **out,
			struct stat *top, bool *fresh)
{
	struct bfsd_res *r;
	struct stat st;
	int ret;

	if (!path[0])
		return res_root(fs, fs->main, 0, out);
	r = res_alloc(1);
	if (!r)
		return -ENOMEM;
	r->path = strdup(path);
	if (!r->path) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = stat_beneath(fs->base, path, &st);
	if (ret == 1) {
		*out = r; /* absent; its parent is a directory */
		return 0;
	}
	if (ret)
		goto out_free;
	r->type = st.st_mode & S_IFMT;
	r->vino = bfsd_fs_vino(fs, fs->base, &st);
	ret = res_set_loc(r, 0, fs->base, 0, path);
	if (ret)
		goto out_free;
	r->nloc = 1;
	if (top) {
		*top = st;
		*fresh = true;
	}
	*out = r;
	return 0;

out_free:
	bfsd_res_put(r);
	return ret;
}

/* bfsd_resolve; *fresh tells whether *top holds the lstat of the object's
 * topmost copy taken by this resolution (not when it came from the cache). */
static int resolve(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		   struct bfsd_res **out, struct stat *top, bool *fresh)
{
	char prefix[PATH_MAX], name[NAME_MAX + 1];
	struct bfsd_res *r, *next;
	size_t plen = strlen(path), pos;
	int ret;

	*fresh = false;
	if (plen >= PATH_MAX)
		return -ENAMETOOLONG;
	if (b == fs->main)
		return resolve_main(fs, path, out, top, fresh);

	r = cache_get(fs, b, path, bfsd_hash(path, plen));
	if (r)
		goto out_found;
	/* Walk down from the deepest cached ancestor (or the root). */
	memcpy(prefix, path, plen + 1);
	pos = plen;
	r = NULL;
	while (pos > 0) {
		while (pos > 0 && prefix[pos] != '/')
			pos--;
		prefix[pos] = '\0';
		r = cache_get(fs, b, prefix, bfsd_hash(prefix, pos));
		if (r)
			break;
	}
	if (!r) {
		ret = res_root(fs, b, 0, &r);
		if (ret)
			goto out_unlock;
		r->gen = atomic_load(&b->res_gen);
		r->lower_gen = atomic_load(&fs->lower_gen);
		r->hash = bfsd_hash("", 0);
		cache_put(fs, b, r);
	}
	while (pos < plen) {
		size_t start = pos ? pos + 1 : 0, len;
		const char *slash = strchr(path + start, '/');

		len = slash ? (size_t)(slash - (path + start)) : plen - start;
		if (r->type != S_IFDIR) {
			ret = r->type ? -ENOTDIR : -ENOENT;
			bfsd_res_put(r);
			goto out_unlock;
		}
		if (len > NAME_MAX) {
			bfsd_res_put(r);
			ret = -ENAMETOOLONG;
			goto out_unlock;
		}
		memcpy(name, path + start, len);
		name[len] = '\0';
		ret = resolve_child(fs, b, r, name, &next, top);
		bfsd_res_put(r);
		if (ret)
			goto out_unlock;
		*fresh = next->type && start + len == plen;
		r = next;
		r->gen = atomic_load(&b->res_gen);
		r->lower_gen = atomic_load(&fs->lower_gen);
		r->hash = bfsd_hash(r->path, strlen(r->path));
		cache_put(fs, b, r);
		pos = start + len;
	}
out_found:
	*out = r;
	return 0;

out_unlock:
	return ret;
}

int bfsd_resolve(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path, struct bfsd_res **out)
{
	bool fresh;

	return resolve(fs, b, path, out, NULL, &fresh);
}

int bfsd_resolve_stat(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
		      struct bfsd_res **out, struct stat *st)
{
	bool fresh;
	int ret = resolve(fs, b, path, out, st, &fresh);

	if (ret || !(*out)->type || fresh)
		return ret;
	ret = bfsd_res_stat(*out, st);
	if (ret) {
		bfsd_res_put(*out);
		*out = NULL;
	}
	return ret;
}

int bfsd_resolve_existing(struct bfsd_fs *fs, struct bfsd_branch *b, const char *path,
			  struct bfsd_res **out)
{
	int ret = bfsd_resolve(fs, b, path, out);

	if (!ret && !(*out)->type) {
		bfsd_res_put(*out);
		*out = NULL;
		return -ENOENT;
	}
	return ret;
}

int bfsd_res_stat(const struct bfsd_res *r, struct stat *st)
{
	const struct bfsd_loc *l;

	if (!r->type)
		return -ENOENT;
	l = &r->loc[r->attr > 0 ? r->attr : 0];
	return bfsd_layer_lstat(l->layer, l->phys, st);
}

const char *bfsd_res_lowpath(const struct bfsd_res *r)
{
	return r->lowpath ? r->lowpath : r->path;
}

bool bfsd_res_in_top(const struct bfsd_fs *fs, const struct bfsd_branch *b,
		     const struct bfsd_res *r)
{
	if (b == fs->main)
		return r->type != 0;
	return r->nloc > 0 && r->loc[0].idx == 0;
}

bool bfsd_res_top_only(const struct bfsd_fs *fs, const struct bfsd_branch *b,
		       const struct bfsd_res *r)
{
	if (b == fs->main)
		return true;
	return r->nloc == 1 && r->loc[0].idx == 0;
}
