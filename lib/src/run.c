/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The life of a pattern run and its branch ledger.
 *
 * The ledger records every branch the run creates, in creation order, with
 * its state.  Since a child is always created after its parent, aborting
 * the live entries from the last to the first aborts children before
 * parents, which is what the file system requires (ENOTEMPTY otherwise).
 * bfs__run_with() does exactly that after the pattern body returns,
 * whatever it returned, once every process is dead: so no path of any
 * pattern can leave a branch behind.  A branch the daemon already discarded
 * (a stale child of a committed branch) aborts as ENOENT, which counts as
 * gone.
 */
#define _GNU_SOURCE
#include "pattern.h"
#include "runner_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_GRACE_MS 2000

bool bfs__run_expired(const struct bfs__run *run)
{
	return run->deadline != INT64_MAX && bfs__now_ms() >= run->deadline;
}

/* t (0: none) capped by what is left of the run. */
static unsigned int capped(const struct bfs__run *run, unsigned int t)
{
	int64_t left;

	if (run->deadline == INT64_MAX)
		return t;
	left = run->deadline - bfs__now_ms();
	if (left < 1)
		left = 1;
	if (left > UINT_MAX)
		left = UINT_MAX;
	return t && t < left ? t : (unsigned int)left;
}

unsigned int bfs__run_timeout(const struct bfs__run *run)
{
	return capped(run, run->opts.task_timeout_ms);
}

unsigned int bfs__run_helper_timeout(const struct bfs__run *run)
{
	unsigned int t = run->opts.helper_timeout_ms;

	if (!t)
		t = run->opts.task_timeout_ms;
	if (!t && run->deadline == INT64_MAX)
		t = BFS_HELPER_TIMEOUT_DEFAULT_MS;
	return capped(run, t);
}

int bfs__run_check(struct bfs__run *run)
{
	if (!run->signal && run->runner)
		run->signal = bfs_runner_signal(run->runner);
	return run->signal ? -EINTR : 0;
}

int bfs__run_own(struct bfs__run *run, void *ptr)
{
	if (run->nowned == run->capowned) {
		size_t cap = run->capowned ? 2 * run->capowned : 16;
		void **v = realloc(run->owned, cap * sizeof(*v));

		if (!v) {
			free(ptr);
			return -ENOMEM;
		}
		run->owned = v;
		run->capowned = cap;
	}
	run->owned[run->nowned++] = ptr;
	return 0;
}

int bfs__tasks_check(const struct bfs_task *tasks, size_t n)
{
	if (!tasks || !n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct bfs_task *t = &tasks[i];

		if (!!t->fn + !!t->argv + !!t->shell != 1 || (t->argv && !t->argv[0]))
			return -EINVAL;
	}
	return 0;
}

const char *bfs__branch_name(const struct bfs__run *run, int id)
{
	return id < 0 ? run->parent : run->b[id].name;
}

const char *bfs__branch_path(const struct bfs__run *run, int id)
{
	return id < 0 ? run->parent_path : run->b[id].path;
}

int bfs__branch_create(struct bfs__run *run, int *id, int parent)
{
	struct bfs__branch *b;
	int ret;

	if (run->nb == run->capb) {
		size_t cap = run->capb ? 2 * run->capb : 16;
		struct bfs__branch *v = realloc(run->b, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		run->b = v;
		run->capb = cap;
	}
	b = &run->b[run->nb];
	memset(b, 0, sizeof(*b));
	ret = run->be->ops->create(run->be->ctx, &b->name, &b->path, bfs__branch_name(run, parent));
	if (ret)
		return ret;
	b->parent = parent;
	b->state = BFS__LIVE;
	*id = (int)run->nb++;
	return 0;
}

int bfs__branch_commit(struct bfs__run *run, int id)
{
	struct bfs__branch *b = &run->b[id];
	int ret;

	if (b->state != BFS__LIVE)
		return -ENOENT;
	/* After a caught signal nothing more is committed. */
	ret = bfs__run_check(run);
	if (!ret)
		ret = run->be->ops->commit(run->be->ctx, b->name);
	if (!ret)
		b->state = BFS__COMMITTED;
	return ret;
}

int bfs__branch_abort(struct bfs__run *run, int id)
{
	struct bfs__branch *b;
	int ret;

	if (id < 0)
		return 0;
	b = &run->b[id];
	if (b->state != BFS__LIVE)
		return 0;
	ret = run->be->ops->abort(run->be->ctx, b->name);
	if (ret == -ENOENT)
		ret = 0;
	if (!ret)
		b->state = BFS__ABORTED;
	return ret;
}

static int run_begin(struct bfs__run *run, const char *pattern, const struct bfs_pattern_opts *opts)
{
	struct bfs_runner_opts ro = BFS_RUNNER_OPTS_INIT;
	const struct bfs__backend_ops *ops = run->be->ops;
	int ret;

	if (opts)
		run->opts = *opts;
	if (!run->opts.grace_ms)
		run->opts.grace_ms = DEFAULT_GRACE_MS;
	run->start = bfs__now_ms();
	run->deadline = run->opts.timeout_ms ? run->start + run->opts.timeout_ms : INT64_MAX;
	ret = bfs__outcome_new(&run->out, pattern);
	if (ret)
		return ret;
	if (run->opts.parent)
		ret = (run->parent = strdup(run->opts.parent)) ? 0 : -ENOMEM;
	else
		ret = ops->current(run->be->ctx, &run->parent);
	if (ret)
		return bfs__outcome_fail(run->out, ret, "cannot read the current branch: %s",
					 bfs_strerror(ret));
	ret = ops->path(run->be->ctx, &run->parent_path, run->parent);
	if (!ret && !(run->out->parent = strdup(run->parent)))
		ret = -ENOMEM;
	if (ret)
		return ret;
	ro.grace_ms = run->opts.grace_ms;
	ro.output_limit = run->opts.output_limit;
	if (!(run->opts.flags & BFS_PATTERN_NO_SIGNALS))
		ro.flags = BFS_RUNNER_CATCH_SIGNALS;
	return bfs_runner_new(&run->runner, &ro);
}

/* Every process dead and reaped, results dropped (the pool records what it
 * waits for; anything left here comes from a path that gave up early). */
static void reap_all(struct bfs__run *run)
{
	struct bfs_proc_result *res;

	if (!run->runner)
		return;
	bfs_runner_kill_all(run->runner);
	for (;;) {
		int ret = bfs_runner_wait(&res, run->runner, -1);

		if (ret == 0)
			bfs_proc_result_free(res);
		else if (ret != -EINTR)
			break;
		else
			bfs_runner_kill_all(run->runner);
	}
}

/* Abort every live branch, children first; the first failure is recorded. */
static void abort_all(struct bfs__run *run)
{
	for (size_t i = run->nb; i-- > 0;) {
		int ret = bfs__branch_abort(run, (int)i);

		if (ret)
			bfs__outcome_fail(run->out, ret, "cannot abort branch '%s': %s",
					  run->b[i].name, bfs_strerror(ret));
	}
}

static void run_free(struct bfs__run *run)
{
	bfs_runner_free(run->runner);
	for (size_t i = 0; i < run->nb; i++) {
		free(run->b[i].name);
		free(run->b[i].path);
	}
	for (size_t i = 0; i < run->nowned; i++)
		free(run->owned[i]);
	free(run->owned);
	free(run->b);
	free(run->parent);
	free(run->parent_path);
	free(run);
}

static int run_end(struct bfs_outcome **out, struct bfs__run *run, int ret)
{
	struct bfs_outcome *o = run->out;

	bfs__run_check(run);
	reap_all(run);
	abort_all(run);
	if (ret == -EINTR && run->signal)
		bfs__outcome_fail(o, ret, "interrupted by SIG%s", sigabbrev_np(run->signal));
	else if (ret)
		bfs__outcome_fail(o, ret, "%s", bfs_strerror(ret));
	o->signal = run->signal;
	o->elapsed_ms = bfs__now_ms() - run->start;
	run_free(run);
	*out = o;
	return o->error;
}

int bfs__run_with(struct bfs_outcome **out, struct bfs__backend *be, const char *pattern,
		  const struct bfs_pattern_opts *opts, bfs__body_fn body, const struct bfs__args *a)
{
	struct bfs__run *run;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	ret = bfs__tasks_check(a->tasks, a->ntasks);
	if (ret)
		return ret;
	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->be = be;
	ret = run_begin(run, pattern, opts);
	if (!run->out) {
		run_free(run);
		return ret;
	}
	if (!ret)
		ret = body(run, a);
	return run_end(out, run, ret);
}

int bfs__run_mount(struct bfs_outcome **out, struct bfs_mount *m, const char *pattern,
		   const struct bfs_pattern_opts *opts, bfs__body_fn body,
		   const struct bfs__args *a)
{
	struct bfs__backend be;

	if (!m) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	bfs__backend_mount(&be, m);
	return bfs__run_with(out, &be, pattern, opts, body, a);
}
