/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cascaded: waves of growing width (fan_out, default 1, 2, 4).  Within a
 * wave candidates race as in speculate: the first success is committed and
 * ends the run.  When a wave has no success, the error text of each of its
 * failures is appended to the feedback every later candidate gets in
 * BRANCHING_FEEDBACK (the last FEEDBACK_MAX bytes of it).
 */
#define _GNU_SOURCE
#include "pattern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define FEEDBACK_MAX   65536
#define ERROR_TEXT_MAX 4096

struct state {
	char *wave_errors;
};

static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	struct state *st = p->data;
	struct bfs__run *run = p->run;
	char *text, *entry;
	int ret;

	if (c->r->success) {
		ret = bfs__pool_commit(p, c);
		if (ret)
			return ret;
		run->out->winner = (int)c->r->index;
		run->out->committed = true;
		p->stop_reason = "another candidate was committed";
		return 1;
	}
	text = bfs__error_text(c->r, ERROR_TEXT_MAX);
	if (!text || asprintf(&entry, "[candidate %u] %s\n", c->r->index, text) < 0)
		entry = NULL;
	free(text);
	ret = entry ? bfs__text_append(&st->wave_errors, entry, FEEDBACK_MAX) : -ENOMEM;
	free(entry);
	return ret ? ret : bfs__branch_abort(run, c->branch);
}

static const unsigned int default_fan_out[] = { 1, 2, 4 };

int bfs__cascade(struct bfs__run *run, const struct bfs__args *a)
{
	const struct bfs_cascade_opts *o = a->opts;
	const unsigned int *fan = o && o->fan_out ? o->fan_out : default_fan_out;
	size_t waves = o && o->fan_out ? o->waves : 3, next = 0;
	char *feedback = NULL;
	struct state st = { NULL };
	int ret = bfs__text_append(&feedback, "", 0);

	for (size_t w = 0; !ret && w < waves && !run->out->committed; w++) {
		struct bfs__pool p;
		int r;

		if (bfs__run_expired(run))
			break;
		bfs__pool_init(&p, run, finished, &st);
		for (unsigned int i = 0; !ret && i < fan[w]; i++, next++)
			ret = bfs__pool_add(&p, &a->tasks[next % a->ntasks], -1, (unsigned int)w,
					    feedback, 0);
		if (!ret)
			ret = bfs__pool_run(&p);
		r = bfs__pool_abort_others(&p, NULL);
		ret = ret ? ret : r;
		bfs__pool_free(&p);
		if (!ret && st.wave_errors)
			ret = bfs__text_append(&feedback, st.wave_errors, FEEDBACK_MAX);
		free(st.wave_errors);
		st.wave_errors = NULL;
	}
	free(feedback);
	return ret;
}

/* Every wave has a width. */
static bool valid(const struct bfs_cascade_opts *o)
{
	if (!o || !o->fan_out)
		return true;
	for (size_t i = 0; i < o->waves; i++)
		if (!o->fan_out[i])
			return false;
	return o->waves > 0;
}

int bfs_cascade(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
		size_t ntasks, const struct bfs_cascade_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	if (!valid(opts)) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return bfs__run_mount(out, m, "cascade", opts ? &opts->common : NULL, bfs__cascade, &a);
}
