/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel nodes: the objects FUSE node ids name, their lookup counts, and
 * the (parent, name, branch) hash that finds them again.
 *
 * A node id is the node's address (the root is FUSE_ROOT_ID).  A node lives
 * while the kernel has looked it up (nlookup > 0), a child still points at
 * it, or a file handle holds it.  Nodes keep paths, not open descriptors:
 * the open-file limit must not bound how many inodes the kernel caches.
 * Everything here is under mount->nodes_lock, a leaf lock.
 */
#include "ll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const struct bfsd_mount *m, const struct bfsd_node *parent, const char *name,
		   const struct bfsd_branch *b)
{
	uint64_t h = bfsd_hash(name, strlen(name));

	h ^= (uintptr_t)parent * 0x9e3779b97f4a7c15ull;
	h ^= (uintptr_t)b * 0xc2b2ae3d27d4eb4full;
	return h & (m->nodes_cap - 1);
}

static void hash_add(struct bfsd_mount *m, struct bfsd_node *n)
{
	size_t s = slot(m, n->parent, n->name, n->branch);

	n->hnext = m->nodes[s];
	m->nodes[s] = n;
	n->hashed = true;
	m->nnodes++;
}

static void hash_del(struct bfsd_mount *m, struct bfsd_node *n)
{
	struct bfsd_node **pp;

	if (!n->hashed)
		return;
	for (pp = &m->nodes[slot(m, n->parent, n->name, n->branch)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	n->hashed = false;
	n->hnext = NULL;
	m->nnodes--;
}

static int grow(struct bfsd_mount *m)
{
	size_t cap = m->nodes_cap * 2;
	struct bfsd_node **t = calloc(cap, sizeof(*t)), **old = m->nodes;
	size_t oldcap = m->nodes_cap;

	if (!t)
		return -ENOMEM;
	m->nodes = t;
	m->nodes_cap = cap;
	m->nnodes = 0;
	for (size_t i = 0; i < oldcap; i++) {
		struct bfsd_node *n = old[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			hash_add(m, n);
		}
	}
	free(old);
	return 0;
}

int bfsd_nodes_init(struct bfsd_mount *m)
{
	pthread_mutex_init(&m->nodes_lock, NULL);
	m->nodes_cap = 4096;
	m->nodes = calloc(m->nodes_cap, sizeof(*m->nodes));
	if (!m->nodes)
		return -ENOMEM;
	m->root.kind = BFSD_NODE_ROOT;
	m->root.type = S_IFDIR;
	m->root.ino = 1ull << 61;
	m->root.refs = 1;
	m->root.name = "";
	m->root_ctl.kind = BFSD_NODE_CTL;
	m->root_ctl.type = S_IFREG;
	m->root_ctl.parent = &m->root;
	m->root_ctl.name = BFSD_CTL_NAME;
	m->root_ctl.refs = 1;
	return 0;
}

static void node_free(struct bfsd_node *n)
{
	bfsd_branch_put(n->branch);
	free(n->name);
	free(n);
}

/* Drop a reference; the last one frees n and releases its parent. */
static void unref_locked(struct bfsd_mount *m, struct bfsd_node *n)
{
	while (n && n != &m->root && n != &m->root_ctl && --n->refs == 0) {
		struct bfsd_node *parent = n->parent;

		hash_del(m, n);
		node_free(n);
		n = parent;
	}
}

void bfsd_nodes_free(struct bfsd_mount *m)
{
	for (size_t i = 0; i < m->nodes_cap; i++) {
		struct bfsd_node *n = m->nodes[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			bfsd_branch_put(n->branch);
			free(n->name);
			free(n);
		}
	}
	free(m->nodes);
	pthread_mutex_destroy(&m->nodes_lock);
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

static struct bfsd_node *find_locked(struct bfsd_mount *m, struct bfsd_node *parent,
				     const char *name, struct bfsd_branch *b)
{
	struct bfsd_node *n;

	for (n = m->nodes[slot(m, parent, name, b)]; n; n = n->hnext)
		if (n->parent == parent && n->branch == b && !strcmp(n->name, name))
			return n;
	return NULL;
}

struct bfsd_node *bfsd_node_find(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
				 struct bfsd_branch *b)
{
	struct bfsd_node *n;

	pthread_mutex_lock(&m->nodes_lock);
	n = find_locked(m, parent, name, b);
	pthread_mutex_unlock(&m->nodes_lock);
	return n;
}

int bfsd_node_lookup(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
		     enum bfsd_node_kind kind, struct bfsd_branch *b, bool via_root, mode_t type,
		     uint64_t ino, struct bfsd_node **out)
{
	struct bfsd_node *n;
	int ret = 0;

	if (kind == BFSD_NODE_CTL && !b) {
		pthread_mutex_lock(&m->nodes_lock);
		m->root_ctl.nlookup++;
		pthread_mutex_unlock(&m->nodes_lock);
		*out = &m->root_ctl;
		return 0;
	}
	pthread_mutex_lock(&m->nodes_lock);
	n = find_locked(m, parent, name, b);
	/* A different kind of object now: the kernel needs a new inode. */
	if (n && (n->type != type || n->kind != kind))
		hash_del(m, n), n = NULL;
	if (!n) {
		if (m->nnodes >= m->nodes_cap && grow(m)) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		n = calloc(1, sizeof(*n));
		if (!n || !(n->name = strdup(name))) {
			free(n);
			ret = -ENOMEM;
			goto out_unlock;
		}
		n->kind = kind;
		n->branch = bfsd_branch_get(b);
		n->via_root = via_root;
		n->parent = parent;
		n->type = type;
		parent->refs++;
		hash_add(m, n);
	}
	if (n->nlookup++ == 0)
		n->refs++;
	n->ino = ino;
	*out = n;
out_unlock:
	pthread_mutex_unlock(&m->nodes_lock);
	return ret;
}

void bfsd_node_forget(struct bfsd_mount *m, struct bfsd_node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&m->nodes_lock);
	if (n == &m->root || n == &m->root_ctl) {
		n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
	} else if (n->nlookup) {
		n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
		if (!n->nlookup)
			unref_locked(m, n);
	}
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_hold(struct bfsd_mount *m, struct bfsd_node *n)
{
	pthread_mutex_lock(&m->nodes_lock);
	n->refs++;
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_release(struct bfsd_mount *m, struct bfsd_node *n)
{
	pthread_mutex_lock(&m->nodes_lock);
	unref_locked(m, n);
	pthread_mutex_unlock(&m->nodes_lock);
}

static int path_locked(struct bfsd_mount *m, struct bfsd_node *n, char *out)
{
	const char *names[PATH_MAX / 2];
	size_t depth = 0, len = 0;

	for (; n->kind == BFSD_NODE_OBJECT; n = n->parent) {
		if (!n->hashed)
			return -ENOENT; /* removed, or below something removed */
		if (depth == sizeof(names) / sizeof(names[0]))
			return -ENAMETOOLONG;
		names[depth++] = n->name;
	}
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
	(void)m;
	return 0;
}

int bfsd_node_path(struct bfsd_mount *m, struct bfsd_node *n, char *out)
{
	int ret;

	pthread_mutex_lock(&m->nodes_lock);
	ret = path_locked(m, n, out);
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

static void rehash_locked(struct bfsd_mount *m, struct bfsd_node *n, struct bfsd_node *parent,
			  const char *name)
{
	char *copy = strdup(name);

	if (!copy) {
		hash_del(m, n); /* unreachable by name: the kernel looks it up again */
		return;
	}
	hash_del(m, n);
	if (parent != n->parent) {
		parent->refs++;
		unref_locked(m, n->parent);
		n->parent = parent;
	}
	free(n->name);
	n->name = copy;
	hash_add(m, n);
}

void bfsd_node_moved(struct bfsd_mount *m, struct bfsd_node *oldparent, const char *oldname,
		     struct bfsd_node *newparent, const char *newname, struct bfsd_branch *b,
		     bool exchange)
{
	struct bfsd_node *from, *to;

	pthread_mutex_lock(&m->nodes_lock);
	from = oldparent ? find_locked(m, oldparent, oldname, b) : NULL;
	to = newparent ? find_locked(m, newparent, newname, b) : NULL;
	if (to)
		hash_del(m, to);
	if (from && newparent)
		rehash_locked(m, from, newparent, newname);
	else if (from)
		hash_del(m, from);
	if (exchange && to && oldparent)
		rehash_locked(m, to, oldparent, oldname);
	pthread_mutex_unlock(&m->nodes_lock);
}

void bfsd_node_unhash(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
		      struct bfsd_branch *b)
{
	struct bfsd_node *n;

	pthread_mutex_lock(&m->nodes_lock);
	n = find_locked(m, parent, name, b);
	if (n)
		hash_del(m, n);
	pthread_mutex_unlock(&m->nodes_lock);
}

struct bfsd_node *bfsd_node_walk(struct bfsd_mount *m, struct bfsd_branch *b, bool via_root,
				 const char *path)
{
	char name[NAME_MAX + 2];
	struct bfsd_node *n;
	const char *p = path;

	pthread_mutex_lock(&m->nodes_lock);
	if (via_root) {
		n = m->fs->current == b ? &m->root : NULL;
	} else {
		name[0] = '@';
		snprintf(name + 1, sizeof(name) - 1, "%s", b->name);
		n = find_locked(m, &m->root, name, b);
	}
	while (n && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len > NAME_MAX) {
			n = NULL;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		n = find_locked(m, n, name, b);
		p += len + (slash ? 1 : 0);
	}
	pthread_mutex_unlock(&m->nodes_lock);
	return n;
}

void bfsd_node_root_children(struct bfsd_mount *m, void (*fn)(struct bfsd_node *, void *),
			     void *arg)
{
	pthread_mutex_lock(&m->nodes_lock);
	for (size_t i = 0; i < m->nodes_cap; i++)
		for (struct bfsd_node *n = m->nodes[i]; n; n = n->hnext)
			if (n->parent == &m->root)
				fn(n, arg);
	pthread_mutex_unlock(&m->nodes_lock);
}
