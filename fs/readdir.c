/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Merged directory listings.
 *
 * The contributing copies of a directory are read top first; the first copy
 * of a name wins, and a whiteout hides the name from every copy below (and
 * is itself listed only when asked for, by the commit planner).  The result
 * is a snapshot: FUSE offsets are indices into it, so concurrent changes
 * never make a reader skip or repeat an entry.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct nameset {
	uint64_t *h;
	uint32_t *idx; /* entry index + 1; 0 = empty slot */
	size_t cap, n;
};

static int nameset_grow(struct nameset *s, const struct bfsd_dirlist *l)
{
	size_t cap = s->cap ? s->cap * 2 : 256;
	uint64_t *h = calloc(cap, sizeof(*h));
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!h || !idx) {
		free(h);
		free(idx);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->idx[i])
			continue;
		for (j = s->h[i] & (cap - 1); idx[j]; j = (j + 1) & (cap - 1))
			;
		h[j] = s->h[i];
		idx[j] = s->idx[i];
	}
	(void)l;
	free(s->h);
	free(s->idx);
	s->h = h;
	s->idx = idx;
	s->cap = cap;
	return 0;
}

/* Insert entry i of l unless its name is present; 1 when it was new. */
static int nameset_add(struct nameset *s, const struct bfsd_dirlist *l, size_t i)
{
	const char *name = l->e[i].name;
	uint64_t h = l->e[i].hash;
	size_t j;
	int ret;

	if ((s->n + 1) * 2 > s->cap) {
		ret = nameset_grow(s, l);
		if (ret)
			return ret;
	}
	for (j = h & (s->cap - 1); s->idx[j]; j = (j + 1) & (s->cap - 1))
		if (s->h[j] == h && !strcmp(l->e[s->idx[j] - 1].name, name))
			return 0;
	s->h[j] = h;
	s->idx[j] = (uint32_t)i + 1;
	s->n++;
	return 1;
}

static mode_t dtype_mode(unsigned char t)
{
	switch (t) {
	case DT_DIR:
		return S_IFDIR;
	case DT_REG:
		return S_IFREG;
	case DT_LNK:
		return S_IFLNK;
	case DT_CHR:
		return S_IFCHR;
	case DT_BLK:
		return S_IFBLK;
	case DT_FIFO:
		return S_IFIFO;
	case DT_SOCK:
		return S_IFSOCK;
	default:
		return 0;
	}
}

/*
 * Names and stats of a listing live in blocks of DIRMEM_SIZE bytes: one
 * malloc per few hundred entries rather than one per name.
 */
#define DIRMEM_SIZE (60 * 1024)

struct bfsd_dirmem {
	struct bfsd_dirmem *next;
	size_t used, size;
	_Alignas(max_align_t) char data[];
};

static void *dirmem_alloc(struct bfsd_dirlist *l, size_t len, size_t align)
{
	struct bfsd_dirmem *mem = l->mem;
	size_t at = mem ? (mem->used + align - 1) & ~(align - 1) : 0;

	if (!mem || at + len > mem->size) {
		size_t size = len > DIRMEM_SIZE ? len : DIRMEM_SIZE;

		mem = malloc(sizeof(*mem) + size);
		if (!mem)
			return NULL;
		mem->next = l->mem;
		mem->size = size;
		l->mem = mem;
		at = 0;
	}
	mem->used = at + len;
	return mem->data + at;
}

/* bfsd_dirlist_add, with the name's bfsd_hash h already known. */
static struct bfsd_dirent *dirlist_add(struct bfsd_dirlist *l, const char *name, size_t len,
				       uint64_t h)
{
	struct bfsd_dirent *e;
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;

		e = realloc(l->e, cap * sizeof(*e));
		if (!e)
			return NULL;
		l->e = e;
		l->cap = cap;
	}
	copy = dirmem_alloc(l, len + 1, 1);
	if (!copy)
		return NULL;
	memcpy(copy, name, len);
	copy[len] = '\0';
	e = &l->e[l->n++];
	*e = (struct bfsd_dirent){ .name = copy, .hash = h, .loc = -1 };
	return e;
}

struct bfsd_dirent *bfsd_dirlist_add(struct bfsd_dirlist *l, const char *name, size_t len)
{
	return dirlist_add(l, name, len, bfsd_hash(name, len));
}

/* Whether name, of bfsd_hash h, is in s. */
static bool nameset_has(const struct nameset *s, const struct bfsd_dirlist *l, const char *name,
			uint64_t h)
{
	if (!s->cap)
		return false;
	for (size_t j = h & (s->cap - 1); s->idx[j]; j = (j + 1) & (s->cap - 1))
		if (s->h[j] == h && !strcmp(l->e[s->idx[j] - 1].name, name))
			return true;
	return false;
}

/*
 * Type and number of a storage entry, and whether it is a whiteout (type
 * 0): from its dirent (name, *type from d_type, ino) and one listing of its
 * markers, stat'ed only when it carries a whiteout marker or the dirent has
 * no type.  *have is st when the entry was stat'ed.  -errno when it is gone.
 */
static int storage_entry(struct bfsd_fs *fs, const struct bfsd_layer *layer, int fd,
			 const char *name, ino_t ino, mode_t *type, uint64_t *vino, struct stat *st,
			 struct stat **have)
{
	unsigned int marks = 0;
	uint64_t origin;
	int ret = -ENOSYS;

	if (*type)
		ret = bfsd_marker_list_at(layer, fd, name, &marks);
	if (ret == -ENOENT)
		return ret;
	if (ret || (marks & BFSD_MARK_WH)) {
		if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		*have = st;
		*type = st->st_mode & S_IFMT;
		if (bfsd_marker_is_whiteout_at(layer, fd, name, st)) {
			*type = 0;
			return 0;
		}
	}
	if ((ret || (marks & BFSD_MARK_ORIGIN)) &&
	    bfsd_marker_origin_at(layer, fd, name, &origin) > 0) {
		*vino = origin;
	} else {
		struct stat dst = { .st_dev = layer->dev, .st_ino = ino };

		*vino = bfsd_fs_vino(fs, layer, *have ? *have : &dst);
	}
	return 0;
}

/*
 * Settle entry i of l, read from a copy with e->vino the dirent's d_ino:
 * its type and number, and that it decides its name for the copies below
 * (into seen; NULL when none is read).  An entry dropped from the listing
 * gets loc -1.
 */
static int settle(struct bfsd_fs *fs, const struct bfsd_layer *layer, int fd, int flags,
		  struct bfsd_dirlist *l, size_t i, struct nameset *seen)
{
	struct bfsd_dirent *e = &l->e[i];
	struct stat st, *have = NULL, *copy;
	int ret;

	if (!bfsd_layer_is_storage(layer)) {
		struct stat dst = { .st_dev = layer->dev, .st_ino = e->vino };

		e->vino = bfsd_fs_vino(fs, layer, &dst);
	} else if (!e->known &&
		   storage_entry(fs, layer, fd, e->name, e->vino, &e->type, &e->vino, &st, &have)) {
		e->loc = -1; /* gone: listed nowhere, hides nothing */
		return 0;
	}
	ret = seen ? nameset_add(seen, l, i) : 1;
	if (ret <= 0) {
		e->loc = -1;
		return ret;
	}
	if (!e->type) {
		e->vino = 0;
		if (!(flags & BFSD_LIST_WHITEOUTS))
			e->loc = -1; /* kept in seen, out of the listing */
		return 0;
	}
	if (have) {
		copy = dirmem_alloc(l, sizeof(*copy), _Alignof(struct stat));
		if (!copy)
			return -ENOMEM;
		*copy = *have;
		e->st = copy;
	}
	return 0;
}

/*
 * Read one contributing copy of the directory into l: its names first,
 * skipping those an upper copy listed before anything is asked of them;
 * then what the hint knows of a storage copy's names, all at once; then
 * the storage, relative to the open directory, for the rest (settle).
 * The names are added to seen only when a copy below is read (more).
 */
static int read_copy(struct bfsd_fs *fs, const struct bfsd_loc *lc, int loc, int flags,
		     const struct bfsd_list_hint *hint, struct bfsd_dirlist *l,
		     struct nameset *seen, bool more)
{
	struct bfsd_layer *layer = lc->layer;
	size_t first = l->n, len;
	struct bfsd_dirent *e;
	struct dirent *de;
	uint64_t h;
	int fd, ret = 0;
	DIR *d;

	/* A copy gone (or, in the base, no longer a directory) adds nothing. */
	fd = bfsd_layer_openat(layer, lc->phys, O_RDONLY | O_DIRECTORY);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
		return 0;
	if (fd < 0)
		return fd;
	d = bfsd_fdopendir(fd);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		len = strlen(de->d_name);
		h = bfsd_hash(de->d_name, len);
		if (nameset_has(seen, l, de->d_name, h))
			continue; /* an upper copy decided this name */
		e = dirlist_add(l, de->d_name, len, h);
		if (!e) {
			errno = ENOMEM;
			break;
		}
		e->type = dtype_mode(de->d_type);
		e->vino = de->d_ino;
		e->loc = loc;
	}
	ret = -errno;
	if (!ret && hint && bfsd_layer_is_storage(layer))
		hint->known(hint->arg, l->e + first, l->n - first);
	for (size_t i = first; !ret && i < l->n; i++)
		ret = settle(fs, layer, fd, flags, l, i, more ? seen : NULL);
	closedir(d);
	return ret;
}

int bfsd_dir_list(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r, int max_idx,
		  int flags, struct bfsd_dirlist *out)
{
	return bfsd_dir_list_hinted(fs, b, r, max_idx, flags, NULL, out);
}

int bfsd_dir_list_hinted(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_res *r,
			 int max_idx, int flags, const struct bfsd_list_hint *hint,
			 struct bfsd_dirlist *out)
{
	struct nameset seen = { 0 };
	size_t keep = 0;
	int ret = 0;

	(void)b;
	*out = (struct bfsd_dirlist){ 0 };
	for (int i = 0; i < r->nloc && !ret; i++) {
		if (r->loc[i].idx >= max_idx)
			break;
		ret = read_copy(fs, &r->loc[i], i, flags, hint, out, &seen,
				i + 1 < r->nloc && r->loc[i + 1].idx < max_idx);
	}
	free(seen.h);
	free(seen.idx);
	if (ret) {
		bfsd_dirlist_free(out);
		return ret;
	}
	/* Drop the placeholders that only hid names of lower copies. */
	for (size_t i = 0; i < out->n; i++) {
		if (out->e[i].loc >= 0)
			out->e[keep++] = out->e[i];
	}
	out->n = keep;
	return 0;
}

void bfsd_dirlist_free(struct bfsd_dirlist *l)
{
	while (l->mem) {
		struct bfsd_dirmem *next = l->mem->next;

		free(l->mem);
		l->mem = next;
	}
	free(l->e);
	*l = (struct bfsd_dirlist){ 0 };
}
