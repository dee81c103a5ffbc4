/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading the branch tree from the state log (format in store.c).
 *
 * Transactions are replayed in order into a table of branch records; the
 * first torn or corrupt transaction ends the log (it is cut off there).  The
 * surviving records become branches, parents before children (ids grow with
 * creation), and every layer they name is opened once and shared.  Layer
 * directories nothing names any more go to the trash, but only once every
 * branch is back: a branch or layer that cannot be loaded fails the mount
 * and leaves the storage as it was.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rec {
	uint64_t id, gen, pgen, parent, epoch, created;
	int nown, nlayers;
	uint64_t *layers;
	char *name;
	bool gone;
};

struct replay {
	struct rec *r;
	size_t n, cap;
	uint64_t fsrec[4]; /* next_branch next_layer next_epoch pres_first */
	uint64_t *pres;
	size_t npres;
	bool have_fs;
	uint64_t current;
	bool have_current;
};

static struct rec *rec_find(struct replay *rp, uint64_t id)
{
	for (size_t i = 0; i < rp->n; i++)
		if (rp->r[i].id == id)
			return &rp->r[i];
	return NULL;
}

static void rec_clear(struct rec *r)
{
	free(r->layers);
	free(r->name);
	r->layers = NULL;
	r->name = NULL;
}

static int unhex(const char *in, char **out)
{
	size_t n = strlen(in);
	char *s;

	if (n % 2 || n / 2 > BFSD_NAME_MAX)
		return -EINVAL;
	s = malloc(n / 2 + 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int c;

		if (sscanf(in + 2 * i, "%2x", &c) != 1) {
			free(s);
			return -EINVAL;
		}
		s[i] = (char)c;
	}
	s[n / 2] = '\0';
	*out = s;
	return 0;
}

/* Parse a list of n numbers starting at *p. */
static int numbers(char **p, size_t n, uint64_t **out)
{
	uint64_t *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *end;

		v[i] = strtoull(*p, &end, 10);
		if (end == *p) {
			free(v);
			return -EINVAL;
		}
		*p = end;
	}
	*out = v;
	return 0;
}

static int line_branch(struct replay *rp, char *p)
{
	struct rec r = { 0 }, *old;
	char name[2 * BFSD_NAME_MAX + 2];
	int used = 0, ret;

	if (sscanf(p,
		   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %d %d%n",
		   &r.id, &r.gen, &r.pgen, &r.parent, &r.epoch, &r.created, &r.nown, &r.nlayers,
		   &used) != 8 ||
	    r.nlayers < 0 || r.nlayers > 100000)
		return -EINVAL;
	p += used;
	ret = numbers(&p, r.nlayers, &r.layers);
	if (ret)
		return ret;
	if (sscanf(p, " %511s", name) != 1 || unhex(name, &r.name)) {
		rec_clear(&r);
		return -EINVAL;
	}
	old = rec_find(rp, r.id);
	if (old) {
		rec_clear(old);
		*old = r;
		return 0;
	}
	if (rp->n == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 64;
		struct rec *n = realloc(rp->r, cap * sizeof(*n));

		if (!n) {
			rec_clear(&r);
			return -ENOMEM;
		}
		rp->r = n;
		rp->cap = cap;
	}
	rp->r[rp->n++] = r;
	return 0;
}

static int line_fs(struct replay *rp, char *p)
{
	uint64_t *v;
	size_t npres;
	int used = 0, ret;

	if (sscanf(p, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %zu%n", &rp->fsrec[0],
		   &rp->fsrec[1], &rp->fsrec[2], &rp->fsrec[3], &npres, &used) != 5 ||
	    npres > 1000000)
		return -EINVAL;
	p += used;
	ret = numbers(&p, npres, &v);
	if (ret)
		return ret;
	free(rp->pres);
	rp->pres = v;
	rp->npres = npres;
	rp->have_fs = true;
	return 0;
}

static int apply_line(struct replay *rp, char *line)
{
	struct rec *r;
	uint64_t id;

	switch (line[0]) {
	case 'B':
		return line_branch(rp, line + 1);
	case 'F':
		return line_fs(rp, line + 1);
	case 'G':
		if (sscanf(line + 1, "%" SCNu64, &id) != 1)
			return -EINVAL;
		r = rec_find(rp, id);
		if (r)
			r->gone = true;
		return 0;
	case 'C':
		if (sscanf(line + 1, "%" SCNu64, &rp->current) != 1)
			return -EINVAL;
		rp->have_current = true;
		return 0;
	}
	return -EINVAL;
}

/* Replay the log text; *valid gets the length of its valid prefix.  A
 * malformed record is skipped; running out of memory fails the replay. */
static int replay_text(struct replay *rp, char *text, size_t len, size_t *valid)
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
		if (i < lines || bfsd_store_sum(body, end - body) != sum)
			break;
		for (char *l = body; l < end;) {
			char *e = memchr(l, '\n', end - l);
			int ret;

			*e = '\0';
			ret = apply_line(rp, l);
			if (ret == -ENOMEM)
				return ret;
			if (ret)
				bfsd_warn("state log: ignoring a malformed record");
			l = e + 1;
		}
		pos = end - text;
	}
	*valid = pos;
	return 0;
}

static int read_log(struct bfsd_fs *fs, struct replay *rp)
{
	struct bfsd_buf text = { 0 };
	char chunk[65536];
	size_t valid;
	ssize_t n = 0;
	int fd, ret = 0;

	fd = openat(fs->storage_fd, "state", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (!ret && (n = read(fd, chunk, sizeof(chunk))) > 0)
		ret = bfsd_buf_add(&text, chunk, n);
	if (!ret && n < 0)
		ret = -errno;
	if (!ret && text.len)
		ret = replay_text(rp, text.data, text.len, &valid);
	if (!ret && text.len) {
		if (valid < text.len) {
			bfsd_warn("state log: dropped a torn tail of %zu bytes", text.len - valid);
			if (ftruncate(fd, valid) < 0)
				ret = -errno;
		}
	}
	close(fd);
	bfsd_buf_free(&text);
	return ret;
}

/* The shared layer object for id, opened on first use. */
static int layer_for(struct bfsd_fs *fs, struct bfsd_layer ***open, size_t *nopen, uint64_t id,
		     enum bfsd_layer_kind kind, struct bfsd_layer **out)
{
	char path[PATH_MAX];
	struct bfsd_layer **n;
	int ret;

	for (size_t i = 0; i < *nopen; i++) {
		if ((*open)[i]->id == id) {
			*out = bfsd_layer_get((*open)[i]);
			return 0;
		}
	}
	if (snprintf(path, sizeof(path), "%s/layers/%" PRIu64, fs->storage_path, id) >= PATH_MAX)
		return -ENAMETOOLONG;
	n = realloc(*open, (*nopen + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	*open = n;
	ret = bfsd_layer_open(fs, kind, id, path, &n[*nopen]);
	if (ret)
		return ret;
	*out = bfsd_layer_get(n[(*nopen)++]);
	return 0;
}

/*
 * Make the branch of record r.  A branch whose parent was discarded is
 * dropped (its own "gone" record was lost, say to a full disk): it was
 * being discarded with its parent.  Anything else that stops it from coming
 * back fails the mount, before anything is swept: a layer that cannot be
 * opened now (no memory, no file descriptors, a permission, a missing
 * directory) is never a reason to delete a branch and its layers.
 */
static int build_branch(struct bfsd_fs *fs, struct replay *rp, struct rec *r,
			struct bfsd_layer ***open, size_t *nopen)
{
	struct bfsd_branch *b, *parent = bfsd_branch_find_id(fs, r->parent);
	struct rec *prec = rec_find(rp, r->parent);
	int ret;

	if (!parent && prec && prec->gone) {
		bfsd_warn("state log: branch '%s' outlived its parent; dropped", r->name);
		r->gone = true; /* and so do its children */
		return 0;
	}
	if (!parent) {
		bfsd_err("state log: branch '%s' names parent %" PRIu64 ", which the log does not "
			 "have; nothing was changed",
			 r->name, r->parent);
		return -EUCLEAN;
	}
	ret = bfsd_branch_alloc(fs, r->id, r->name, &b);
	if (ret)
		return ret;
	b->layers = calloc(r->nlayers ? r->nlayers : 1, sizeof(*b->layers));
	if (!b->layers) {
		bfsd_branch_put(b);
		return -ENOMEM;
	}
	for (int i = 0; i < r->nlayers; i++) {
		ret = layer_for(fs, open, nopen, r->layers[i], BFSD_LAYER_DELTA, &b->layers[i]);
		if (ret) {
			bfsd_err("branch '%s': cannot open its layer %s/layers/%" PRIu64 ": %s; "
				 "nothing was changed: mount again once it can be opened",
				 r->name, fs->storage_path, r->layers[i], bfsd_strerror(-ret));
			bfsd_branch_put(b);
			return ret;
		}
		b->nlayers++;
	}
	b->gen = r->gen;
	b->parent_gen = r->pgen;
	b->epoch = r->epoch;
	b->created_ns = r->created;
	b->nown = r->nown;
	b->parent = parent;
	bfsd_branch_link(fs, b);
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Send layer directories that nothing references to the trash. */
static void sweep_layers(struct bfsd_fs *fs, struct bfsd_layer **open, size_t nopen)
{
	int fd = openat(fs->layers_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d = bfsd_fdopendir(fd);

	if (!d)
		return;
	while ((de = readdir(d))) {
		uint64_t id;
		bool used = false;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		id = strtoull(de->d_name, &end, 10);
		for (size_t i = 0; i < nopen && !used && (!*end || !strcmp(end, ".held")); i++)
			used = open[i]->id == id;
		/* A held directory whose layer is gone goes with it. */
		if (!used)
			bfsd_store_trash_layer(fs, *end && strcmp(end, ".held") ? UINT64_MAX : id);
	}
	closedir(d);
}

static void min_epoch(struct bfsd_branch *b, void *arg)
{
	uint64_t *min = arg;

	if (b->epoch < *min)
		*min = b->epoch;
}

int bfsd_store_load(struct bfsd_fs *fs)
{
	uint64_t min = UINT64_MAX;
	struct replay rp = { 0 };
	struct bfsd_layer **open = NULL;
	struct rec *mainrec;
	size_t nopen = 0;
	int ret;

	ret = read_log(fs, &rp);
	if (ret)
		goto out_free;
	ret = bfsd_branch_alloc(fs, 0, BFSD_MAIN, &fs->main);
	if (ret)
		goto out_free;
	bfsd_branch_link(fs, fs->main);
	mainrec = rec_find(&rp, 0);
	if (mainrec)
		fs->main->gen = mainrec->gen;
	if (rp.have_fs) {
		fs->next_branch_id = rp.fsrec[0];
		fs->next_layer_id = rp.fsrec[1];
		fs->next_epoch = rp.fsrec[2];
		fs->pres_first = rp.fsrec[3];
	}
	if (rp.n)
		qsort(rp.r, rp.n, sizeof(*rp.r), rec_cmp);
	for (size_t i = 0; i < rp.n && !ret; i++)
		if (rp.r[i].id && !rp.r[i].gone)
			ret = build_branch(fs, &rp, &rp.r[i], &open, &nopen);
	bfsd_branch_each(fs, min_epoch, &min);
	for (size_t i = 0; i < rp.npres && !ret; i++) {
		struct bfsd_layer *l;

		/* Older than every branch: nobody needs it (a crash may have
		 * sent it to the trash before the log said so); swept below. */
		if (!fs->npres && fs->pres_first < min) {
			fs->pres_first++;
			continue;
		}
		ret = layer_for(fs, &open, &nopen, rp.pres[i], BFSD_LAYER_PRESERVE, &l);
		if (ret)
			break;
		l->kind = BFSD_LAYER_PRESERVE;
		ret = bfsd_preserve_push(fs, l);
	}
	if (ret)
		goto out_release;
	fs->current = rp.have_current ? bfsd_branch_find_id(fs, rp.current) : NULL;
	if (!fs->current)
		fs->current = fs->main;
	/* Stacks an older version left unfolded fold after the first
	 * control request. */
	atomic_store(&fs->fold_wanted, true);
	sweep_layers(fs, open, nopen);
out_release:
	for (size_t i = 0; i < nopen; i++)
		bfsd_layer_put(open[i]);
	free(open);
out_free:
	for (size_t i = 0; i < rp.n; i++)
		rec_clear(&rp.r[i]);
	free(rp.r);
	free(rp.pres);
	return ret;
}
