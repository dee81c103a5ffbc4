/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tree of thoughts: level by level under a root branch R (a child of the
 * parent).  A level's candidates run in parallel children of R; the best
 * success (struct bfs_scoring, ties to the lowest index) is committed into
 * R and the others aborted; then the expansion looks at R and gives the
 * next level.  After the last level, or an empty expansion, R is committed
 * into the parent.  A level without a success aborts R (nothing reaches the
 * parent), as does any error.
 */
#include "pattern.h"

#include <errno.h>

/* Score successes while their branches are open; drop failures at once. */
static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	int ret = bfs__score(p->run, c, p->data);

	if (!ret && !c->r->success)
		ret = bfs__branch_abort(p->run, c->branch);
	return ret;
}

/* Run one level under root; *won is its winner committed into root, or
 * NULL. */
static int level(struct bfs__run *run, const struct bfs_tree_opts *o, int root,
		 const struct bfs_task *tasks, size_t n, unsigned int depth, bool *won)
{
	struct bfs__cand *best = NULL;
	struct bfs__pool p;
	int ret = 0;

	*won = false;
	bfs__pool_init(&p, run, finished, o ? (void *)&o->scoring : NULL);
	for (size_t i = 0; !ret && i < n; i++)
		ret = bfs__pool_add(&p, &tasks[i], root, depth, NULL, 0);
	if (!ret)
		ret = bfs__pool_run(&p);
	bfs__pool_zero_failures(&p);
	for (size_t i = 0; !ret && i < p.n; i++)
		if (p.c[i].r->success && (!best || bfs__better(p.c[i].r, best->r)))
			best = &p.c[i];
	if (!ret)
		ret = bfs__pool_abort_others(&p, best);
	if (!ret && best && !(ret = bfs__pool_commit(&p, best))) {
		run->out->winner = (int)best->r->index;
		*won = true;
	}
	bfs__pool_free(&p);
	return ret;
}

int bfs__tree_of_thoughts(struct bfs__run *run, const struct bfs__args *a)
{
	const struct bfs_tree_opts *o = a->opts;
	unsigned int depth = o && o->depth ? o->depth : 1;
	const struct bfs_task *tasks = a->tasks;
	size_t n = a->ntasks;
	bool won = false;
	int root, ret = bfs__branch_create(run, &root, -1);

	if (ret)
		return bfs__outcome_fail(run->out, ret, "cannot create the root branch: %s",
					 bfs_strerror(ret));
	for (unsigned int d = 0; d < depth && n; d++) {
		ret = level(run, o, root, tasks, n, d, &won);
		if (ret || !won)
			break;
		if (d + 1 < depth)
			ret = bfs__expand(&tasks, &n, run, o ? &o->expansion : NULL, a->tasks,
					  a->ntasks, bfs__branch_path(run, root), d + 1);
		if (ret)
			break;
	}
	if (ret || !won) {
		/* Nothing reaches the parent: the levels' winners go with R. */
		run->out->winner = -1;
		return ret ? ret : bfs__branch_abort(run, root);
	}
	ret = bfs__branch_commit(run, root);
	if (ret)
		return bfs__outcome_fail(run->out, ret, "cannot commit the root branch: %s",
					 bfs_strerror(ret));
	run->out->committed = true;
	return 0;
}

int bfs_tree_of_thoughts(struct bfs_outcome **out, struct bfs_mount *m,
			 const struct bfs_task *tasks, size_t ntasks,
			 const struct bfs_tree_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	return bfs__run_mount(out, m, "tree", opts ? &opts->common : NULL, bfs__tree_of_thoughts,
			      &a);
}
