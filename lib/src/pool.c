/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pool of candidates run in parallel: each gets a branch (a child of its
 * parent), then a process in it; at most max_parallel run at once.  As each
 * finishes its result is recorded and the pattern's `finished` policy
 * decides (commit, abort, score, stop).  When the policy or a caught signal
 * stops the pool, the candidates still running are killed (and recorded as
 * stopped) and the pending ones are never started.  A candidate that cannot
 * start for lack of time is recorded as timed out.
 *
 * The pool leaves branches as the policy left them: the pattern aborts the
 * losers itself, and bfs__run_with() aborts anything it forgot.
 */
#define _GNU_SOURCE
#include "pattern.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bfs__pool_init(struct bfs__pool *p, struct bfs__run *run, bfs__finished_fn finished,
		    void *data)
{
	memset(p, 0, sizeof(*p));
	p->run = run;
	p->finished = finished;
	p->data = data;
}

void bfs__pool_free(struct bfs__pool *p)
{
	free(p->c);
	p->c = NULL;
	p->n = p->cap = 0;
}

int bfs__pool_add(struct bfs__pool *p, const struct bfs_task *task, int parent, unsigned int level,
		  const char *feedback, int tag)
{
	struct bfs__cand *c;
	int ret;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct bfs__cand *v = realloc(p->c, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->c = v;
		p->cap = cap;
	}
	c = &p->c[p->n];
	memset(c, 0, sizeof(*c));
	ret = bfs__outcome_add(&c->r, p->run->out);
	if (ret)
		return ret;
	c->task = task;
	c->parent = parent;
	c->level = level;
	c->feedback = feedback;
	c->branch = -1;
	c->tag = tag;
	c->r->level = level;
	if (feedback) {
		bfs__result_set(&c->r->feedback, feedback);
		if (!c->r->feedback)
			return -ENOMEM;
	}
	p->n++;
	return 0;
}

/* Create c's branch and start it: 1 started, 0 no time left, or -errno. */
static int cand_start(struct bfs__pool *p, struct bfs__cand *c)
{
	struct bfs__run *run = p->run;
	struct bfs_start s = BFS_START_INIT;
	struct bfs_result *r = c->r;
	int ret, id;

	if (bfs__run_expired(run)) {
		r->timed_out = true;
		bfs__result_set(&r->reason, "timed out before it started");
		return 0;
	}
	ret = bfs__branch_create(run, &c->branch, c->parent);
	if (ret) {
		r->error = ret;
		bfs__result_setf(&r->reason, "cannot create a branch of '%s': %s",
				 bfs__branch_name(run, c->parent), bfs_strerror(ret));
		return bfs__outcome_fail(run->out, ret, "cannot create a branch of '%s': %s",
					 bfs__branch_name(run, c->parent), bfs_strerror(ret));
	}
	bfs__result_set(&r->branch, bfs__branch_name(run, c->branch));
	bfs__result_set(&r->path, bfs__branch_path(run, c->branch));
	s.task = c->task;
	s.info.index = r->index;
	s.info.level = c->level;
	s.info.branch = r->branch;
	s.info.path = r->path;
	s.info.feedback = c->feedback;
	s.env = run->opts.env;
	s.timeout_ms = bfs__run_timeout(run);
	s.flags = BFS_START_SCORE_FD;
	s.data = c;
	id = bfs_runner_start(run->runner, &s);
	if (id < 0) {
		r->error = id;
		bfs__result_setf(&r->reason, "cannot start: %s", bfs_syserr(-id));
		return id;
	}
	r->started = true;
	return 1;
}

static void cand_record(struct bfs__pool *p, struct bfs__cand *c, struct bfs_proc_result *res)
{
	struct bfs_result *r = c->r;
	char why[512];

	r->exit_code = res->exit_code;
	r->signal = res->signal;
	r->timed_out = res->timed_out;
	r->error = res->error;
	r->elapsed_ms = res->elapsed_ms;
	r->success = bfs_proc_ok(res);
	/* What a failure reported is no score (see bfs__pool_zero_failures()). */
	r->has_score = r->success && res->has_score;
	r->score = r->has_score ? res->score : 0;
	r->out = res->out;
	r->out_len = res->out_len;
	r->err = res->err;
	r->err_len = res->err_len;
	res->out = res->err = NULL;
	if (r->success)
		return;
	if (res->killed && p->stop_reason)
		snprintf(why, sizeof(why), "stopped: %s", p->stop_reason);
	else
		bfs__proc_failure(why, sizeof(why), res);
	bfs__result_set(&r->reason, why);
}

/* The candidates never started. */
static void mark_skipped(struct bfs__pool *p, size_t from)
{
	bool expired = bfs__run_expired(p->run);

	for (size_t i = from; i < p->n; i++) {
		struct bfs_result *r = p->c[i].r;

		if (r->reason)
			continue;
		r->timed_out = expired;
		if (expired)
			bfs__result_set(&r->reason, "timed out before it started");
		else
			bfs__result_setf(&r->reason, "not started: %s",
					 p->stop_reason ? p->stop_reason : "stopped");
	}
}

/* Start pending candidates while there is room: 0, 1 when the time is up,
 * or -errno. */
static int fill(struct bfs__pool *p, size_t *next, unsigned int *running)
{
	unsigned int max = p->run->opts.max_parallel ? p->run->opts.max_parallel : UINT_MAX;

	while (*next < p->n && *running < max) {
		int ret = bfs__run_check(p->run);

		if (!ret)
			ret = cand_start(p, &p->c[*next]);
		if (ret <= 0)
			return ret ? ret : 1;
		(*next)++;
		(*running)++;
	}
	return 0;
}

/* The state of one bfs__pool_run(). */
struct loop {
	unsigned int running;
	size_t next;
	bool stop;
	int err;
};

/* Stop the pool: kill what runs (unless out of time: what runs then meets
 * its own deadline), start nothing more; err < 0 is remembered. */
static void halt(struct bfs__pool *p, struct loop *l, int err, bool kill)
{
	l->stop = true;
	if (err < 0 && !l->err)
		l->err = err;
	if (err == -EINTR)
		p->stop_reason = "interrupted";
	else if (err < 0 && !p->stop_reason)
		p->stop_reason = "the run failed";
	if (kill)
		bfs_runner_kill_all(p->run->runner);
}

/* A candidate finished: record it and let the policy decide. */
static void collect(struct bfs__pool *p, struct loop *l, struct bfs_proc_result *res)
{
	struct bfs__cand *c = res->data;
	int ret;

	l->running--;
	cand_record(p, c, res);
	bfs_proc_result_free(res);
	if (l->stop)
		return;
	ret = bfs__run_check(p->run);
	if (!ret && p->finished)
		ret = p->finished(p, c);
	if (ret)
		halt(p, l, ret, true);
}

int bfs__pool_run(struct bfs__pool *p)
{
	struct loop l = { 0, 0, false, 0 };

	for (;;) {
		struct bfs_proc_result *res;
		int ret = l.stop ? 0 : fill(p, &l.next, &l.running);

		if (ret)
			halt(p, &l, ret, ret < 0);
		if (!l.running)
			break;
		ret = bfs_runner_wait(&res, p->run->runner, -1);
		if (ret == -EINTR) {
			bfs__run_check(p->run);
			halt(p, &l, ret, true);
		} else if (ret) {
			halt(p, &l, ret, false);
			break; /* bfs__run_with() reaps what still runs */
		} else if (!res->data) {
			bfs_proc_result_free(res); /* a helper given up on (not ours) */
		} else {
			collect(p, &l, res);
		}
	}
	mark_skipped(p, l.next);
	return l.err;
}

void bfs__pool_zero_failures(struct bfs__pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct bfs_result *r = p->c[i].r;

		if (!r->success) {
			r->score = 0;
			r->has_score = true;
		}
	}
}

int bfs__pool_abort_others(struct bfs__pool *p, const struct bfs__cand *keep)
{
	int err = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct bfs__cand *c = &p->c[i];
		int ret;

		if (c == keep || c->branch < 0)
			continue;
		ret = bfs__branch_abort(p->run, c->branch);
		if (ret && !err)
			err = bfs__outcome_fail(p->run->out, ret, "cannot abort branch '%s': %s",
						c->r->branch, bfs_strerror(ret));
	}
	return err;
}

int bfs__pool_commit(struct bfs__pool *p, struct bfs__cand *c)
{
	struct bfs__run *run = p->run;
	int ret = bfs__branch_commit(run, c->branch);

	if (!ret) {
		c->r->committed = true;
		return 0;
	}
	c->r->error = ret;
	bfs__result_setf(&c->r->reason, "cannot commit into '%s': %s",
			 bfs__branch_name(run, c->parent), bfs_strerror(ret));
	bfs__branch_abort(run, c->branch);
	return bfs__outcome_fail(run->out, ret, "cannot commit candidate %u into '%s': %s",
				 c->r->index, bfs__branch_name(run, c->parent), bfs_strerror(ret));
}
