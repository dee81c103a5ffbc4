/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tournament: n candidates run to their end holding their branches, then
 * the successful ones play a single-elimination bracket: neighbours are
 * paired in index order and an odd one out at the end of a round gets a
 * bye.  Each loser is aborted as soon as it loses; the champion is
 * committed.  The judge is a callback or a task; a judge that fails ends
 * the tournament with nothing committed, the failure recorded in its match
 * and in the outcome, never a hang (the task runs under the timeouts).
 */
#define _GNU_SOURCE
#include "pattern.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	return c->r->success ? 0 : bfs__branch_abort(p->run, c->branch);
}

/* The judge's answer: its first word, "a"/"0" or "b"/"1". */
static int answer(const char *out)
{
	size_t len;

	while (isspace((unsigned char)*out))
		out++;
	len = strcspn(out, " \t\r\n");
	if (len == 1 && strchr("aA0", out[0]))
		return 0;
	if (len == 1 && strchr("bB1", out[0]))
		return 1;
	return -1;
}

static int judge_task(int *pick, char *why, size_t n, struct bfs__run *run,
		      const struct bfs_task *t, const struct bfs_result *a,
		      const struct bfs_result *b, unsigned int round)
{
	const char *args[] = { a->path, b->path, NULL };
	struct bfs_task_info info = { 0, round, NULL, run->parent_path, NULL };
	struct bfs_proc_result *res;
	char *env[3] = { NULL, NULL, NULL };
	int ret = -ENOMEM;

	if (asprintf(&env[0], "BRANCHING_A=%s", a->path) < 0 ||
	    asprintf(&env[1], "BRANCHING_B=%s", b->path) < 0)
		goto out_free;
	ret = bfs__helper(&res, run, t, &info, run->parent_path, args, (const char *const *)env);
	if (ret) {
		snprintf(why, n, "%s", bfs_syserr(-ret));
		goto out_free;
	}
	if (!bfs_proc_ok(res)) {
		bfs__proc_failure(why, n, res);
		ret = bfs__proc_error(res);
	} else if ((*pick = answer(res->out)) < 0) {
		snprintf(why, n, "it answered '%.*s', not a or b", (int)strcspn(res->out, "\n"),
			 res->out);
		ret = -EPROTO;
	}
	bfs_proc_result_free(res);
out_free:
	free(env[0]);
	free(env[1]);
	return ret;
}

/* Judge a against b: 0 with *winner, or the judge's error (recorded). */
static int judge(struct bfs__run *run, const struct bfs_tournament_opts *o, struct bfs__cand *a,
		 struct bfs__cand *b, unsigned int round, struct bfs__cand **winner)
{
	struct bfs_match m = { round, a->r->index, b->r->index, -1, NULL };
	char why[512] = "";
	int pick = -1, ret;

	if (o->judge) {
		ret = o->judge(&pick, a->r, b->r, o->judge_arg);
		if (ret)
			ret = bfs__cb_error(why, sizeof(why), ret);
		else if (pick != 0 && pick != 1)
			snprintf(why, sizeof(why), "it answered %d, not 0 or 1", pick);
		if (!ret && pick != 0 && pick != 1)
			ret = -EPROTO;
	} else {
		ret = judge_task(&pick, why, sizeof(why), run, o->judge_task, a->r, b->r, round);
	}
	if (ret == -EINTR)
		return ret;
	if (!ret) {
		*winner = pick ? b : a;
		m.winner = (int)(*winner)->r->index;
	}
	m.error = ret ? why : NULL;
	if (bfs__outcome_add_match(run->out, &m))
		return -ENOMEM;
	if (ret)
		return bfs__outcome_fail(run->out, ret,
					 "the judge failed on candidates %u and %u: %s",
					 a->r->index, b->r->index, why);
	return bfs__branch_abort(run, (pick ? a : b)->branch);
}

/* Rounds until one is left in v[0..n). */
static int bracket(struct bfs__run *run, const struct bfs_tournament_opts *o, struct bfs__cand **v,
		   size_t n)
{
	for (unsigned int round = 0; n > 1; round++) {
		size_t k = 0;
		int ret;

		for (size_t i = 0; i + 1 < n; i += 2) {
			ret = judge(run, o, v[i], v[i + 1], round, &v[k]);
			if (ret)
				return ret;
			k++;
		}
		if (n % 2)
			v[k++] = v[n - 1]; /* the bye */
		n = k;
	}
	return 0;
}

int bfs__tournament(struct bfs__run *run, const struct bfs__args *a)
{
	const struct bfs_tournament_opts *o = a->opts;
	size_t n = o->n ? o->n : a->ntasks, nv = 0;
	struct bfs__cand **v = NULL;
	struct bfs__pool p;
	int ret = 0;

	bfs__pool_init(&p, run, finished, NULL);
	for (size_t i = 0; !ret && i < n; i++)
		ret = bfs__pool_add(&p, &a->tasks[i % a->ntasks], -1, 0, NULL, 0);
	if (!ret)
		ret = bfs__pool_run(&p);
	if (!ret && !(v = calloc(p.n ? p.n : 1, sizeof(*v))))
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < p.n; i++)
		if (p.c[i].r->success)
			v[nv++] = &p.c[i];
	if (!ret && nv)
		ret = bracket(run, o, v, nv);
	if (!ret && nv) {
		ret = bfs__pool_commit(&p, v[0]);
		if (!ret) {
			run->out->winner = (int)v[0]->r->index;
			run->out->committed = true;
		}
	}
	free(v);
	bfs__pool_free(&p);
	return ret;
}

int bfs_tournament(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
		   size_t ntasks, const struct bfs_tournament_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	if (!opts || (!opts->judge && !opts->judge_task) ||
	    (opts->judge_task && bfs__tasks_check(opts->judge_task, 1))) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return bfs__run_mount(out, m, "tournament", &opts->common, bfs__tournament, &a);
}
