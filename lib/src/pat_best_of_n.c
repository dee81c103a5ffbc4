/* SPDX-License-Identifier: Apache-2.0 */
/*
 * best-of-N: n candidates run to their end (or the timeout), each holding
 * its branch; successes are scored as they finish (a precomputed score, or
 * struct bfs_scoring while the branch is still open), failures aborted.
 * Then the best success is committed (ties to the lowest index) and the
 * others aborted; in rollout mode all are aborted and the best reported.
 */
#include "pattern.h"

#include <errno.h>

static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	const struct bfs_best_of_n_opts *o = p->data;
	struct bfs_result *r = c->r;
	int ret = 0;

	if (r->success && o && o->scores) {
		r->score = o->scores[r->index];
		r->has_score = true;
	} else if (r->success) {
		ret = bfs__score(p->run, c, o ? &o->scoring : NULL);
	}
	if (!ret && !r->success)
		ret = bfs__branch_abort(p->run, c->branch);
	return ret;
}

int bfs__best_of_n(struct bfs__run *run, const struct bfs__args *a)
{
	const struct bfs_best_of_n_opts *o = a->opts;
	size_t n = o && o->n ? o->n : a->ntasks;
	struct bfs__cand *best = NULL;
	struct bfs__pool p;
	int ret = 0;

	bfs__pool_init(&p, run, finished, (void *)o);
	for (size_t i = 0; !ret && i < n; i++)
		ret = bfs__pool_add(&p, &a->tasks[i % a->ntasks], -1, 0, NULL, 0);
	if (!ret)
		ret = bfs__pool_run(&p);
	bfs__pool_zero_failures(&p);
	for (size_t i = 0; !ret && i < p.n; i++)
		if (p.c[i].r->success && (!best || bfs__better(p.c[i].r, best->r)))
			best = &p.c[i];
	if (!ret && best && o && o->rollout)
		run->out->winner = (int)best->r->index;
	if (!ret)
		ret = bfs__pool_abort_others(&p, o && o->rollout ? NULL : best);
	if (!ret && best && !(o && o->rollout)) {
		ret = bfs__pool_commit(&p, best);
		if (!ret) {
			run->out->winner = (int)best->r->index;
			run->out->committed = true;
		}
	}
	bfs__pool_free(&p);
	return ret;
}

int bfs_best_of_n(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
		  size_t ntasks, const struct bfs_best_of_n_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	return bfs__run_mount(out, m, "best-of-n", opts ? &opts->common : NULL, bfs__best_of_n, &a);
}
