/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two tables that find kernel nodes: aliases by (parent node, name,
 * branch), for lookups, and multi-linked files by (branch, dev, ino) of
 * their underlying object, so that a second name of one joins its node.
 * Each table doubles when it holds as many entries as slots; both are
 * chained.  Everything here is under mount->nodes_lock.
 */
#include "ll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The hash of (parent, name, branch), from the bfsd_hash of the name. */
uint64_t bfsd_names_mix(const struct bfsd_node *parent, uint64_t h, const struct bfsd_branch *b)
{
	h ^= (uintptr_t)parent * 0x9e3779b97f4a7c15ull;
	h ^= (uintptr_t)b * 0xc2b2ae3d27d4eb4full;
	return h;
}

uint64_t bfsd_names_hash(const struct bfsd_node *parent, const char *name,
			 const struct bfsd_branch *b)
{
	return bfsd_names_mix(parent, bfsd_hash(name, strlen(name)), b);
}

static size_t ident_slot(const struct bfsd_mount *m, const struct bfsd_branch *b, dev_t dev,
			 ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev ^
		     (uintptr_t)b * 0xc2b2ae3d27d4eb4full;

	return h & (m->idents_cap - 1);
}

static void hash_insert(struct bfsd_mount *m, struct bfsd_alias *a)
{
	size_t s = a->hash & (m->names_cap - 1);

	a->hnext = m->names[s];
	m->names[s] = a;
	m->nnames++;
}

void bfsd_names_add(struct bfsd_mount *m, struct bfsd_alias *a)
{
	hash_insert(m, a);
	if (a->parent == &m->root) {
		a->rnext = m->root_names;
		if (a->rnext)
			a->rnext->rpprev = &a->rnext;
		a->rpprev = &m->root_names;
		m->root_names = a;
	}
}

void bfsd_names_del(struct bfsd_mount *m, struct bfsd_alias *a)
{
	struct bfsd_alias **pp = &m->names[a->hash & (m->names_cap - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == a) {
			*pp = a->hnext;
			m->nnames--;
			break;
		}
	}
	if (a->rpprev) {
		*a->rpprev = a->rnext;
		if (a->rnext)
			a->rnext->rpprev = a->rpprev;
		a->rpprev = NULL;
		a->rnext = NULL;
	}
}

int bfsd_names_grow(struct bfsd_mount *m)
{
	size_t oldcap = m->names_cap;
	struct bfsd_alias **old = m->names, **t = calloc(oldcap * 2, sizeof(*t));

	if (!t)
		return -ENOMEM;
	m->names = t;
	m->names_cap = oldcap * 2;
	m->nnames = 0;
	for (size_t i = 0; i < oldcap; i++) {
		struct bfsd_alias *a = old[i], *next;

		for (; a; a = next) {
			next = a->hnext;
			hash_insert(m, a);
		}
	}
	free(old);
	return 0;
}

void bfsd_idents_del(struct bfsd_mount *m, struct bfsd_node *n)
{
	struct bfsd_node **pp;

	if (!n->ihashed)
		return;
	pp = &m->idents[ident_slot(m, n->branch, n->udev, n->uino)];
	for (; *pp; pp = &(*pp)->inext) {
		if (*pp == n) {
			*pp = n->inext;
			m->nidents--;
			break;
		}
	}
	n->ihashed = false;
}

static void ident_insert(struct bfsd_mount *m, struct bfsd_node *n)
{
	size_t s = ident_slot(m, n->branch, n->udev, n->uino);

	n->inext = m->idents[s];
	m->idents[s] = n;
	m->nidents++;
}

/* Double the table of multi-linked files; on no memory keep the old one:
 * its chains only grow longer. */
static void idents_grow(struct bfsd_mount *m)
{
	size_t oldcap = m->idents_cap;
	struct bfsd_node **old = m->idents, **t = calloc(oldcap * 2, sizeof(*t));

	if (!t)
		return;
	m->idents = t;
	m->idents_cap = oldcap * 2;
	m->nidents = 0;
	for (size_t i = 0; i < oldcap; i++) {
		struct bfsd_node *n = old[i], *next;

		for (; n; n = next) {
			next = n->inext;
			ident_insert(m, n);
		}
	}
	free(old);
}

void bfsd_idents_set(struct bfsd_mount *m, struct bfsd_node *n, dev_t dev, ino_t ino)
{
	if (n->ihashed && n->udev == dev && n->uino == ino)
		return;
	bfsd_idents_del(m, n);
	n->udev = dev;
	n->uino = ino;
	ident_insert(m, n);
	n->ihashed = true;
	if (m->nidents >= m->idents_cap)
		idents_grow(m);
}

struct bfsd_node *bfsd_idents_find(struct bfsd_mount *m, struct bfsd_branch *b, dev_t dev,
				   ino_t ino)
{
	struct bfsd_node *n = m->idents[ident_slot(m, b, dev, ino)];

	for (; n; n = n->inext)
		if (n->branch == b && n->udev == dev && n->uino == ino)
			return n;
	return NULL;
}

/* In alias chain a, the alias of (parent, name) with hash h, any branch. */
struct bfsd_alias *bfsd_names_chain(struct bfsd_alias *a, uint64_t h,
				    const struct bfsd_node *parent, const char *name)
{
	for (; a; a = a->hnext)
		if (a->hash == h && a->parent == parent && !strcmp(a->name, name))
			return a;
	return NULL;
}

/* From bfsd_names_chain's a, the alias that is b's (another branch's shares the
 * hash only by a collision). */
struct bfsd_alias *bfsd_names_chain_branch(struct bfsd_alias *a, uint64_t h,
					   const struct bfsd_node *parent, const char *name,
					   const struct bfsd_branch *b)
{
	while (a && a->node->branch != b)
		a = bfsd_names_chain(a->hnext, h, parent, name);
	return a;
}

struct bfsd_alias *bfsd_names_find(struct bfsd_mount *m, struct bfsd_node *parent, const char *name,
				   struct bfsd_branch *b)
{
	uint64_t h = bfsd_names_hash(parent, name, b);
	struct bfsd_alias *a = bfsd_names_chain(m->names[h & (m->names_cap - 1)], h, parent, name);

	return bfsd_names_chain_branch(a, h, parent, name, b);
}
