/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake branch backend of the pattern unit tests (see fake_backend.h).
 */
#define _GNU_SOURCE
#include "fake_backend.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((format(printf, 2, 3))) static void logf_(struct fake *f, const char *fmt, ...)
{
	size_t len = strlen(f->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->log + len, sizeof(f->log) - len, fmt, ap);
	va_end(ap);
}

static int find(const struct fake *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->b[i].name, name))
			return i;
	return -1;
}

static bool stale(const struct fake *f, int i)
{
	return f->b[i].parent >= 0 && f->b[i].parent_gen != f->b[f->b[i].parent].gen;
}

/* Discard stale children of i; -ENOTEMPTY when a live one is not stale. */
static int children(struct fake *f, int i)
{
	for (int c = 0; c < f->n; c++)
		if (f->b[c].live && f->b[c].parent == i && !stale(f, c))
			return -ENOTEMPTY;
	for (int c = 0; c < f->n; c++)
		if (f->b[c].live && f->b[c].parent == i)
			f->b[c].live = false;
	return 0;
}

static int fake_create(void *ctx, char **name, char **path, const char *parent)
{
	struct fake *f = ctx;
	int p = find(f, parent);
	struct fake_branch *b;
	char dir[sizeof(b->path)];

	if (p < 0 || !f->b[p].live)
		return -ENOENT;
	if (++f->creates == f->fail_create_at || f->n == FAKE_MAX)
		return -ENOSPC;
	b = &f->b[f->n];
	snprintf(b->name, sizeof(b->name), "b%d", f->n);
	snprintf(dir, sizeof(dir), "%s/b%d", f->dir, f->n);
	memcpy(b->path, dir, sizeof(dir));
	if (mkdir(b->path, 0755) < 0)
		return -errno;
	b->parent = p;
	b->parent_gen = f->b[p].gen;
	b->gen = 0;
	b->live = true;
	f->n++;
	logf_(f, "+%s<%s ", b->name, parent);
	*name = strdup(b->name);
	*path = strdup(b->path);
	return 0;
}

static int fake_commit(void *ctx, const char *name)
{
	struct fake *f = ctx;
	int i = find(f, name), ret = 0;

	if (i == 0)
		ret = -EPERM;
	else if (i < 0 || !f->b[i].live)
		ret = -ENOENT;
	else if (f->fail_commit && !strcmp(f->fail_commit, name))
		ret = f->fail_commit_err;
	else if (!(ret = children(f, i)) && stale(f, i))
		ret = -ESTALE;
	if (ret) {
		logf_(f, "!=%s ", name);
		return ret;
	}
	f->b[f->b[i].parent].gen++;
	f->b[i].live = false;
	logf_(f, "=%s ", name);
	return 0;
}

static int fake_abort(void *ctx, const char *name)
{
	struct fake *f = ctx;
	int i = find(f, name), ret = 0;

	if (i == 0)
		ret = -EPERM;
	else if (i < 0 || !f->b[i].live)
		ret = -ENOENT;
	else
		ret = children(f, i);
	if (ret) {
		logf_(f, "!-%s ", name);
		return ret;
	}
	f->b[i].live = false;
	logf_(f, "-%s ", name);
	return 0;
}

static int fake_path(void *ctx, char **path, const char *name)
{
	struct fake *f = ctx;
	int i = find(f, name);

	if (i < 0)
		return -ENOENT;
	*path = strdup(f->b[i].path);
	return *path ? 0 : -ENOMEM;
}

static int fake_current(void *ctx, char **name)
{
	*name = strdup("main");
	return *name ? 0 : -ENOMEM;
}

static const struct bfs__backend_ops fake_ops = {
	.create = fake_create,
	.commit = fake_commit,
	.abort = fake_abort,
	.path = fake_path,
	.current = fake_current,
};

void fake_init(struct fake *f, const char *dir)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	snprintf(f->b[0].name, sizeof(f->b[0].name), "main");
	snprintf(f->b[0].path, sizeof(f->b[0].path), "%s", dir);
	f->b[0].parent = -1;
	f->b[0].live = true;
	f->n = 1;
}

void fake_backend(struct bfs__backend *be, struct fake *f)
{
	be->ops = &fake_ops;
	be->ctx = f;
}

int fake_live(const struct fake *f)
{
	int n = 0;

	for (int i = 1; i < f->n; i++)
		n += f->b[i].live;
	return n;
}

const char *fake_decisions(const struct fake *f)
{
	static char out[16384];
	const char *p = f->log;
	size_t k = 0;

	while (*p) {
		size_t len = strcspn(p, " ");

		if (*p != '+' && k + len + 1 < sizeof(out)) {
			memcpy(out + k, p, len);
			out[k + len] = ' ';
			k += len + 1;
		}
		p += len + (p[len] == ' ');
	}
	out[k ? k - 1 : 0] = '\0';
	return out;
}
