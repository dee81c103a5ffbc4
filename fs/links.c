/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hard links of the base: which paths name the same multi-linked inode.
 *
 * A file with several names must stay one file.  When a branch copies one
 * name up, every other name it still shows of that inode comes up as a link
 * to the same copy; when main writes such a file in place, every name is
 * preserved.  Both need the other names, which the filesystem cannot give,
 * so the base is walked once, on the first need, for regular files with
 * st_nlink > 1; main's own links, unlinks, renames and commits keep the map
 * current after that.  Names made behind the mount's back are not seen; a
 * stale path is detected by checking its inode before use.
 *
 * A storage layer's own links get a map of the same kind, made by a walk
 * of the layer on first need and kept with it (bfsd_layer_link_names).
 *
 * A branch shows a name of a lower layer at another path when it moved a
 * directory above it: bfsd_links_map_up follows the redirects of the
 * layers above to that path.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct link_entry {
	dev_t dev;
	ino_t ino;
	size_t n, cap;
	char **paths;
	uint64_t kept_in; /* id of the preservation layer holding every name */
	struct link_entry *next;
};

/* A map starts with this many buckets and doubles when it holds as many
 * inodes as buckets. */
#define LINK_BUCKETS 1024

static size_t bucket(const struct bfsd_link_map *m, dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) & (m->cap - 1);
}

static int map_init(struct bfsd_link_map *m)
{
	m->b = calloc(LINK_BUCKETS, sizeof(*m->b));
	if (!m->b)
		return -ENOMEM;
	m->cap = LINK_BUCKETS;
	m->n = 0;
	return 0;
}

/* Double the buckets; on no memory keep the old ones (longer chains). */
static void map_grow(struct bfsd_link_map *m)
{
	size_t oldcap = m->cap;
	struct link_entry **old = m->b, **t = calloc(oldcap * 2, sizeof(*t));

	if (!t)
		return;
	m->b = t;
	m->cap = oldcap * 2;
	for (size_t b = 0; b < oldcap; b++) {
		struct link_entry *e = old[b], *next;

		for (; e; e = next) {
			struct link_entry **head = &t[bucket(m, e->dev, e->ino)];

			next = e->next;
			e->next = *head;
			*head = e;
		}
	}
	free(old);
}

static void map_free(struct bfsd_link_map *m)
{
	for (size_t b = 0; m->b && b < m->cap; b++) {
		struct link_entry *e = m->b[b], *next;

		for (; e; e = next) {
			next = e->next;
			bfsd_links_free(e->paths, e->n);
			free(e);
		}
	}
	free(m->b);
	m->b = NULL;
}

static struct link_entry *entry_find(struct bfsd_link_map *m, dev_t dev, ino_t ino, bool create)
{
	struct link_entry *e, **head = &m->b[bucket(m, dev, ino)];

	for (e = *head; e; e = e->next)
		if (e->dev == dev && e->ino == ino)
			return e;
	if (!create)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->dev = dev;
	e->ino = ino;
	e->next = *head;
	*head = e;
	if (++m->n >= m->cap)
		map_grow(m);
	return e;
}

static void entry_add_path(struct link_entry *e, const char *path)
{
	char **p;

	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->paths[i], path))
			return;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 4;

		p = realloc(e->paths, cap * sizeof(*p));
		if (!p)
			return;
		e->paths = p;
		e->cap = cap;
	}
	e->paths[e->n] = strdup(path);
	if (e->paths[e->n])
		e->n++;
}

/*
 * Call visit for each entry below the directory name of dirfd, whose path
 * is prefix, and go down into those it returns true for.  Each level is
 * opened from the one above by name, never following a symlink: the base
 * may change while we walk it.
 */
typedef bool (*visit_fn)(void *arg, int dirfd, const struct dirent *de, const char *path);

static void walk(int dirfd, const char *name, const char *prefix, visit_fn visit, void *arg)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	d = bfsd_fdopendir(fd);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    bfsd_path_join(path, prefix, de->d_name))
			continue;
		if (visit(arg, fd, de, path))
			walk(fd, de->d_name, path, visit, arg);
	}
	closedir(d);
}

/* visit_fn recording the multi-linked files in the map arg. */
static bool visit_linked(void *arg, int dirfd, const struct dirent *de, const char *path)
{
	struct bfsd_link_map *m = arg;
	struct stat st;

	if (de->d_type == DT_DIR)
		return true;
	if ((de->d_type != DT_REG && de->d_type != DT_UNKNOWN) ||
	    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (S_ISREG(st.st_mode) && st.st_nlink > 1)
		entry_add_path(entry_find(m, st.st_dev, st.st_ino, true), path);
	return S_ISDIR(st.st_mode);
}

/* Collect the multi-linked files below the directory name of dirfd, whose
 * path is prefix, into a new map m. */
static void scan(struct bfsd_link_map *m, int dirfd, const char *name, const char *prefix)
{
	if (!map_init(m))
		walk(dirfd, name, prefix, visit_linked, m);
}

static void ensure_built(struct bfsd_fs *fs)
{
	if (!fs->links.b)
		scan(&fs->links, fs->base->dirfd, ".", "");
}

void bfsd_links_prepare(struct bfsd_fs *fs)
{
	pthread_mutex_lock(&fs->links_lock);
	ensure_built(fs);
	pthread_mutex_unlock(&fs->links_lock);
}

/* Copies of the names of e (NULL: none) in layer l that still are (dev,
 * ino), under the lock of e's map. */
static int entry_names(struct bfsd_layer *l, const struct link_entry *e, dev_t dev, ino_t ino,
		       char ***out, size_t *n)
{
	char **v = e ? calloc(e->n ? e->n : 1, sizeof(*v)) : NULL;
	size_t k = 0;

	for (size_t i = 0; v && i < e->n; i++) {
		struct stat st;

		if (!bfsd_layer_lstat(l, e->paths[i], &st) && st.st_dev == dev && st.st_ino == ino)
			v[k++] = strdup(e->paths[i]);
	}
	*out = v;
	*n = k;
	return e && !v ? -ENOMEM : 0;
}

int bfsd_links_names(struct bfsd_fs *fs, dev_t dev, ino_t ino, char ***out, size_t *n)
{
	int ret;

	pthread_mutex_lock(&fs->links_lock);
	ensure_built(fs);
	ret = entry_names(fs->base, fs->links.b ? entry_find(&fs->links, dev, ino, false) : NULL,
			  dev, ino, out, n);
	pthread_mutex_unlock(&fs->links_lock);
	return ret;
}

/* The length of the parent of p's first len bytes ("" is 0). */
static size_t parent_len(const char *p, size_t len)
{
	while (len && p[--len] != '/')
		;
	return len;
}

/* The length of the longest prefix of a, at most len bytes and ending at
 * a '/' (or empty), that is a directory holding path b. */
static size_t common_dir_len(const char *a, size_t len, const char *b)
{
	while (len && !(strncmp(a, b, len) == 0 && b[len] == '/'))
		len = parent_len(a, len);
	return len;
}

struct dirset {
	char **v;
	size_t n, cap;
};

static int dirset_add(struct dirset *s, const char *path, size_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = strndup(path, len);
	if (!s->v[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

/* Add the directories at or below dir (dlen bytes) holding name that do not
 * hold the common directory (clen bytes) of its file's names: from the
 * name's own directory up. */
static int split_add(struct dirset *s, const char *name, size_t dlen, size_t clen)
{
	size_t len = parent_len(name, strlen(name));
	int ret = 0;

	while (!ret && len > clen && len >= dlen) {
		ret = dirset_add(s, name, len);
		len = parent_len(name, len);
	}
	return ret;
}

static int split_scan(struct bfsd_fs *fs, const char *dir, struct dirset *s)
{
	size_t dlen = strlen(dir);
	int ret = 0;

	for (size_t b = 0; fs->links.b && b < fs->links.cap && !ret; b++) {
		for (struct link_entry *e = fs->links.b[b]; e && !ret; e = e->next) {
			size_t clen = e->n ? parent_len(e->paths[0], strlen(e->paths[0])) : 0;

			for (size_t i = 1; i < e->n; i++)
				clen = common_dir_len(e->paths[0], clen, e->paths[i]);
			for (size_t i = 0; i < e->n && !ret; i++)
				if (bfsd_path_within(e->paths[i], dir))
					ret = split_add(s, e->paths[i], dlen, clen);
		}
	}
	return ret;
}

int bfsd_links_split_dirs(struct bfsd_fs *fs, const char *dir, char ***out, size_t *n)
{
	struct dirset s = { 0 };
	size_t k = 0;
	int ret;

	pthread_mutex_lock(&fs->links_lock);
	ensure_built(fs);
	ret = split_scan(fs, dir, &s);
	pthread_mutex_unlock(&fs->links_lock);
	if (ret) {
		bfsd_links_free(s.v, s.n);
		return ret;
	}
	if (s.n)
		qsort(s.v, s.n, sizeof(*s.v), bfsd_strcmp_ptr);
	for (size_t i = 0; i < s.n; i++) {
		if (k && !strcmp(s.v[k - 1], s.v[i]))
			free(s.v[i]);
		else
			s.v[k++] = s.v[i];
	}
	*out = s.v;
	*n = k;
	return 0;
}

bool bfsd_links_split_has(char *const *dirs, size_t n, const char *dir)
{
	return n && bsearch(&dir, dirs, n, sizeof(*dirs), bfsd_strcmp_ptr);
}

bool bfsd_links_kept(struct bfsd_fs *fs, dev_t dev, ino_t ino, uint64_t layer)
{
	struct link_entry *e;
	bool kept;

	pthread_mutex_lock(&fs->links_lock);
	e = fs->links.b ? entry_find(&fs->links, dev, ino, false) : NULL;
	kept = e && e->kept_in == layer;
	pthread_mutex_unlock(&fs->links_lock);
	return kept;
}

void bfsd_links_set_kept(struct bfsd_fs *fs, dev_t dev, ino_t ino, uint64_t layer)
{
	struct link_entry *e;

	pthread_mutex_lock(&fs->links_lock);
	e = fs->links.b ? entry_find(&fs->links, dev, ino, false) : NULL;
	if (e)
		e->kept_in = layer;
	pthread_mutex_unlock(&fs->links_lock);
}

void bfsd_links_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* path now names (dev, ino): record it (when the map exists). */
void bfsd_links_add(struct bfsd_fs *fs, const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_nlink < 2)
		return;
	pthread_mutex_lock(&fs->links_lock);
	if (fs->links.b)
		entry_add_path(entry_find(&fs->links, st->st_dev, st->st_ino, true), path);
	pthread_mutex_unlock(&fs->links_lock);
}

/* Apply fn to every recorded path; fn returns the new path or NULL to drop. */
static void rewrite(struct bfsd_fs *fs, const char *(*fn)(const char *, const void *, char *),
		    const void *arg)
{
	char buf[PATH_MAX];

	pthread_mutex_lock(&fs->links_lock);
	for (size_t b = 0; fs->links.b && b < fs->links.cap; b++) {
		for (struct link_entry *e = fs->links.b[b]; e; e = e->next) {
			size_t keep = 0;

			for (size_t i = 0; i < e->n; i++) {
				const char *np = fn(e->paths[i], arg, buf);

				if (!np) {
					free(e->paths[i]);
					continue;
				}
				if (np != e->paths[i]) {
					char *dup = strdup(np);

					if (dup) {
						free(e->paths[i]);
						e->paths[i] = dup;
					}
				}
				e->paths[keep++] = e->paths[i];
			}
			e->n = keep;
		}
	}
	pthread_mutex_unlock(&fs->links_lock);
}

static const char *drop_under(const char *p, const void *arg, char *buf)
{
	(void)buf;
	return bfsd_path_within(p, arg) ? NULL : p;
}

/* The index of path among e's names, or e->n. */
static size_t entry_index(const struct link_entry *e, const char *path)
{
	size_t i = 0;

	while (i < e->n && strcmp(e->paths[i], path))
		i++;
	return i;
}

static void entry_drop_path(struct link_entry *e, const char *path)
{
	size_t i = e ? entry_index(e, path) : 0;

	if (!e || i == e->n)
		return;
	free(e->paths[i]);
	e->paths[i] = e->paths[--e->n];
}

static void entry_rename_path(struct link_entry *e, const char *from, const char *to)
{
	size_t i = e ? entry_index(e, from) : 0;
	char *dup;

	if (!e || i == e->n)
		return;
	dup = strdup(to);
	if (!dup) {
		entry_drop_path(e, from); /* unknown beats wrong */
		return;
	}
	free(e->paths[i]);
	e->paths[i] = dup;
}

/* The map's entry of the non-directory st (under links_lock), or NULL. */
static struct link_entry *entry_of(struct bfsd_fs *fs, const struct stat *st)
{
	return fs->links.b && st && st->st_mode && !S_ISDIR(st->st_mode)
		       ? entry_find(&fs->links, st->st_dev, st->st_ino, false)
		       : NULL;
}

void bfsd_links_forget(struct bfsd_fs *fs, const char *path, const struct stat *was)
{
	if (!fs->links.b)
		return;
	if (!was || S_ISDIR(was->st_mode)) {
		rewrite(fs, drop_under, path);
		return;
	}
	/* A file's name is recorded, if at all, in its own entry only: a
	 * lookup, not a walk of every recorded name (main's rm -rf of a tree
	 * of files cost a walk per file). */
	pthread_mutex_lock(&fs->links_lock);
	entry_drop_path(entry_of(fs, was), path);
	pthread_mutex_unlock(&fs->links_lock);
}

struct move {
	const char *from, *to;
	bool exchange;
};

static const char *moved(const char *p, const void *arg, char *buf)
{
	const struct move *mv = arg;

	if (bfsd_path_within(p, mv->from)) {
		if (bfsd_path_join(buf, mv->to,
				   p + strlen(mv->from) + (p[strlen(mv->from)] ? 1 : 0)))
			return NULL;
		return buf;
	}
	if (bfsd_path_within(p, mv->to)) {
		if (!mv->exchange)
			return NULL; /* replaced */
		if (bfsd_path_join(buf, mv->from, p + strlen(mv->to) + (p[strlen(mv->to)] ? 1 : 0)))
			return NULL;
		return buf;
	}
	return p;
}

void bfsd_links_rename(struct bfsd_fs *fs, const char *from, const char *to, bool exchange,
		       const struct stat *fwas, const struct stat *twas)
{
	struct move mv = { from, to, exchange };
	struct link_entry *f, *t;

	if (!fs->links.b)
		return;
	if (!fwas || !twas || S_ISDIR(fwas->st_mode) || S_ISDIR(twas->st_mode)) {
		rewrite(fs, moved, &mv);
		return;
	}
	pthread_mutex_lock(&fs->links_lock);
	f = entry_of(fs, fwas);
	t = entry_of(fs, twas);
	/* Two names of one file: an exchange changes no name of it, and a
	 * rename does nothing (POSIX). */
	if (!f || f != t) {
		if (exchange)
			entry_rename_path(t, to, from);
		else
			entry_drop_path(t, to);
		entry_rename_path(f, from, to);
	}
	pthread_mutex_unlock(&fs->links_lock);
}

void bfsd_links_free_all(struct bfsd_fs *fs)
{
	map_free(&fs->links);
}

/*
 * A storage layer below a branch's top never changes but for names taken
 * out of it (a commit moving its objects): its map, made on the first
 * need, stays good, and a name gone is dropped by checking its inode.  A
 * preservation layer gains names whenever main preserves something: its
 * map is made again after fs->lower_gen moved.
 */
int bfsd_layer_link_names(struct bfsd_layer *l, dev_t dev, ino_t ino, char ***out, size_t *n)
{
	unsigned gen = atomic_load(&l->fs->lower_gen);
	int ret;

	pthread_mutex_lock(&l->links_lock);
	if (l->links.b && l->kind == BFSD_LAYER_PRESERVE && l->links_gen != gen)
		map_free(&l->links);
	if (!l->links.b) {
		scan(&l->links, l->dirfd, ".", "");
		l->links_gen = gen;
	}
	ret = entry_names(l, l->links.b ? entry_find(&l->links, dev, ino, false) : NULL, dev, ino,
			  out, n);
	pthread_mutex_unlock(&l->links_lock);
	return ret;
}

void bfsd_layer_links_free(struct bfsd_layer *l)
{
	map_free(&l->links);
}

/* The directories of a storage layer moved there: each shows the layers
 * below at the old path its redirect names. */
struct moved {
	size_t n, cap;
	char **dir, **from;
};

static void moved_add(struct moved *m, const char *dir, const char *from)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		char **d = realloc(m->dir, cap * sizeof(*d));
		char **f = d ? realloc(m->from, cap * sizeof(*f)) : NULL;

		if (d)
			m->dir = d;
		if (!f)
			return;
		m->from = f;
		m->cap = cap;
	}
	m->dir[m->n] = strdup(dir);
	m->from[m->n] = strdup(from);
	if (m->dir[m->n] && m->from[m->n]) {
		m->n++;
		return;
	}
	free(m->dir[m->n]);
	free(m->from[m->n]);
}

static void moved_free(struct moved *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->dir[i]);
		free(m->from[i]);
	}
	free(m->dir);
	free(m->from);
}

struct moved_scan {
	struct bfsd_layer *l;
	struct moved *m;
};

/* visit_fn recording the redirected directories of a layer. */
static bool visit_moved(void *arg, int dirfd, const struct dirent *de, const char *path)
{
	struct moved_scan *ms = arg;
	char redirect[PATH_MAX];
	uint64_t origin;
	bool opaque;

	(void)dirfd;
	if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
	    bfsd_marker_dir(ms->l, path, &opaque, redirect, &origin))
		return false;
	if (redirect[0])
		moved_add(ms->m, path, redirect);
	return true;
}

/* The path that name, a path of the layers below l, has in l's namespace:
 * below the directory of l whose redirect names the deepest ancestor of
 * name (or name itself), if any. */
static void map_through(const struct moved *m, char **name)
{
	size_t best = 0, blen = 0;
	char buf[PATH_MAX], *p;

	for (size_t i = 0; i < m->n; i++) {
		size_t len = strlen(m->from[i]);

		if (len > blen && bfsd_path_within(*name, m->from[i])) {
			best = i;
			blen = len;
		}
	}
	if (!blen || snprintf(buf, sizeof(buf), "%s%s", m->dir[best], *name + blen) >= PATH_MAX)
		return;
	p = strdup(buf);
	if (!p)
		return;
	free(*name);
	*name = p;
}

/*
 * The redirected directories of the storage layers of a branch's stack, as
 * walks found them.  Redirects are set only by renames, which flush the
 * branch's resolution cache (res_gen), and reach other layers only by
 * commits and preservation, which flush it or bump lower_gen: the lists
 * stay valid exactly as long as resolutions cached under the same two
 * generations.
 */
struct bfsd_moves {
	unsigned gen, lower_gen;
	size_t n, cap;
	const struct bfsd_layer **layer;
	struct moved *moved;
};

static void moves_reset(struct bfsd_moves *c)
{
	for (size_t i = 0; i < c->n; i++)
		moved_free(&c->moved[i]);
	c->n = 0;
}

void bfsd_links_moves_free(struct bfsd_branch *b)
{
	if (b->moves) {
		moves_reset(b->moves);
		free(b->moves->layer);
		free(b->moves->moved);
		free(b->moves);
		b->moves = NULL;
	}
}

/* The directories of l moved there, from b's cache or a walk of l; NULL
 * when out of memory (the names then stay as they are). */
static const struct moved *moves_of(struct bfsd_moves *c, struct bfsd_layer *l)
{
	struct moved_scan ms;

	for (size_t i = 0; i < c->n; i++)
		if (c->layer[i] == l)
			return &c->moved[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		const struct bfsd_layer **lv = realloc(c->layer, cap * sizeof(*lv));
		struct moved *mv = lv ? realloc(c->moved, cap * sizeof(*mv)) : NULL;

		if (lv)
			c->layer = lv;
		if (!mv)
			return NULL;
		c->moved = mv;
		c->cap = cap;
	}
	c->layer[c->n] = l;
	c->moved[c->n] = (struct moved){ 0 };
	ms = (struct moved_scan){ l, &c->moved[c->n] };
	walk(l->dirfd, ".", "", visit_moved, &ms);
	return &c->moved[c->n++];
}

void bfsd_links_map_up(struct bfsd_fs *fs, struct bfsd_branch *b, int idx, char **names, size_t n)
{
	unsigned gen = atomic_load(&b->res_gen), lower_gen = atomic_load(&fs->lower_gen);
	struct bfsd_moves *c;

	pthread_mutex_lock(&b->moves_lock);
	if (!b->moves)
		b->moves = calloc(1, sizeof(*b->moves));
	c = b->moves;
	if (c && (c->gen != gen || c->lower_gen != lower_gen)) {
		moves_reset(c);
		c->gen = gen;
		c->lower_gen = lower_gen;
	}
	for (int k = idx - 1; c && k >= 0 && n; k--) {
		struct bfsd_layer *l = bfsd_stack_at(fs, b, k);
		const struct moved *m;

		if (!bfsd_layer_is_storage(l) || !(m = moves_of(c, l)))
			continue;
		for (size_t i = 0; i < n && m->n; i++)
			map_through(m, &names[i]);
	}
	pthread_mutex_unlock(&b->moves_lock);
}
