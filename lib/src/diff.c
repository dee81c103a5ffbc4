/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff of a branch against its parent.
 *
 * The branch's own layers (the top nown of its stack, docs/format.md) are
 * walked as one merged tree, top layer first, the first occurrence of a name
 * deciding what it is, as the daemon's commit planner does.  Each name is
 * then compared with the parent's view, which is read through the mount at
 * <root>/@PARENT:
 *   whiteout                          deleted, when the parent has it
 *   non-directory                     modified when the parent has the path,
 *                                     else added
 *   directory with a redirect marker  renamed from the marker's path
 *   opaque directory                  replaced (modified) when the parent has
 *                                     it; the parent's children it lacks are
 *                                     deleted
 *   other directory                   added when the parent lacks it,
 *                                     modified when its mode or owner differ
 * A renamed directory's old name carries a whiteout; that deletion is folded
 * into the rename.  A renamed non-directory is a copy at its new name that
 * carries an origin marker (the raw number of the object it came from) plus
 * a whiteout at its old name: an added entry whose origin is the raw number
 * of a deleted entry of the same type becomes "renamed from" it
 * (diff_renames.c).  The parent view shows raw numbers mixed with the
 * parent's id (docs/format.md), which unmix() undoes.  Paths inside a layer
 * live in the namespace of the layers below it only through redirects, so
 * every lower lookup translates its path first (translate()).
 */
#define _GNU_SOURCE
#include "client.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct walk {
	struct bfs_diff *d;
	char **layer; /* absolute paths of the own layers, top first */
	int nown;
	uint64_t pid;	      /* the parent's branch id */
	char pview[PATH_MAX]; /* <root>/@PARENT */
};

enum kind { K_NONE, K_WHITEOUT, K_OBJECT, K_DIR };

/* A name resolved in the own layers. */
struct res {
	enum kind kind;
	struct stat st; /* of its topmost copy */
	int limit;	/* a directory's content lives in layers [0, limit) */
	bool cut;	/* nothing below limit shows: it replaced the parent's */
	bool redirected;
	bool has_origin; /* a non-directory with an origin marker */
	uint64_t origin;
	char src[PATH_MAX]; /* redirected: its old path in the parent */
};

/* The redirect marker of the directory abs, or "" when it has none. */
static bool redirect_of(const char *abs, char *out)
{
	int n = bfs__marker(abs, "redirect", out, PATH_MAX - 1);

	out[n > 0 ? n : 0] = '\0';
	return n > 0;
}

/*
 * path (in the namespace of layer from) as layers [to, ...) see it: apply
 * the redirects of layers from..to-1, the deepest redirected
 * ancestor-or-self in each layer winning.
 */
static int translate(const struct walk *w, int from, const char *path, int to, char *out)
{
	char cur[PATH_MAX], abs[PATH_MAX], target[PATH_MAX], best_target[PATH_MAX];

	snprintf(cur, sizeof(cur), "%s", path);
	for (int idx = from; idx < to; idx++) {
		size_t best = 0, len = strlen(cur);

		for (size_t i = 1; i <= len; i++) {
			struct stat st;

			if (cur[i] != '/' && cur[i] != '\0')
				continue;
			if (snprintf(abs, sizeof(abs), "%s/%.*s", w->layer[idx], (int)i, cur) >=
			    (int)sizeof(abs))
				return -ENAMETOOLONG;
			if (lstat(abs, &st) < 0 || !S_ISDIR(st.st_mode))
				break;
			if (redirect_of(abs, target)) {
				best = i;
				memcpy(best_target, target, sizeof(target));
			}
		}
		if (best) {
			char next[PATH_MAX];

			if (snprintf(next, sizeof(next), "%s%s", best_target, cur + best) >=
			    (int)sizeof(next))
				return -ENAMETOOLONG;
			memcpy(cur, next, sizeof(cur));
		}
	}
	memcpy(out, cur, PATH_MAX);
	return 0;
}

/* Where path (in the top layer's namespace) is in layer j: out (PATH_MAX). */
static int layer_path(const struct walk *w, int j, const char *path, char *out)
{
	char p[PATH_MAX];
	int ret = translate(w, 0, path, j, p);

	return ret ? ret : bfs__join(out, w->layer[j], p);
}

/* Resolve path in the own layers [0, limit). */
static int resolve(const struct walk *w, const char *path, int limit, struct res *r)
{
	char abs[PATH_MAX], target[PATH_MAX];
	struct stat st;
	int ret;

	memset(r, 0, sizeof(*r));
	r->limit = limit;
	for (int j = 0; j < limit; j++) {
		ret = layer_path(w, j, path, abs);
		if (ret)
			return ret;
		if (lstat(abs, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return -errno;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (r->kind == K_NONE) {
				r->kind = bfs__is_whiteout(abs, &st) ? K_WHITEOUT : K_OBJECT;
				r->st = st;
				r->has_origin = r->kind == K_OBJECT &&
						bfs__marker(abs, "origin", (char *)&r->origin,
							    sizeof(r->origin)) == sizeof(r->origin);
			} else {
				r->limit = j; /* a directory above replaced it */
				r->cut = true;
			}
			return 0;
		}
		if (r->kind == K_NONE) {
			r->kind = K_DIR;
			r->st = st;
		}
		if (!r->redirected && redirect_of(abs, target)) {
			ret = translate(w, j + 1, target, w->nown, r->src);
			if (ret)
				return ret;
			r->redirected = true;
		}
		if (bfs__marker(abs, "opaque", target, 1) == 1 && target[0] == '1') {
			r->limit = j + 1;
			r->cut = true;
			return 0;
		}
	}
	return 0;
}

static enum bfs_file_type file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return BFS_TYPE_FILE;
	case S_IFDIR:
		return BFS_TYPE_DIR;
	case S_IFLNK:
		return BFS_TYPE_SYMLINK;
	case S_IFIFO:
		return BFS_TYPE_FIFO;
	case S_IFSOCK:
		return BFS_TYPE_SOCKET;
	case S_IFCHR:
		return BFS_TYPE_CHAR;
	case S_IFBLK:
		return BFS_TYPE_BLOCK;
	}
	return BFS_TYPE_UNKNOWN;
}

static int add(struct bfs_diff *d, enum bfs_change change, const char *path, const char *old,
	       const struct stat *st)
{
	struct bfs_diff_entry *e;

	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 32;
		struct bfs_diff_ident *id;

		e = realloc(d->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		d->e = e;
		id = realloc(d->id, cap * sizeof(*id));
		if (!id)
			return -ENOMEM;
		d->id = id;
		d->cap = cap;
	}
	d->id[d->n] = (struct bfs_diff_ident){ 0 };
	e = &d->e[d->n];
	e->change = change;
	e->type = file_type(st->st_mode);
	e->size = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size;
	e->path = strdup(path);
	e->old_path = old ? strdup(old) : NULL;
	if (!e->path || (old && !e->old_path)) {
		free((char *)e->path);
		free((char *)e->old_path);
		return -ENOMEM;
	}
	d->n++;
	return 0;
}

/* The raw number of an object the parent's view shows with st_ino ino. */
static uint64_t unmix(const struct walk *w, uint64_t ino)
{
	return ino ^ ((w->pid & 0x7fffffull) << 40);
}

/* The entry just added is the deletion of the parent's ppath, shown as pst. */
static int deleted_ident(struct walk *w, const char *ppath, const struct stat *pst)
{
	struct bfs_diff_ident *id = &w->d->id[w->d->n - 1];

	if (S_ISDIR(pst->st_mode))
		return 0;
	id->ppath = strdup(ppath);
	if (!id->ppath)
		return -ENOMEM;
	id->raw = unmix(w, pst->st_ino);
	id->known = true;
	return 0;
}

/* lstat of path in the parent's view: 0, or -errno (-ENOENT: absent). */
static int parent_stat(const struct walk *w, const char *path, struct stat *st)
{
	char abs[PATH_MAX];
	int ret = bfs__join(abs, w->pview, path);

	if (ret)
		return ret;
	return lstat(abs, st) < 0 ? -errno : 0;
}

/* The sorted, unique names of directory path in layers [0, limit). */
struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 32;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n] = strdup(name);
	return ns->v[ns->n++] ? 0 : -ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_has(const struct names *ns, const char *name)
{
	return bsearch(&name, ns->v, ns->n, sizeof(*ns->v), cmp_str) != NULL;
}

static int read_names(struct names *ns, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while (!ret && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = names_add(ns, de->d_name);
	closedir(d);
	return ret;
}

static int list_names(const struct walk *w, const char *path, int limit, struct names *ns)
{
	char abs[PATH_MAX];
	size_t out = 0;
	int ret = 0;

	for (int j = 0; j < limit && !ret; j++) {
		ret = layer_path(w, j, path, abs);
		if (!ret)
			ret = read_names(ns, abs);
	}
	if (ret || !ns->n)
		return ret;
	qsort(ns->v, ns->n, sizeof(*ns->v), cmp_str);
	for (size_t i = 0; i < ns->n; i++) {
		if (out && !strcmp(ns->v[out - 1], ns->v[i]))
			free(ns->v[i]);
		else
			ns->v[out++] = ns->v[i];
	}
	ns->n = out;
	return 0;
}

/* The parent's children of its directory ppath that the branch lacks. */
static int deleted_children(struct walk *w, const char *path, const char *ppath,
			    const struct names *have)
{
	struct names theirs = { 0 };
	char abs[PATH_MAX], child[PATH_MAX], pchild[PATH_MAX];
	struct stat st;
	int ret = bfs__join(abs, w->pview, ppath);

	if (!ret)
		ret = read_names(&theirs, abs);
	for (size_t i = 0; i < theirs.n && !ret; i++) {
		if (names_has(have, theirs.v[i]))
			continue;
		ret = bfs__join(child, path, theirs.v[i]);
		if (!ret)
			ret = bfs__join(pchild, ppath, theirs.v[i]);
		if (!ret && !parent_stat(w, pchild, &st)) {
			ret = add(w->d, BFS_CHANGE_DELETED, child, NULL, &st);
			if (!ret)
				ret = deleted_ident(w, pchild, &st);
		}
	}
	names_free(&theirs);
	return ret;
}

static int walk_dir(struct walk *w, const char *path, const char *ppath, int limit);

/* Classify the directory path (parent path ppath) resolved as r. */
static int classify_dir(struct walk *w, const char *path, const char *ppath, const struct res *r)
{
	const char *src = r->redirected ? r->src : ppath;
	struct stat pst = { 0 };
	int ret, have = parent_stat(w, src, &pst);

	if (have && have != -ENOENT && have != -ENOTDIR)
		return have;
	if (have)
		ret = add(w->d, BFS_CHANGE_ADDED, path, NULL, &r->st);
	else if (r->redirected)
		ret = add(w->d, BFS_CHANGE_RENAMED, path, src, &r->st);
	else if (r->cut || !S_ISDIR(pst.st_mode) ||
		 (pst.st_mode & 07777) != (r->st.st_mode & 07777) || pst.st_uid != r->st.st_uid ||
		 pst.st_gid != r->st.st_gid)
		ret = add(w->d, BFS_CHANGE_MODIFIED, path, NULL, &r->st);
	else
		ret = 0;
	if (ret)
		return ret;
	/* A replaced directory: what the parent had in it and it lacks. */
	if (!have && S_ISDIR(pst.st_mode) && r->cut && !r->redirected) {
		struct names ns = { 0 };

		ret = list_names(w, path, r->limit, &ns);
		if (!ret)
			ret = deleted_children(w, path, src, &ns);
		names_free(&ns);
		if (ret)
			return ret;
	}
	return walk_dir(w, path, src, r->limit);
}

static int classify(struct walk *w, const char *path, const char *ppath, const struct res *r)
{
	struct stat pst = { 0 };
	int have, ret;

	if (r->kind == K_DIR)
		return classify_dir(w, path, ppath, r);
	if (r->kind == K_NONE)
		return 0;
	have = parent_stat(w, ppath, &pst);
	if (have && have != -ENOENT && have != -ENOTDIR)
		return have;
	if (r->kind == K_WHITEOUT) {
		if (have)
			return 0;
		ret = add(w->d, BFS_CHANGE_DELETED, path, NULL, &pst);
		return ret ? ret : deleted_ident(w, ppath, &pst);
	}
	ret = add(w->d, have ? BFS_CHANGE_ADDED : BFS_CHANGE_MODIFIED, path, NULL, &r->st);
	if (!ret && have && r->has_origin)
		w->d->id[w->d->n - 1] = (struct bfs_diff_ident){ .raw = r->origin, .known = true };
	return ret;
}

/* One level of the walk, on the heap: the recursion is as deep as the tree. */
struct level {
	struct res r;
	char child[PATH_MAX];
	char pchild[PATH_MAX];
};

static int walk_dir(struct walk *w, const char *path, const char *ppath, int limit)
{
	struct names ns = { 0 };
	struct level *l = malloc(sizeof(*l));
	int ret = l ? list_names(w, path, limit, &ns) : -ENOMEM;

	for (size_t i = 0; i < ns.n && !ret; i++) {
		ret = bfs__join(l->child, path, ns.v[i]);
		if (!ret)
			ret = bfs__join(l->pchild, ppath, ns.v[i]);
		if (!ret)
			ret = resolve(w, l->child, limit, &l->r);
		if (!ret)
			ret = classify(w, l->child, l->pchild, &l->r);
	}
	names_free(&ns);
	free(l);
	return ret;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct bfs_diff_entry *x = a, *y = b;

	return strcmp(x->path, y->path);
}

static int diff_branch(struct bfs_diff *d, const struct bfs_mount *m, const struct bfs_state *st,
		       const struct bfs_state_branch *b)
{
	const struct bfs_state_branch *p = bfs__state_find(st, b->parent);
	struct walk w = { .d = d, .nown = b->nown, .pid = b->parent };
	int ret = 0;

	if (!p)
		return -ENOENT;
	d->parent = strdup(p->name);
	w.layer = calloc(b->nown ? b->nown : 1, sizeof(*w.layer));
	if (!d->parent || !w.layer)
		ret = -ENOMEM;
	for (int i = 0; i < b->nown && !ret; i++)
		if (asprintf(&w.layer[i], "%s/layers/%" PRIu64, m->storage, b->layers[i]) < 0)
			ret = -ENOMEM;
	if (!ret &&
	    snprintf(w.pview, sizeof(w.pview), "%s/@%s", m->root, p->name) >= (int)sizeof(w.pview))
		ret = -ENAMETOOLONG;
	if (!ret)
		ret = walk_dir(&w, "", "", w.nown);
	for (int i = 0; i < b->nown && w.layer; i++)
		free(w.layer[i]);
	free(w.layer);
	if (!ret)
		ret = bfs__diff_fold_renames(d);
	if (!ret)
		ret = bfs__diff_pair_renames(d);
	bfs__diff_idents_free(d);
	if (ret)
		return ret;
	if (d->n)
		qsort(d->e, d->n, sizeof(*d->e), cmp_entry);
	return 0;
}

int bfs_diff(struct bfs_diff **out, struct bfs_mount *m, const char *branch)
{
	const struct bfs_state_branch *b;
	struct bfs_state st = { 0 };
	struct bfs_diff *d;
	char *cur = NULL;
	int ret = bfs__refresh_info(m);

	if (!ret && !m->storage)
		ret = -ENOTSUP;
	if (!ret && !branch) {
		ret = bfs_current(&cur, m);
		branch = cur;
	}
	if (ret) {
		free(cur);
		return ret;
	}
	d = calloc(1, sizeof(*d));
	ret = d ? bfs__state_read(&st, m->storage) : -ENOMEM;
	if (!ret) {
		b = bfs__state_find_name(&st, branch);
		d->branch = strdup(branch);
		if (!b)
			ret = -ENOENT;
		else if (!b->id)
			ret = -EINVAL;
		else
			ret = d->branch ? diff_branch(d, m, &st, b) : -ENOMEM;
	}
	bfs__state_free(&st);
	free(cur);
	if (ret) {
		bfs_diff_free(d);
		return ret;
	}
	*out = d;
	return 0;
}

const char *bfs_diff_branch(const struct bfs_diff *d)
{
	return d->branch;
}

const char *bfs_diff_parent(const struct bfs_diff *d)
{
	return d->parent;
}

size_t bfs_diff_count(const struct bfs_diff *d)
{
	return d->n;
}

const struct bfs_diff_entry *bfs_diff_get(const struct bfs_diff *d, size_t i)
{
	return i < d->n ? &d->e[i] : NULL;
}

void bfs_diff_free(struct bfs_diff *d)
{
	if (!d)
		return;
	bfs__diff_idents_free(d);
	for (size_t i = 0; i < d->n; i++)
		bfs__diff_entry_free(&d->e[i]);
	free(d->e);
	free(d->branch);
	free(d->parent);
	free(d);
}
