/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel nodes: the objects FUSE node ids name, their names (aliases),
 * their lookup counts and their paths (nodehash.c holds the tables that
 * find them again).
 *
 * A node id is the node's address (the root is FUSE_ROOT_ID).  A node lives
 * while the kernel has looked it up (nlookup > 0), an alias below it still
 * points at it, or a file handle holds it.  Names are found through the
 * (parent, name, branch) hash of aliases; a multi-linked file is also found
 * by its underlying identity, so a second name of it joins the same node,
 * and a non-directory by its path in the other view of its branch.
 * Nodes keep names, never open descriptors: the open-file limit must not
 * bound how many inodes the kernel caches.  Everything here is under
 * mount->nodes_lock, a leaf lock.
 */
#include "ll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bfsd_nodes_init(struct bfsd_mount *m)
{
	pthread_mutex_init(&m->nodes_lock, NULL);
	pthread_mutex_init(&m->lists_lock, NULL);
	pthread_mutex_init(&m->pending_lock, NULL);
	pthread_mutex_init(&m->held_lock, NULL);
	pthread_mutex_init(&m->notify_lock, NULL);
	pthread_cond_init(&m->notify_work, NULL);
	pthread_cond_init(&m->notify_done, NULL);
	m->notify_tail = &m->notify_head;
	m->names_cap = 4096;
	m->names = calloc(m->names_cap, sizeof(*m->names));
	m->idents_cap = 1024;
	m->idents = calloc(m->idents_cap, sizeof(*m->idents));
	if (!m->names || !m->idents)
		return -ENOMEM;
	m->root.kind = BFSD_NODE_ROOT;
	m->root.type = S_IFDIR;
	m->root.ino = 1ull << 61;
	m->root.refs = 1;
	m->root.serial = 1;
	m->next_serial = 2;
	m->root_ctl.kind = BFSD_NODE_CTL;
	m->root_ctl.type = S_IFREG;
	m->root_ctl.refs = 1;
	m->xattr_gen = 1;
	return 0;
}

static void all_add(struct bfsd_mount *m, struct bfsd_node *n)
{
	n->prev = NULL;
	n->next = m->all;
	if (m->all)
		m->all->prev = n;
	m->all = n;
}

static void rdwr_del(struct bfsd_node *n)
{
	if (!n->rdwr_pprev)
		return;
	*n->rdwr_pprev = n->rdwr_next;
	if (n->rdwr_next)
		n->rdwr_next->rdwr_pprev = n->rdwr_pprev;
	n->rdwr_pprev = NULL;
}

/* Unlink n from every list and free it. */
static void node_free(struct bfsd_mount *m, struct bfsd_node *n)
{
	rdwr_del(n);
	if (n->prev)
		n->prev->next = n->next;
	else
		m->all = n->next;
	if (n->next)
		n->next->prev = n->prev;
	bfsd_branch_put(n->branch);
	free(n);
}

static bool is_static(const struct bfsd_mount *m, const struct bfsd_node *n)
{
	return n == &m->root || n == &m->root_ctl;
}

static void unref_locked(struct bfsd_mount *m, struct bfsd_node *n);

/*
 * Name a (parent already set) name: in place when short, as most are, so
 * that finding it again touches one cache line less.  -ENOMEM unnamed.
 */
static int alias_name(struct bfsd_alias *a, const char *name)
{
	size_t len = strlen(name);
	char *copy = a->sname;

	if (len >= sizeof(a->sname)) {
		copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
	}
	memmove(copy, name, len + 1);
	if (a->name != a->sname)
		free(a->name);
	a->name = copy;
	a->hash = bfsd_names_hash(a->parent, name, a->node->branch);
	return 0;
}

static void alias_release(struct bfsd_alias *a)
{
	if (a->name != a->sname)
		free(a->name);
}

static void alias_free(struct bfsd_mount *m, struct bfsd_alias *a)
{
	struct bfsd_node *parent = a->parent;

	bfsd_names_del(m, a);
	alias_release(a);
	free(a);
	unref_locked(m, parent);
}

/* Whether names under directory node p are through /@NAME/ (not through
 * the mount root). */
static bool under_branch_root(const struct bfsd_node *p)
{
	return p->kind == BFSD_NODE_BROOT || (p->kind == BFSD_NODE_OBJECT && !p->via_root);
}

static bool alias_at_branch(const struct bfsd_alias *a)
{
	return under_branch_root(a->parent);
}

/* Put a on its node's list of names: first when it is through /@NAME/,
 * last otherwise.  O(1) either way: a file may have thousands of names. */
static void alias_link(struct bfsd_alias *a)
{
	struct bfsd_node *n = a->node;
	struct bfsd_alias **at;

	if (!n->atail)
		n->atail = &n->aliases;
	at = alias_at_branch(a) ? &n->aliases : n->atail;
	a->next = *at;
	a->npprev = at;
	if (a->next)
		a->next->npprev = &a->next;
	else
		n->atail = &a->next;
	*at = a;
}

static void alias_unlink(struct bfsd_alias *a)
{
	*a->npprev = a->next;
	if (a->next)
		a->next->npprev = a->npprev;
	else
		a->node->atail = a->npprev;
}

/* Take one name away from its node. */
static void alias_remove(struct bfsd_mount *m, struct bfsd_alias *a)
{
	alias_unlink(a);
	alias_free(m, a);
}

/* Drop a reference; the last one frees n and its names. */
static void unref_locked(struct bfsd_mount *m, struct bfsd_node *n)
{
	if (!n || is_static(m, n) || --n->refs > 0)
		return;
	bfsd_idents_del(m, n);
	while (n->aliases) {
		struct bfsd_alias *a = n->aliases;

		n->aliases = a->next;
		alias_free(m, a);
	}
	node_free(m, n);
}

void bfsd_nodes_free(struct bfsd_mount *m)
{
	/* At exit, with no request running: what the kernel never forgot. */
	for (size_t i = 0; i < m->names_cap; i++) {
		struct bfsd_alias *a = m->names[i], *next;

		for (; a; a = next) {
			next = a->hnext;
			alias_release(a);
			free(a);
		}
	}
	while (m->all)
		node_free(m, m->all);
	free(m->names);
	free(m->idents);
	pthread_mutex_destroy(&m->nodes_lock);
	pthread_mutex_destroy(&m->lists_lock);
	pthread_mutex_destroy(&m->pending_lock);
	pthread_mutex_destroy(&m->held_lock);
	pthread_mutex_destroy(&m->notify_lock);
	pthread_cond_destroy(&m->notify_work);
	pthread_cond_destroy(&m->notify_done);
}

struct bfsd_node *bfsd_node_of(struct bfsd_mount *m, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &m->root;
	return (struct bfsd_node *)(uintptr_t)ino;
}

fuse_ino_t bfsd_node_id(struct bfsd_mount *m, const struct bfsd_node *n)
{
	if (n == &m->root)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)n;
}

static int alias_add(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_node *parent,
		     const char *name)
{
	struct bfsd_alias *a;

	if (m->nnames >= m->names_cap && bfsd_names_grow(m))
		return -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->node = n;
	a->parent = parent;
	a->name = a->sname;
	if (alias_name(a, name)) {
		free(a);
		return -ENOMEM;
	}
	parent->refs++;
	alias_link(a);
	bfsd_names_add(m, a);
	return 0;
}

static struct bfsd_node *node_new(enum bfsd_node_kind kind, struct bfsd_branch *b, bool via_root,
				  mode_t type)
{
	struct bfsd_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->branch = bfsd_branch_get(b);
	n->via_root = via_root;
	n->type = type;
	return n;
}

static struct bfsd_node *twin_locked(struct bfsd_mount *m, struct bfsd_node *parent,
				     const char *name, struct bfsd_branch *b, mode_t type);

int bfsd_node_lookup(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
		     enum bfsd_node_kind kind, struct bfsd_branch *b, bool via_root,
		     const struct stat *st, dev_t udev, ino_t uino, struct bfsd_node **out)
{
	bool linked = S_ISREG(st->st_mode) && st->st_nlink > 1 && kind == BFSD_NODE_OBJECT;
	mode_t type = st->st_mode & S_IFMT;
	struct bfsd_alias *a;
	struct bfsd_node *n = NULL;
	int ret = 0;

	pthread_mutex_lock(&m->nodes_lock);
	if (kind == BFSD_NODE_CTL && !b) {
		n = &m->root_ctl;
		goto out_count;
	}
	a = bfsd_names_find(m, parent, name, b);
	/* A different object under this name now: the kernel needs a new inode. */
	if (a && (a->node->type != type || a->node->kind != kind ||
		  (linked && a->node->ihashed && (a->node->udev != udev || a->node->uino != uino))))
		alias_remove(m, a), a = NULL;
	if (a)
		n = a->node;
	/* Another name of a multi-linked file the kernel knows: the same node. */
	if (!n && linked)
		n = bfsd_idents_find(m, b, udev, uino);
	/* The same name through the other view: the same node too. */
	if (!n && kind == BFSD_NODE_OBJECT) {
		n = twin_locked(m, parent, name, b, type);
		if (n && linked && n->ihashed && (n->udev != udev || n->uino != uino))
			n = NULL;
	}
	if (!n) {
		n = node_new(kind, b, via_root, type);
		if (!n) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		n->serial = m->next_serial++;
		all_add(m, n);
	}
	if (!a && alias_add(m, n, parent, name)) {
		if (!n->aliases && !n->refs)
			node_free(m, n);
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (linked)
		bfsd_idents_set(m, n, udev, uino);
out_count:
	if (n->nlookup++ == 0 && !is_static(m, n))
		n->refs++;
	n->ino = st->st_ino;
	*out = n;
out_unlock:
	pthread_mutex_unlock(&m->nodes_lock);
	return ret;
}

void bfsd_node_set_ident(struct bfsd_mount *m, struct bfsd_node *n, dev_t dev, ino_t ino)
{
	pthread_mutex_lock(&m->nodes_lock);
	if (n->kind == BFSD_NODE_OBJECT && S_ISREG(n->type))
		bfsd_idents_set(m, n, dev, ino);
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_rekey(struct bfsd_mount *m, struct bfsd_branch *b, dev_t dev, ino_t ino, dev_t ndev,
		     ino_t nino)
{
	struct bfsd_node *n;

	pthread_mutex_lock(&m->nodes_lock);
	n = bfsd_idents_find(m, b, dev, ino);
	if (n)
		bfsd_idents_set(m, n, ndev, nino);
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_forget(struct bfsd_mount *m, struct bfsd_node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&m->nodes_lock);
	if (n->nlookup) {
		n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
		if (!n->nlookup && !is_static(m, n))
			unref_locked(m, n);
	}
	pthread_mutex_unlock(&m->nodes_lock);
}

/* Keep n in the mount's rdwr list exactly while it has such a file. */
static void rdwr_update_locked(struct bfsd_mount *m, struct bfsd_node *n)
{
	bool want = false;

	for (const struct bfsd_file *f = n->files; f && !want; f = f->node_next)
		want = bfsd_file_rdwr(f);
	if (want && !n->rdwr_pprev) {
		n->rdwr_next = m->rdwr;
		if (m->rdwr)
			m->rdwr->rdwr_pprev = &n->rdwr_next;
		m->rdwr = n;
		n->rdwr_pprev = &m->rdwr;
	} else if (!want) {
		rdwr_del(n);
	}
}

void bfsd_node_open(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f)
{
	pthread_mutex_lock(&m->nodes_lock);
	n->refs++;
	f->node_next = n->files;
	n->files = f;
	if (bfsd_file_rdwr(f))
		rdwr_update_locked(m, n);
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_close(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_file *f)
{
	struct bfsd_file **pp;

	pthread_mutex_lock(&m->nodes_lock);
	for (pp = &n->files; *pp && *pp != f; pp = &(*pp)->node_next)
		;
	if (*pp)
		*pp = f->node_next;
	if (bfsd_file_rdwr(f))
		rdwr_update_locked(m, n);
	pthread_mutex_unlock(&m->nodes_lock);
	bfsd_file_close(m->fs, f);
	pthread_mutex_lock(&m->nodes_lock);
	unref_locked(m, n);
	pthread_mutex_unlock(&m->nodes_lock);
}

struct bfsd_node **bfsd_node_rdwr(struct bfsd_mount *m, struct bfsd_branch *b, size_t *count)
{
	struct bfsd_node **out = NULL, **grown;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&m->nodes_lock);
	for (struct bfsd_node *node = m->rdwr; node; node = node->rdwr_next) {
		if (node->branch != b)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(out, cap * sizeof(*out));
			if (!grown)
				break;
			out = grown;
		}
		node->refs++;
		out[n++] = node;
	}
	pthread_mutex_unlock(&m->nodes_lock);
	*count = n;
	return out;
}

struct bfsd_file *bfsd_node_open_file(struct bfsd_mount *m, struct bfsd_node *n)
{
	struct bfsd_file *f;

	pthread_mutex_lock(&m->nodes_lock);
	f = n->files ? bfsd_file_get(n->files) : NULL;
	pthread_mutex_unlock(&m->nodes_lock);
	return f;
}

bool bfsd_node_replaced(struct bfsd_mount *m, struct bfsd_node *n)
{
	bool replaced;

	pthread_mutex_lock(&m->nodes_lock);
	replaced = n->opened_gen != n->data_gen;
	n->opened_gen = n->data_gen;
	pthread_mutex_unlock(&m->nodes_lock);
	return replaced;
}

void bfsd_node_repoint(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_layer *l,
		       const char *phys)
{
	pthread_mutex_lock(&m->nodes_lock);
	n->data_gen++;
	for (struct bfsd_file *f = n->files; f; f = f->node_next) {
		int ret = bfsd_file_repoint(m->fs, f, l, phys);

		if (ret)
			bfsd_warn("an open file of '%s' keeps the old object: %s", phys,
				  bfsd_strerror(-ret));
	}
	pthread_mutex_unlock(&m->nodes_lock);
}

/* The path that alias a gives, up through its parents' first names;
 * *top: the kind of node the names lead up to (the root or an @NAME). */
static int alias_path_locked(const struct bfsd_alias *a, char *out, enum bfsd_node_kind *top)
{
	const char *names[PATH_MAX / 2];
	size_t depth = 0, len = 0;

	for (;;) {
		if (depth == sizeof(names) / sizeof(names[0]))
			return -ENAMETOOLONG;
		names[depth++] = a->name;
		if (a->parent->kind != BFSD_NODE_OBJECT)
			break;
		a = a->parent->aliases;
		if (!a)
			return -ENOENT; /* below something removed */
	}
	*top = a->parent->kind;
	out[0] = '\0';
	while (depth--) {
		size_t nl = strlen(names[depth]);

		if (len + nl + 2 > PATH_MAX)
			return -ENAMETOOLONG;
		if (len)
			out[len++] = '/';
		memcpy(out + len, names[depth], nl + 1);
		len += nl;
	}
	return 0;
}

/*
 * n's path in its branch, through one of its names whose directories are
 * all still named, a name through /@NAME/ first.  A file known through
 * both views has a name in each: the @NAME view's directories follow
 * every change of the branch, the root's only while the root shows it, so
 * the root's may be gone (moved where the root never looked) or stale.
 */
static int path_locked(struct bfsd_node *n, char *out)
{
	enum bfsd_node_kind top;
	int ret = -ENOENT;

	if (n->kind != BFSD_NODE_OBJECT) {
		out[0] = '\0';
		return 0;
	}
	for (int pass = 0; pass < 2 && ret; pass++) {
		for (const struct bfsd_alias *a = n->aliases; a; a = a->next) {
			if (!pass && !alias_at_branch(a))
				break;
			ret = alias_path_locked(a, out, &top);
			if (!ret && (pass || top == BFSD_NODE_BROOT))
				return 0;
			if (ret && ret != -ENOENT)
				return ret;
			ret = -ENOENT;
		}
	}
	return ret;
}

bool bfsd_node_named(struct bfsd_mount *m, struct bfsd_node *n)
{
	bool named;

	pthread_mutex_lock(&m->nodes_lock);
	named = n->aliases != NULL;
	pthread_mutex_unlock(&m->nodes_lock);
	return named;
}

int bfsd_node_path(struct bfsd_mount *m, struct bfsd_node *n, char *out)
{
	int ret;

	pthread_mutex_lock(&m->nodes_lock);
	ret = n->aliases || n->kind != BFSD_NODE_OBJECT ? path_locked(n, out) : -ENOENT;
	pthread_mutex_unlock(&m->nodes_lock);
	return ret;
}

int bfsd_node_target(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_branch **b, char *path)
{
	switch (n->kind) {
	case BFSD_NODE_ROOT:
		*b = m->fs->current;
		path[0] = '\0';
		return 0;
	case BFSD_NODE_BROOT:
		*b = n->branch;
		path[0] = '\0';
		return n->branch->dead ? -ESTALE : 0;
	case BFSD_NODE_OBJECT:
		*b = n->branch;
		if (n->branch->dead)
			return -ESTALE;
		return bfsd_node_path(m, n, path);
	case BFSD_NODE_CTL:
		break;
	}
	return -EINVAL;
}

/* Give alias a a new (parent, name). */
static void alias_move(struct bfsd_mount *m, struct bfsd_alias *a, struct bfsd_node *parent,
		       const char *name)
{
	struct bfsd_node *old = a->parent;

	bfsd_names_del(m, a);
	a->parent = parent;
	if (alias_name(a, name)) {
		a->parent = old;
		bfsd_names_add(m, a);
		alias_remove(m, a); /* unnamed: the kernel looks it up again */
		return;
	}
	if (parent != old) {
		/* Moved between the views: its place among the names too. */
		if (under_branch_root(old) != under_branch_root(parent)) {
			alias_unlink(a);
			alias_link(a);
		}
		parent->refs++;
		unref_locked(m, old);
	}
	bfsd_names_add(m, a);
}

void bfsd_node_moved(struct bfsd_mount *m, struct bfsd_node *oldparent, const char *oldname,
		     struct bfsd_node *newparent, const char *newname, struct bfsd_branch *b,
		     bool exchange)
{
	struct bfsd_alias *from, *to;

	pthread_mutex_lock(&m->nodes_lock);
	/* A parent may live only for the names below it: the one taken away
	 * here must not free it while the other is moved in. */
	for (int i = 0; i < 2; i++) {
		struct bfsd_node *p = i ? newparent : oldparent;

		if (p && !is_static(m, p))
			p->refs++;
	}
	from = oldparent ? bfsd_names_find(m, oldparent, oldname, b) : NULL;
	to = newparent ? bfsd_names_find(m, newparent, newname, b) : NULL;
	/* A name onto itself, through the other view (a directory is two
	 * inodes, so the kernel lets that through): nothing moves. */
	if (from && from == to)
		to = NULL, from = NULL;
	if (to && !exchange)
		alias_remove(m, to), to = NULL;
	else if (to)
		bfsd_names_del(m, to); /* re-added below, under the old name */
	if (from && newparent)
		alias_move(m, from, newparent, newname);
	else if (from)
		alias_remove(m, from);
	if (to && oldparent) {
		bfsd_names_add(m, to);
		alias_move(m, to, oldparent, oldname);
	} else if (to) {
		bfsd_names_add(m, to);
		alias_remove(m, to);
	}
	unref_locked(m, newparent);
	unref_locked(m, oldparent);
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_unhash(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
		      struct bfsd_branch *b)
{
	struct bfsd_alias *a;

	pthread_mutex_lock(&m->nodes_lock);
	a = bfsd_names_find(m, parent, name, b);
	if (a)
		alias_remove(m, a);
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_unhash_path(struct bfsd_mount *m, struct bfsd_branch *b, const char *path)
{
	char parent[PATH_MAX];
	const char *name = bfsd_path_split(path, parent);

	for (int via_root = 0; via_root < 2; via_root++) {
		struct bfsd_node *pn = bfsd_node_walk(m, b, via_root, parent);

		if (pn)
			bfsd_node_unhash(m, pn, name, b);
		bfsd_node_put(m, pn);
	}
}

/* Lookups bfsd_node_known runs side by side, so their cache misses overlap. */
#define KNOWN_BATCH 16

void bfsd_node_known(struct bfsd_mount *m, struct bfsd_node *parent, struct bfsd_branch *b,
		     struct bfsd_dirent *e, size_t n)
{
	struct bfsd_alias *a[KNOWN_BATCH];
	uint64_t h[KNOWN_BATCH];

	pthread_mutex_lock(&m->nodes_lock);
	for (size_t at = 0; at < n; at += KNOWN_BATCH) {
		size_t k = n - at < KNOWN_BATCH ? n - at : KNOWN_BATCH;
		size_t mask = m->names_cap - 1;

		for (size_t i = 0; i < k; i++) {
			h[i] = bfsd_names_mix(parent, e[at + i].hash, b);
			__builtin_prefetch(&m->names[h[i] & mask]);
		}
		for (size_t i = 0; i < k; i++) {
			a[i] = m->names[h[i] & mask];
			if (a[i])
				__builtin_prefetch(a[i]);
		}
		for (size_t i = 0; i < k; i++) {
			a[i] = bfsd_names_chain(a[i], h[i], parent, e[at + i].name);
			if (a[i])
				__builtin_prefetch(a[i]->node);
		}
		for (size_t i = 0; i < k; i++) {
			struct bfsd_dirent *d = &e[at + i];
			struct bfsd_alias *x =
				bfsd_names_chain_branch(a[i], h[i], parent, d->name, b);

			if (x && d->type && x->node->kind == BFSD_NODE_OBJECT &&
			    x->node->type == d->type) {
				d->known = true;
				d->vino = x->node->ino;
			}
		}
	}
	pthread_mutex_unlock(&m->nodes_lock);
}

static struct bfsd_node *walk_locked(struct bfsd_mount *m, struct bfsd_branch *b, bool via_root,
				     const char *path)
{
	char name[NAME_MAX + 2];
	struct bfsd_alias *a;
	struct bfsd_node *n;
	const char *p = path;

	/*
	 * Through the root even when it shows another branch now: the names
	 * below it are b's own (the table is keyed by branch), and the kernel
	 * may keep b's directories there, unhashed but alive while something
	 * holds them, and splice one back with all it cached below it when
	 * the root shows b again and a lookup gives the same node.  Every
	 * change of b meanwhile must reach them.
	 */
	if (via_root) {
		n = &m->root;
	} else {
		name[0] = '@';
		snprintf(name + 1, sizeof(name) - 1, "%s", b->name);
		a = bfsd_names_find(m, &m->root, name, b);
		n = a ? a->node : NULL;
	}
	while (n && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len > NAME_MAX)
			return NULL;
		memcpy(name, p, len);
		name[len] = '\0';
		a = bfsd_names_find(m, n, name, b);
		n = a ? a->node : NULL;
		p += len + (slash ? 1 : 0);
	}
	return n;
}

struct bfsd_node *bfsd_node_walk(struct bfsd_mount *m, struct bfsd_branch *b, bool via_root,
				 const char *path)
{
	struct bfsd_node *n;

	pthread_mutex_lock(&m->nodes_lock);
	n = walk_locked(m, b, via_root, path);
	if (n && !is_static(m, n))
		n->refs++;
	pthread_mutex_unlock(&m->nodes_lock);
	return n;
}

void bfsd_node_hold(struct bfsd_mount *m, struct bfsd_node *n)
{
	pthread_mutex_lock(&m->nodes_lock);
	if (!is_static(m, n))
		n->refs++;
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_put(struct bfsd_mount *m, struct bfsd_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&m->nodes_lock);
	unref_locked(m, n);
	pthread_mutex_unlock(&m->nodes_lock);
}

/*
 * The node the other view of b has for name below parent's path, when it
 * is a non-directory of this type: the kernel then gets the same inode
 * through both views, so locks, a FIFO's pipe, pages and attributes are
 * one, as on a disk.  Directories stay two inodes (twins): the kernel's
 * dentry cache allows a directory one parent.
 */
static struct bfsd_node *twin_locked(struct bfsd_mount *m, struct bfsd_node *parent,
				     const char *name, struct bfsd_branch *b, mode_t type)
{
	bool via_root = parent->kind == BFSD_NODE_ROOT ||
			(parent->kind == BFSD_NODE_OBJECT && parent->via_root);
	struct bfsd_node *tp;
	struct bfsd_alias *a;
	char path[PATH_MAX];

	if (type == S_IFDIR || parent->kind == BFSD_NODE_CTL || path_locked(parent, path))
		return NULL;
	tp = walk_locked(m, b, !via_root, path);
	a = tp ? bfsd_names_find(m, tp, name, b) : NULL;
	if (!a || a->node->kind != BFSD_NODE_OBJECT || a->node->type != type)
		return NULL;
	return a->node;
}

void bfsd_node_root_children(struct bfsd_mount *m,
			     void (*fn)(struct bfsd_node *, const char *, void *), void *arg)
{
	pthread_mutex_lock(&m->nodes_lock);
	for (struct bfsd_alias *a = m->root_names; a; a = a->rnext)
		fn(a->node, a->name, arg);
	pthread_mutex_unlock(&m->nodes_lock);
}
