/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outcome of a pattern run: its results (one per candidate, each
 * allocated alone so that pointers handed to callbacks stay valid while the
 * list grows), the winner, the error that stopped it, tournament matches,
 * and the public accessors.  Every string in a result is owned by it.
 */
#define _GNU_SOURCE
#include "pattern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bfs__outcome_new(struct bfs_outcome **out, const char *pattern)
{
	struct bfs_outcome *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->pattern = pattern;
	o->winner = -1;
	*out = o;
	return 0;
}

int bfs__outcome_add(struct bfs_result **out, struct bfs_outcome *o)
{
	struct bfs_result *r;

	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 8;
		struct bfs_result **v = realloc(o->r, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		o->r = v;
		o->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->index = (unsigned int)o->n;
	r->group = -1;
	r->exit_code = -1;
	o->r[o->n++] = r;
	*out = r;
	return 0;
}

int bfs__outcome_add_match(struct bfs_outcome *o, const struct bfs_match *m)
{
	struct bfs_match *dup;

	if (o->nm == o->capm) {
		size_t cap = o->capm ? 2 * o->capm : 8;
		struct bfs_match *v = realloc(o->m, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		o->m = v;
		o->capm = cap;
	}
	dup = &o->m[o->nm];
	*dup = *m;
	dup->error = NULL;
	if (m->error && !(dup->error = strdup(m->error)))
		return -ENOMEM;
	o->nm++;
	return 0;
}

int bfs__outcome_fail(struct bfs_outcome *o, int err, const char *fmt, ...)
{
	va_list ap;

	if (o->error || !err)
		return err;
	o->error = err;
	va_start(ap, fmt);
	if (vasprintf(&o->message, fmt, ap) < 0)
		o->message = NULL;
	va_end(ap);
	return err;
}

void bfs__result_set(const char **field, const char *s)
{
	free((char *)*field);
	*field = s ? strdup(s) : NULL;
}

void bfs__result_setf(const char **field, const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free((char *)*field);
	*field = s;
}

static void result_free(struct bfs_result *r)
{
	if (!r)
		return;
	free((char *)r->branch);
	free((char *)r->path);
	free((char *)r->reason);
	free((char *)r->out);
	free((char *)r->err);
	free((char *)r->feedback);
	free(r);
}

void bfs_outcome_free(struct bfs_outcome *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		result_free(o->r[i]);
	for (size_t i = 0; i < o->nm; i++)
		free((char *)o->m[i].error);
	free(o->r);
	free(o->m);
	free(o->parent);
	free(o->message);
	free(o);
}

const char *bfs_outcome_pattern(const struct bfs_outcome *o)
{
	return o->pattern;
}

const char *bfs_outcome_parent(const struct bfs_outcome *o)
{
	return o->parent;
}

size_t bfs_outcome_count(const struct bfs_outcome *o)
{
	return o->n;
}

const struct bfs_result *bfs_outcome_get(const struct bfs_outcome *o, size_t i)
{
	return i < o->n ? o->r[i] : NULL;
}

const struct bfs_result *bfs_outcome_winner(const struct bfs_outcome *o)
{
	return o->winner >= 0 ? o->r[o->winner] : NULL;
}

bool bfs_outcome_committed(const struct bfs_outcome *o)
{
	return o->committed;
}

int bfs_outcome_error(const struct bfs_outcome *o)
{
	return o->error;
}

const char *bfs_outcome_message(const struct bfs_outcome *o)
{
	return o->message;
}

int bfs_outcome_signal(const struct bfs_outcome *o)
{
	return o->signal;
}

int64_t bfs_outcome_elapsed_ms(const struct bfs_outcome *o)
{
	return o->elapsed_ms;
}

size_t bfs_outcome_match_count(const struct bfs_outcome *o)
{
	return o->nm;
}

const struct bfs_match *bfs_outcome_match(const struct bfs_outcome *o, size_t i)
{
	return i < o->nm ? &o->m[i] : NULL;
}
