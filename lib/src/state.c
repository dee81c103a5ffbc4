/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the storage's state log (docs/format.md): transactions
 * "T <nlines> <xxh32>" followed by B/G/C/F lines, replayed in order up to
 * the first torn or corrupt one, exactly as the daemon replays them at mount
 * time.  The daemon appends while we read; a transaction it is still writing
 * is just an incomplete tail and is ignored.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define STATE_SEED 0x62667364u

static void rec_clear(struct bfs_state_branch *r)
{
	free(r->layers);
	free(r->name);
	r->layers = NULL;
	r->name = NULL;
}

static struct bfs_state_branch *rec_find(struct bfs_state *st, uint64_t id)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->b[i].id == id)
			return &st->b[i];
	return NULL;
}

static int unhex(const char *in, char **out)
{
	size_t n = strlen(in);
	char *s;

	if (n % 2 || n / 2 > BFS_NAME_MAX)
		return -EINVAL;
	s = malloc(n / 2 + 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int c;

		if (sscanf(in + 2 * i, "%2x", &c) != 1 || !c) {
			free(s);
			return -EINVAL;
		}
		s[i] = (char)c;
	}
	s[n / 2] = '\0';
	*out = s;
	return 0;
}

static int parse_layers(struct bfs_state_branch *r, const char **p)
{
	r->layers = calloc(r->nlayers ? r->nlayers : 1, sizeof(*r->layers));
	if (!r->layers)
		return -ENOMEM;
	for (int i = 0; i < r->nlayers; i++) {
		char *end;

		r->layers[i] = strtoull(*p, &end, 10);
		if (end == *p)
			return -EINVAL;
		*p = end;
	}
	return 0;
}

/* "B id gen parent_gen parent_id epoch created_ns nown nlayers layer... name_hex" */
static int line_branch(struct bfs_state *st, const char *p)
{
	struct bfs_state_branch r = { 0 }, *old, *grown;
	char hex[2 * BFS_NAME_MAX + 2];
	uint64_t created;
	int used = 0, ret;

	if (sscanf(p,
		   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %d %d%n",
		   &r.id, &r.gen, &r.parent_gen, &r.parent, &r.epoch, &created, &r.nown, &r.nlayers,
		   &used) != 8 ||
	    r.nlayers < 0 || r.nlayers > 100000 || r.nown < 0 || r.nown > r.nlayers)
		return -EINVAL;
	r.created_ns = (int64_t)created;
	p += used;
	ret = parse_layers(&r, &p);
	if (!ret && (sscanf(p, " %511s", hex) != 1 || unhex(hex, &r.name)))
		ret = -EINVAL;
	if (ret) {
		rec_clear(&r);
		return ret;
	}
	old = rec_find(st, r.id);
	if (old) {
		rec_clear(old);
		*old = r;
		return 0;
	}
	grown = realloc(st->b, (st->n + 1) * sizeof(*grown));
	if (!grown) {
		rec_clear(&r);
		return -ENOMEM;
	}
	st->b = grown;
	st->b[st->n++] = r;
	return 0;
}

static int apply_line(struct bfs_state *st, const char *line)
{
	struct bfs_state_branch *r;
	uint64_t id;

	switch (line[0]) {
	case 'B':
		return line_branch(st, line + 1);
	case 'G':
		if (sscanf(line + 1, "%" SCNu64, &id) != 1)
			return -EINVAL;
		r = rec_find(st, id);
		if (r)
			r->gone = true;
		return 0;
	case 'C':
		return sscanf(line + 1, "%" SCNu64, &st->current) == 1 ? 0 : -EINVAL;
	case 'F':
		return 0; /* counters and preservation layers: not needed here */
	}
	return -EINVAL;
}

/* Replay the whole transactions of text (NUL-terminated, len bytes). */
static int replay(struct bfs_state *st, char *text, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos), *body, *end;
		unsigned int sum;
		size_t lines, i;

		if (!nl || sscanf(text + pos, "T %zu %x", &lines, &sum) != 2)
			break;
		body = end = nl + 1;
		for (i = 0; i < lines; i++) {
			char *e = memchr(end, '\n', text + len - end);

			if (!e)
				break;
			end = e + 1;
		}
		if (i < lines || XXH32(body, end - body, STATE_SEED) != sum)
			break;
		for (char *l = body; l < end;) {
			char *e = memchr(l, '\n', end - l);
			int ret;

			*e = '\0';
			ret = apply_line(st, l);
			if (ret == -ENOMEM)
				return ret;
			l = e + 1; /* a malformed record is skipped, as the daemon does */
		}
		pos = end - text;
	}
	return 0;
}

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap), *grown;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += r;
		if (cap - n > 1)
			continue;
		grown = realloc(buf, cap *= 2);
		if (!grown) {
			free(buf);
			return -ENOMEM;
		}
		buf = grown;
	}
	if (r < 0) {
		int ret = -errno;

		free(buf);
		return ret;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct bfs_state_branch *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Make sure main is there (it has a B line only once something committed
 * into it or a mount compacted the log). */
static int ensure_main(struct bfs_state *st)
{
	struct bfs_state_branch *m = rec_find(st, 0), *grown;

	if (m) {
		m->gone = false;
		return 0;
	}
	grown = realloc(st->b, (st->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	st->b = grown;
	m = &st->b[st->n];
	memset(m, 0, sizeof(*m));
	m->name = strdup(BFS_MAIN_NAME);
	if (!m->name)
		return -ENOMEM;
	st->n++;
	return 0;
}

int bfs__state_read(struct bfs_state *st, const char *dir)
{
	char path[PATH_MAX], *text = NULL;
	struct stat sb;
	size_t len = 0;
	int fd, ret;

	memset(st, 0, sizeof(*st));
	if (stat(dir, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	ret = bfs__join(path, dir, "state");
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODATA : -errno;
	ret = read_all(fd, &text, &len);
	close(fd);
	if (!ret)
		ret = replay(st, text, len);
	free(text);
	if (!ret)
		ret = ensure_main(st);
	if (ret) {
		bfs__state_free(st);
		return ret;
	}
	qsort(st->b, st->n, sizeof(*st->b), cmp_id);
	/* A branch whose parent is gone is dropped at the next mount; ids grow
	 * with creation, so a parent always has a smaller id. */
	for (size_t i = 0; i < st->n; i++)
		if (st->b[i].id &&
		    (st->b[i].parent >= st->b[i].id || !bfs__state_find(st, st->b[i].parent)))
			st->b[i].gone = true;
	if (!bfs__state_find(st, st->current))
		st->current = 0;
	return 0;
}

void bfs__state_free(struct bfs_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		rec_clear(&st->b[i]);
	free(st->b);
	memset(st, 0, sizeof(*st));
}

const struct bfs_state_branch *bfs__state_find(const struct bfs_state *st, uint64_t id)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->b[i].id == id)
			return st->b[i].gone ? NULL : &st->b[i];
	return NULL;
}

const struct bfs_state_branch *bfs__state_find_name(const struct bfs_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!st->b[i].gone && !strcmp(st->b[i].name, name))
			return &st->b[i];
	return NULL;
}
