/* SPDX-License-Identifier: Apache-2.0 */
/*
 * beam search: level 0's candidates are the beams, children of the parent;
 * the global top `width` successes survive and the rest are aborted.  At
 * each next level every surviving beam is expanded into children of its own
 * branch, all run in parallel, and the global top `width` children survive:
 * each beam's best surviving child is committed into it (at most one per
 * beam) and gives the beam its score; every other child is aborted, and so
 * is every beam without a surviving child.  After the last level, or when
 * no beam expands to anything, the best beam is committed into the parent
 * and the others are aborted.  A level without a success commits nothing.
 */
#include "pattern.h"

#include <errno.h>
#include <stdlib.h>

struct beam {
	int branch;		 /* ledger index */
	unsigned int first;	 /* its level-0 result */
	struct bfs_result *last; /* its latest committed candidate (itself at first) */
	bool alive;
};

struct search {
	struct bfs__run *run;
	const struct bfs__args *a;
	const struct bfs_beam_opts *o;
	unsigned int width;
	struct beam *beams; /* one per level-0 candidate */
	size_t nbeams;
};

static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	int ret = bfs__score(p->run, c, p->data);

	if (!ret && !c->r->success)
		ret = bfs__branch_abort(p->run, c->branch);
	return ret;
}

static int rank_cmp(const void *x, const void *y)
{
	const struct bfs__cand *a = *(const struct bfs__cand *const *)x;
	const struct bfs__cand *b = *(const struct bfs__cand *const *)y;

	return bfs__better(a->r, b->r) ? -1 : bfs__better(b->r, a->r) ? 1 : 0;
}

/* The successes of p, best first, at most width of them: malloc'd in *top. */
static int top(struct bfs__cand ***top, size_t *n, struct bfs__pool *p, unsigned int width)
{
	struct bfs__cand **v = calloc(p->n ? p->n : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (p->c[i].r->success)
			v[k++] = &p->c[i];
	qsort(v, k, sizeof(*v), rank_cmp);
	*top = v;
	*n = k < width ? k : width;
	return 0;
}

/* Level 0: the beams. */
static int first_level(struct search *s)
{
	struct bfs__pool p;
	struct bfs__cand **v = NULL;
	size_t n = 0;
	int ret = 0;

	bfs__pool_init(&p, s->run, finished, s->o ? (void *)&s->o->scoring : NULL);
	for (size_t i = 0; !ret && i < s->a->ntasks; i++)
		ret = bfs__pool_add(&p, &s->a->tasks[i], -1, 0, NULL, (int)i);
	if (!ret)
		ret = bfs__pool_run(&p);
	bfs__pool_zero_failures(&p);
	if (!ret && !(s->beams = calloc(p.n, sizeof(*s->beams))))
		ret = -ENOMEM;
	if (!ret)
		ret = top(&v, &n, &p, s->width);
	for (size_t i = 0; !ret && i < n; i++) {
		struct beam *b = &s->beams[s->nbeams++];

		*b = (struct beam){ v[i]->branch, v[i]->r->index, v[i]->r, true };
		v[i]->r->group = (int)v[i]->r->index;
		v[i]->branch = -1; /* the beam keeps it */
	}
	if (!ret)
		ret = bfs__pool_abort_others(&p, NULL);
	free(v);
	bfs__pool_free(&p);
	return ret;
}

/* Children of every live beam at depth d; *any says whether there were. */
static int expand_beams(struct search *s, struct bfs__pool *p, unsigned int d, bool *any)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < s->nbeams; i++) {
		struct beam *b = &s->beams[i];
		const struct bfs_task *tasks;
		size_t n;

		if (!b->alive)
			continue;
		ret = bfs__expand(&tasks, &n, s->run, s->o ? &s->o->expansion : NULL, s->a->tasks,
				  s->a->ntasks, bfs__branch_path(s->run, b->branch), d);
		for (size_t j = 0; !ret && j < n; j++) {
			ret = bfs__pool_add(p, &tasks[j], b->branch, d, NULL, (int)i);
			if (!ret)
				p->c[p->n - 1].r->group = (int)b->first;
		}
	}
	*any = p->n > 0;
	return ret;
}

/* After a deeper level: commit each beam's best survivor, drop the rest. */
static int prune(struct search *s, struct bfs__pool *p)
{
	struct bfs__cand **v = NULL, **chosen = calloc(s->nbeams, sizeof(*chosen));
	size_t n = 0;
	int ret = chosen ? top(&v, &n, p, s->width) : -ENOMEM;

	for (size_t i = 0; !ret && i < n; i++)
		if (!chosen[v[i]->tag])
			chosen[v[i]->tag] = v[i];
	for (size_t i = 0; !ret && i < p->n; i++)
		if (chosen[p->c[i].tag] != &p->c[i])
			ret = bfs__branch_abort(s->run, p->c[i].branch);
	for (size_t i = 0; !ret && i < s->nbeams; i++) {
		struct beam *b = &s->beams[i];

		if (!b->alive)
			continue;
		if (chosen[i] && !(ret = bfs__pool_commit(p, chosen[i]))) {
			b->last = chosen[i]->r;
		} else if (!ret) {
			b->alive = false;
			ret = bfs__branch_abort(s->run, b->branch);
		}
	}
	free(v);
	free(chosen);
	return ret;
}

/* The best live beam is committed into the parent, the others aborted. */
static int finish(struct search *s)
{
	struct beam *best = NULL;
	int ret = 0;

	for (size_t i = 0; i < s->nbeams; i++)
		if (s->beams[i].alive && (!best || bfs__better(s->beams[i].last, best->last)))
			best = &s->beams[i];
	for (size_t i = 0; !ret && i < s->nbeams; i++)
		if (&s->beams[i] != best && s->beams[i].alive) {
			s->beams[i].alive = false;
			ret = bfs__branch_abort(s->run, s->beams[i].branch);
		}
	if (ret || !best)
		return ret;
	ret = bfs__branch_commit(s->run, best->branch);
	if (ret)
		return bfs__outcome_fail(s->run->out, ret, "cannot commit beam %u: %s", best->first,
					 bfs_strerror(ret));
	s->run->out->r[best->first]->committed = true;
	s->run->out->winner = (int)best->last->index;
	s->run->out->committed = true;
	return 0;
}

static bool any_alive(const struct search *s)
{
	for (size_t i = 0; i < s->nbeams; i++)
		if (s->beams[i].alive)
			return true;
	return false;
}

int bfs__beam_search(struct bfs__run *run, const struct bfs__args *a)
{
	const struct bfs_beam_opts *o = a->opts;
	unsigned int depth = o && o->depth ? o->depth : 2;
	struct search s = { run, a, o, o && o->width ? o->width : 2, NULL, 0 };
	int ret = first_level(&s);

	for (unsigned int d = 1; !ret && d < depth && any_alive(&s); d++) {
		struct bfs__pool p;
		bool any;

		bfs__pool_init(&p, run, finished, o ? (void *)&o->scoring : NULL);
		ret = expand_beams(&s, &p, d, &any);
		if (!ret && any)
			ret = bfs__pool_run(&p);
		bfs__pool_zero_failures(&p);
		if (!ret && any)
			ret = prune(&s, &p);
		bfs__pool_free(&p);
		if (!any)
			break;
	}
	if (!ret)
		ret = finish(&s);
	free(s.beams);
	return ret;
}

int bfs_beam_search(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
		    size_t ntasks, const struct bfs_beam_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	return bfs__run_mount(out, m, "beam", opts ? &opts->common : NULL, bfs__beam_search, &a);
}
