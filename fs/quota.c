/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage quota (--max-storage): bytes of file data held in storage
 * layers (branch layers and main's preservation layers), each inode counted
 * once at its size, charged to the layer that holds it.
 *
 * Growth is reserved before it happens (a copy, a write past the end, an
 * extending truncate or fallocate, an object main hands over to a
 * preservation layer), so a change that would exceed the quota fails with
 * ENOSPC and nothing already written is lost.  A commit is never stopped
 * half-way by the quota: what it preserves for live branches is counted,
 * possibly past the limit, and later growth is refused.  Shrinking and
 * removal give bytes back; a freed layer gives back its whole total at once, so abort
 * stays O(1).  A commit moves an object's charge from the branch's layer to
 * the parent's top (or out of storage, for main).  Totals are not stored:
 * with a quota set, each layer is scanned once at mount.
 *
 * Without a quota nothing is counted and nothing here costs anything.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __thread bool forced;

bool bfsd_quota_on(const struct bfsd_fs *fs)
{
	return fs->quota > 0 && fs->quota_armed;
}

void bfsd_quota_force(bool on)
{
	forced = on;
}

int bfsd_quota_charge(struct bfsd_fs *fs, struct bfsd_layer *l, int64_t delta)
{
	int_fast64_t used;

	if (!bfsd_quota_on(fs) || !l || !bfsd_layer_is_storage(l) || !delta)
		return 0;
	if (delta < 0) {
		atomic_fetch_add(&fs->used, delta);
		atomic_fetch_add(&l->bytes, delta);
		return 0;
	}
	used = atomic_load(&fs->used);
	do {
		if (used + delta > fs->quota && !forced)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&fs->used, &used, used + delta));
	atomic_fetch_add(&l->bytes, delta);
	return 0;
}

void bfsd_quota_layer_gone(struct bfsd_fs *fs, struct bfsd_layer *l)
{
	if (!bfsd_quota_on(fs))
		return;
	atomic_fetch_sub(&fs->used, atomic_load(&l->bytes));
	atomic_store(&l->bytes, 0);
}

/* Add (dev, ino) to s; false when it was there already. */
static bool inoset_add(struct bfsd_inoset *s, dev_t dev, ino_t ino)
{
	uint64_t key = (uint64_t)ino ^ ((uint64_t)dev << 48), *nv;
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		nv = calloc(cap, sizeof(*nv));
		if (!nv)
			return true;
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->v[j])
				continue;
			for (i = s->v[j] & (cap - 1); nv[i]; i = (i + 1) & (cap - 1))
				;
			nv[i] = s->v[j];
		}
		free(s->v);
		s->v = nv;
		s->cap = cap;
	}
	key |= 1; /* never 0 */
	for (i = key & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == key)
			return false;
	s->v[i] = key;
	s->n++;
	return true;
}

/* Sum the data of the tree at dirfd/name, each inode once. */
static int64_t tree_bytes(int dir, const char *name, struct bfsd_inoset *seen)
{
	struct dirent *de;
	struct stat st;
	int64_t sum = 0;
	DIR *d;
	int fd;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return (st.st_nlink < 2 || inoset_add(seen, st.st_dev, st.st_ino)) ? st.st_size : 0;
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = bfsd_fdopendir(fd);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sum += tree_bytes(fd, de->d_name, seen);
	closedir(d);
	return sum;
}

int64_t bfsd_quota_tree_bytes(int dirfd, const char *name)
{
	struct bfsd_inoset seen = { 0 };
	int64_t sum = tree_bytes(dirfd, name, &seen);

	free(seen.v);
	return sum;
}

void bfsd_quota_scan(struct bfsd_fs *fs, struct bfsd_layer *l)
{
	char held[48];
	int64_t bytes;

	if (!fs->quota || !bfsd_layer_is_storage(l) || atomic_load(&l->scanned))
		return;
	bfsd_layer_held_name(l->id, held);
	bytes = bfsd_quota_tree_bytes(l->dirfd, ".") + bfsd_quota_tree_bytes(fs->layers_fd, held);
	atomic_store(&l->bytes, bytes);
	atomic_store(&l->scanned, true);
	atomic_fetch_add(&fs->used, bytes);
}

/* A commit moves the charge of one object; each inode moves once. */
void bfsd_quota_move(struct bfsd_fs *fs, struct bfsd_layer *from, struct bfsd_layer *to,
		     const struct stat *st)
{
	if (!bfsd_quota_on(fs) || !S_ISREG(st->st_mode))
		return;
	if (st->st_nlink > 1 && !inoset_add(&fs->moved, st->st_dev, st->st_ino))
		return;
	atomic_fetch_sub(&from->bytes, st->st_size);
	if (to && bfsd_layer_is_storage(to))
		atomic_fetch_add(&to->bytes, st->st_size);
	else
		atomic_fetch_sub(&fs->used, st->st_size);
}

void bfsd_quota_fold(struct bfsd_fs *fs, struct bfsd_layer *from, struct bfsd_layer *to)
{
	if (bfsd_quota_on(fs))
		atomic_fetch_add(&to->bytes, atomic_exchange(&from->bytes, 0));
}

void bfsd_quota_moves_done(struct bfsd_fs *fs)
{
	free(fs->moved.v);
	memset(&fs->moved, 0, sizeof(fs->moved));
}

int bfsd_quota_parse(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	int64_t mult = 1;

	if (end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'T':
	case 't':
		mult <<= 10;
		/* fallthrough */
	case 'G':
	case 'g':
		mult <<= 10;
		/* fallthrough */
	case 'M':
	case 'm':
		mult <<= 10;
		/* fallthrough */
	case 'K':
	case 'k':
		mult <<= 10;
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		break;
	case 'B':
	case 'b':
		end++;
		break;
	}
	if (*end || v * mult >= 9.2e18 || v * mult < 1)
		return -EINVAL;
	*out = (int64_t)(v * mult);
	return 0;
}
