/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE handlers that list directories: opendir, readdir, readdirplus,
 * releasedir, and the cache of recent listings behind them.
 *
 * Directories have no open handles: when the kernel can do without them,
 * opendir answers ENOSYS once and the kernel stops asking (no OPENDIR or
 * RELEASEDIR round trip per directory open) and caches every listing, which
 * the invalidations of inval.c keep right.  A listing is therefore found by
 * its directory node, not by a handle: the one built at offset 0 is kept in
 * a small LRU cache for the reads that continue it.
 *
 * Offsets are cookies derived from a hash of each name, and a listing is
 * sorted by them: a read resumes at the first name past its offset, so
 * names added or removed meanwhile never make a reader skip or repeat one
 * that stayed, even when the listing had to be built again.  "." is 1,
 * ".." is 2, names start at 3.
 *
 * Locks: m->lists_lock (leaf) guards the cache and the reference counts;
 * a listing's own lock serialises the readers that use its copy_fd.
 */
#include "ll.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Listings kept, and names in all of them together, before the oldest go. */
#define LISTS_MAX	64
#define LISTS_NAMES_MAX (256 * 1024)

struct listing {
	uint64_t serial; /* the listed node's */
	int refs;	 /* the cache's and each reader's; m->lists_lock */
	pthread_mutex_t lock;
	struct bfsd_dirlist list;
	struct lent {
		uint64_t cookie;
		struct bfsd_dirent *de;
	} * ent;	       /* list's entries by cookie */
	struct bfsd_branch *b; /* the branch listed; referenced */
	struct bfsd_res *r;    /* the directory listed; NULL for the mount root */
	unsigned int changes;  /* b->changes when listed */
	int copy_fd;	       /* O_PATH fd of r->loc[copy_loc], for entries listed unstat'ed */
	int copy_loc;	       /* -1 when copy_fd is not open */
	struct listing *prev, *next; /* the cache, most recently built first */
};

static void listing_free(struct listing *l)
{
	if (l->copy_loc >= 0)
		close(l->copy_fd);
	bfsd_dirlist_free(&l->list);
	free(l->ent);
	bfsd_branch_put(l->b);
	bfsd_res_put(l->r);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static void listing_put(struct bfsd_mount *m, struct listing *l)
{
	bool last;

	pthread_mutex_lock(&m->lists_lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&m->lists_lock);
	if (last)
		listing_free(l);
}

/* Take l out of the cache; lists_lock held.  The cache's reference goes
 * onto *dead (chained by next) when it was the last one. */
static void cache_unlink(struct bfsd_mount *m, struct listing *l, struct listing **dead)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		m->lists = l->next;
	if (l->next)
		l->next->prev = l->prev;
	m->nlists--;
	m->lists_names -= l->list.n;
	l->prev = NULL;
	l->next = NULL;
	if (--l->refs == 0) {
		l->next = *dead;
		*dead = l;
	}
}

static void free_dead(struct listing *dead)
{
	while (dead) {
		struct listing *next = dead->next;

		listing_free(dead);
		dead = next;
	}
}

/* Keep l (one more reference) in place of any older listing of its node. */
static void cache_add(struct bfsd_mount *m, struct listing *l)
{
	struct listing *dead = NULL, *o, *next;

	pthread_mutex_lock(&m->lists_lock);
	for (o = m->lists; o; o = next) {
		next = o->next;
		if (o->serial == l->serial)
			cache_unlink(m, o, &dead);
	}
	l->refs++;
	l->next = m->lists;
	if (m->lists)
		m->lists->prev = l;
	m->lists = l;
	m->nlists++;
	m->lists_names += l->list.n;
	for (o = m->lists; o->next; o = o->next)
		;
	while (o != l && (m->nlists > LISTS_MAX || m->lists_names > LISTS_NAMES_MAX)) {
		struct listing *prev = o->prev;

		cache_unlink(m, o, &dead);
		o = prev;
	}
	pthread_mutex_unlock(&m->lists_lock);
	free_dead(dead);
}

static struct listing *cache_find(struct bfsd_mount *m, uint64_t serial)
{
	struct listing *l;

	pthread_mutex_lock(&m->lists_lock);
	for (l = m->lists; l && l->serial != serial; l = l->next)
		;
	if (l)
		l->refs++;
	pthread_mutex_unlock(&m->lists_lock);
	return l;
}

void bfsd_ll_lists_free(struct bfsd_mount *m)
{
	struct listing *dead = NULL;

	pthread_mutex_lock(&m->lists_lock);
	while (m->lists)
		cache_unlink(m, m->lists, &dead);
	pthread_mutex_unlock(&m->lists_lock);
	free_dead(dead);
}

struct branch_entries {
	struct bfsd_dirlist *l;
	uint64_t root_vino;
	int ret;
};

static void add_branch_entry(struct bfsd_branch *b, void *arg)
{
	struct branch_entries *be = arg;
	char name[BFSD_NAME_MAX + 2];
	struct bfsd_dirent *e;
	int len;

	if (be->ret)
		return;
	len = snprintf(name, sizeof(name), "@%s", b->name);
	e = len > 0 && (size_t)len < sizeof(name) ? bfsd_dirlist_add(be->l, name, (size_t)len)
						  : NULL;
	if (!e) {
		be->ret = -ENOMEM;
		return;
	}
	e->type = S_IFDIR;
	/* Final number (loc < 0): the root of b's own view. */
	e->vino = bfsd_fs_salt(b, be->root_vino);
}

/* An @NAME entry for every live branch but main. */
static int add_branch_entries(struct bfsd_fs *fs, struct bfsd_dirlist *l)
{
	struct branch_entries be = { .l = l };
	struct stat st;

	if (fstat(fs->base->dirfd, &st) < 0)
		return -errno;
	be.root_vino = bfsd_fs_vino(fs, fs->base, &st);
	bfsd_branch_each(fs, add_branch_entry, &be);
	return be.ret;
}

/* Drop the names a view root cannot show (they are special there). */
static void filter_root(struct bfsd_dirlist *l, bool mount_root)
{
	size_t keep = 0;

	for (size_t i = 0; i < l->n; i++) {
		const char *name = l->e[i].name;

		if (strcmp(name, BFSD_CTL_NAME) && !(mount_root && name[0] == '@'))
			l->e[keep++] = l->e[i];
	}
	l->n = keep;
}

static int by_cookie(const void *a, const void *b)
{
	const struct lent *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/*
 * Sort ent[0..n) by cookie, least significant byte first: 8 stable passes,
 * skipping those where every cookie has the same byte.  For a big
 * directory qsort's comparisons were a quarter of the daemon's time to
 * list it (5,000 names).  Into *ent, which may end up being tmp.
 */
static void radix_by_cookie(struct lent **ent, struct lent *tmp, size_t n)
{
	struct lent *src = *ent, *dst = tmp, *t;

	for (int shift = 0; shift < 64; shift += 8) {
		size_t count[257] = { 0 };

		for (size_t i = 0; i < n; i++)
			count[((src[i].cookie >> shift) & 0xff) + 1]++;
		if (count[((src[0].cookie >> shift) & 0xff) + 1] == n)
			continue;
		for (int d = 1; d <= 256; d++)
			count[d] += count[d - 1];
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].cookie >> shift) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	*ent = src;
}

/*
 * Order the listing by cookie, names of equal cookie by name, so a listing
 * built again orders them alike.  Equal hashes (about one pair in 2^62)
 * get consecutive cookies, so every offset names one entry.
 */
static int sort_listing(struct listing *l)
{
	size_t n = l->list.n;
	struct lent *tmp;

	l->ent = malloc((n ? n : 1) * sizeof(*l->ent));
	if (!l->ent)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		l->ent[i].cookie = (l->list.e[i].hash >> 2) + 3;
		l->ent[i].de = &l->list.e[i];
	}
	tmp = n >= 256 ? malloc(n * sizeof(*tmp)) : NULL;
	if (tmp) {
		struct lent *first = l->ent;

		radix_by_cookie(&l->ent, tmp, n);
		free(l->ent == first ? tmp : first);
	} else {
		qsort(l->ent, n, sizeof(*l->ent), by_cookie);
	}
	for (size_t i = 1; i < n; i++) {
		struct lent e = l->ent[i];
		size_t j = i;

		while (j > 0 && l->ent[j - 1].cookie == e.cookie &&
		       strcmp(l->ent[j - 1].de->name, e.de->name) > 0) {
			l->ent[j] = l->ent[j - 1];
			j--;
		}
		l->ent[j] = e;
	}
	for (size_t i = 1; i < n; i++)
		if (l->ent[i].cookie <= l->ent[i - 1].cookie)
			l->ent[i].cookie = l->ent[i - 1].cookie + 1;
	return 0;
}

struct hint_arg {
	struct bfsd_mount *m;
	struct bfsd_node *n;
	struct bfsd_branch *b;
};

/* The names the kernel looked up in this view: their numbers, no storage
 * call. */
static void known(void *arg, struct bfsd_dirent *e, size_t n)
{
	struct hint_arg *h = arg;

	bfsd_node_known(h->m, h->n, h->b, e, n);
	for (size_t i = 0; i < n; i++)
		if (e[i].known)
			e[i].vino = bfsd_fs_salt(h->b, e[i].vino); /* unsalted: an xor */
}

/* List directory node n as it is now; tree_lock held shared. */
static int build(struct bfsd_mount *m, struct bfsd_node *n, struct listing *l)
{
	struct bfsd_res *r;
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	struct hint_arg h = { m, n, NULL };
	const struct bfsd_list_hint hint = { known, &h };

	ret = bfsd_node_target(m, n, &b, path);
	if (ret)
		return ret;
	h.b = b;
	bfsd_lock_ns(m->fs, b, false);
	l->changes = atomic_load(&b->changes);
	ret = bfsd_resolve_existing(m->fs, b, path, &r);
	if (!ret) {
		ret = r->type == S_IFDIR
			      ? bfsd_dir_list_hinted(m->fs, b, r, INT_MAX, 0, &hint, &l->list)
			      : -ENOTDIR;
		if (ret)
			bfsd_res_put(r);
		else
			l->r = r;
	}
	bfsd_unlock_ns(m->fs, b);
	if (ret)
		return ret;
	if (n->kind != BFSD_NODE_OBJECT)
		filter_root(&l->list, n->kind == BFSD_NODE_ROOT);
	if (n->kind == BFSD_NODE_ROOT) {
		/* Its @NAME entries change with branches: ctl.c invalidates it. */
		atomic_store(&m->root_listed, true);
		ret = add_branch_entries(m->fs, &l->list);
	}
	l->b = bfsd_branch_get(b);
	return ret ? ret : sort_listing(l);
}

/*
 * The listing a read at offset off of node n continues: a new one at
 * offset 0 (or when none is kept), else the one kept.  Referenced.
 */
static int listing_get(struct bfsd_mount *m, struct bfsd_node *n, off_t off, struct listing **out)
{
	struct listing *l = off ? cache_find(m, n->serial) : NULL;
	int ret;

	if (l) {
		*out = l;
		return 0;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->serial = n->serial;
	l->refs = 1;
	l->copy_loc = -1;
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = build(m, n, l);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	if (ret) {
		listing_free(l);
		return ret;
	}
	cache_add(m, l);
	*out = l;
	return 0;
}

void bfsd_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);

	if (n->kind == BFSD_NODE_CTL) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* The kernel stops sending OPENDIR and RELEASEDIR, and caches every
	 * listing (FOPEN_CACHE_DIR): one round trip less per opendir(3). */
	if (m->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/*
	 * A branch directory changes only through us: the kernel may cache its
	 * listing (every change it does not make itself is invalidated, see
	 * inval.c).  Not main's (other programs write the base), nor the root
	 * or @NAME directories (their entries come and go with branches).
	 */
	if (n->kind == BFSD_NODE_OBJECT && n->branch != m->fs->main) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

/*
 * lstat of an entry the listing did not stat (one of the base's), relative
 * to its directory copy, opened once per listing without following any
 * symlink: one short fstatat per entry.
 */
static int copy_stat(struct listing *l, const struct bfsd_dirent *de, struct stat *st)
{
	const struct bfsd_loc *loc = &l->r->loc[de->loc];

	if (l->copy_loc != de->loc) {
		int fd = bfsd_layer_openat(loc->layer, loc->phys, O_PATH | O_DIRECTORY);

		if (fd < 0)
			return fd;
		if (l->copy_loc >= 0)
			close(l->copy_fd);
		l->copy_fd = fd;
		l->copy_loc = de->loc;
	}
	return fstatat(l->copy_fd, de->name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/*
 * The entry as the listing found it: its topmost copy is the one listed,
 * so one stat there gives its attributes, with no resolution (valid while
 * nothing in the branch changed since the listing was made).
 */
static int listed_entry(struct bfsd_mount *m, struct bfsd_node *dn, struct listing *l,
			const struct bfsd_dirent *de, struct fuse_entry_param *e,
			struct bfsd_node **n)
{
	struct stat st;
	dev_t udev;
	ino_t uino;
	int ret;

	if (de->st) {
		st = *de->st;
	} else {
		ret = copy_stat(l, de, &st);
		if (ret)
			return ret;
	}
	udev = st.st_dev;
	uino = st.st_ino;
	st.st_ino = bfsd_fs_salt(l->b, de->vino);
	if (S_ISDIR(st.st_mode) && l->b != m->fs->main)
		st.st_nlink = 1;
	ret = bfsd_node_lookup(m, dn, de->name, BFSD_NODE_OBJECT, l->b, bfsd_ll_via_root(dn), &st,
			       udev, uino, n);
	if (!ret)
		bfsd_ll_entry(m, *n, &st, e);
	return ret;
}

/* One plain entry; readdir(3) skips entries numbered 0, so none is. */
static size_t add_plain(fuse_req_t req, struct bfsd_node *dn, struct listing *l,
			const struct bfsd_dirent *de, const char *name, char *buf, size_t rem,
			off_t next, bool plus)
{
	struct fuse_entry_param e = { 0 };

	e.attr.st_mode = de ? de->type : S_IFDIR;
	if (!de)
		e.attr.st_ino = next == 1 ? dn->ino : 1;
	else if (de->loc < 0)
		e.attr.st_ino = de->vino;
	else
		e.attr.st_ino = bfsd_fs_salt(l->b, de->vino);
	if (!e.attr.st_ino)
		e.attr.st_ino = 1;
	if (plus)
		return fuse_add_direntry_plus(req, buf, rem, name, &e, next);
	return fuse_add_direntry(req, buf, rem, name, &e.attr, next);
}

/* One entry of a readdirplus reply: lookup counted only if it fits. */
static size_t add_plus(fuse_req_t req, struct bfsd_mount *m, struct bfsd_node *dn,
		       struct listing *l, const struct bfsd_dirent *de, char *buf, size_t rem,
		       off_t next)
{
	struct fuse_entry_param e = { 0 };
	struct bfsd_node *n = NULL;
	char path[PATH_MAX];
	struct bfsd_branch *b;
	size_t need = fuse_add_direntry_plus(req, NULL, 0, de->name, NULL, 0);
	int ret = 0;

	if (need > rem)
		return need;
	/* Looked up already: the kernel has its node and attributes, and
	 * ignores an entry with node id 0 (fuse_direntplus_link). */
	if (de->known)
		return add_plain(req, dn, l, de, de->name, buf, rem, next, true);
	if (de->loc < 0 && de->name[0] == '@') {
		b = bfsd_branch_find(m->fs, de->name + 1);
		ret = b ? bfsd_ll_special_entry(m, dn, de->name, BFSD_NODE_BROOT, b, &e, &n)
			: -ENOENT;
	} else if (de->loc >= 0 && !l->b->dead && atomic_load(&l->b->changes) == l->changes) {
		/* A dead branch's layers may be gone: l->r points into them. */
		ret = listed_entry(m, dn, l, de, &e, &n);
	} else {
		ret = bfsd_node_target(m, dn, &b, path);
		if (!ret)
			ret = bfsd_path_join(path, path, de->name);
		if (!ret)
			ret = bfsd_ll_object_entry(m, dn, de->name, l->b, bfsd_ll_via_root(dn),
						   path, &e, &n);
	}
	if (ret || !n) {
		/* Gone since the listing: show the name, no attributes. */
		memset(&e, 0, sizeof(e));
		e.attr.st_mode = de->type;
		e.attr.st_ino = 0;
	}
	return fuse_add_direntry_plus(req, buf, rem, de->name, &e, next);
}

/* Index of the first entry with a cookie above off. */
static size_t first_after(const struct listing *l, off_t off)
{
	size_t lo = 0, hi = l->list.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->ent[mid].cookie <= (uint64_t)off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t fill(fuse_req_t req, struct bfsd_mount *m, struct bfsd_node *n, struct listing *l,
		   off_t off, bool plus, char *buf, size_t size)
{
	size_t pos = 0, need;

	for (off_t dot = off + 1; dot <= 2; dot++) {
		need = add_plain(req, n, l, NULL, dot == 1 ? "." : "..", buf + pos, size - pos, dot,
				 plus);
		if (need > size - pos)
			return pos;
		pos += need;
	}
	for (size_t i = first_after(l, off); i < l->list.n; i++) {
		const struct bfsd_dirent *de = l->ent[i].de;
		off_t next = (off_t)l->ent[i].cookie;

		if (plus)
			need = add_plus(req, m, n, l, de, buf + pos, size - pos, next);
		else
			need = add_plain(req, n, l, de, de->name, buf + pos, size - pos, next,
					 false);
		if (need > size - pos)
			break;
		pos += need;
	}
	return pos;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	char *buf = malloc(size);
	struct listing *l = NULL;
	size_t len;
	int ret;

	ret = buf ? listing_get(m, n, off, &l) : -ENOMEM;
	if (ret) {
		fuse_reply_err(req, -ret);
		free(buf);
		return;
	}
	pthread_mutex_lock(&l->lock);
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	len = fill(req, m, n, l, off, plus, buf, size);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	pthread_mutex_unlock(&l->lock);
	listing_put(m, l);
	fuse_reply_buf(req, buf, len);
	free(buf);
}

void bfsd_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

void bfsd_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

void bfsd_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}
