/* SPDX-License-Identifier: Apache-2.0 */
/*
 * speculate: candidates race in parallel branches; the first success is
 * committed at once, the others are killed and aborted.  A failure is
 * aborted as soon as it is known.  Losing the commit to somebody else's
 * (ESTALE: the parent moved under every candidate alike) ends the race with
 * nothing committed.
 */
#include "pattern.h"

#include <errno.h>

static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	struct bfs__run *run = p->run;
	int ret;

	if (!c->r->success)
		return bfs__branch_abort(run, c->branch);
	ret = bfs__pool_commit(p, c);
	if (ret)
		return ret;
	run->out->winner = (int)c->r->index;
	run->out->committed = true;
	p->stop_reason = "another candidate was committed";
	return 1;
}

int bfs__speculate(struct bfs__run *run, const struct bfs__args *a)
{
	struct bfs__pool p;
	int ret = 0, r;

	bfs__pool_init(&p, run, finished, NULL);
	for (size_t i = 0; !ret && i < a->ntasks; i++)
		ret = bfs__pool_add(&p, &a->tasks[i], -1, 0, NULL, 0);
	if (!ret)
		ret = bfs__pool_run(&p);
	r = bfs__pool_abort_others(&p, NULL);
	bfs__pool_free(&p);
	return ret ? ret : r;
}

int bfs_speculate(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
		  size_t ntasks, const struct bfs_speculate_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	return bfs__run_mount(out, m, "speculate", opts ? &opts->common : NULL, bfs__speculate, &a);
}
