/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reflexion: attempts one after the other, each in a fresh branch with the
 * previous critique in BRANCHING_FEEDBACK.  A success is committed and ends
 * the run.  A failure is critiqued while its branch is still open (the
 * critique callback, else the critique task in that branch, its stdout the
 * answer; without one, or when it fails, the attempt's own error text),
 * then aborted.  A critique that fails is recorded on the attempt's result
 * (its error, and "; critique failed: ..." after its reason).  Critiques
 * lose their surrounding white space.
 */
#define _GNU_SOURCE
#include "pattern.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_MAX 65536 /* an environment string must stay under 128 KiB */

struct state {
	const struct bfs_reflexion_opts *o;
	char *feedback;
};

/* s without its surrounding white space, malloc'd. */
static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	return strndup(s, len);
}

/* A critique that failed is recorded on the attempt it was about. */
static void critique_failed(struct bfs_result *r, int err, const char *why)
{
	r->error = err;
	bfs__result_setf(&r->reason, "%s; critique failed: %s", r->reason ? r->reason : "failed",
			 why);
}

/* The critique of the failed attempt r: *text gets it, malloc'd, or NULL
 * when there is none or it failed (recorded on r).  0, or -EINTR when a
 * signal stopped it. */
static int critique(char **text, struct bfs__run *run, const struct bfs_reflexion_opts *o,
		    struct bfs_result *r)
{
	struct bfs_task_info info = { r->index, r->level, r->branch, r->path, r->feedback };
	struct bfs_proc_result *res;
	char why[512];
	int ret;

	*text = NULL;
	if (o && o->critique) {
		char *raw = NULL;

		ret = o->critique(&raw, r, o->critique_arg);
		if (ret)
			critique_failed(r, bfs__cb_error(why, sizeof(why), ret), why);
		else if (raw)
			*text = trimmed(raw, strlen(raw));
		free(raw);
		return 0;
	}
	if (!o || !o->critique_task)
		return 0;
	ret = bfs__helper(&res, run, o->critique_task, &info, r->path, NULL, NULL);
	if (ret == -EINTR)
		return ret;
	if (ret) {
		critique_failed(r, ret, bfs_syserr(-ret));
	} else if (!bfs_proc_ok(res)) {
		bfs__proc_failure(why, sizeof(why), res);
		critique_failed(r, bfs__proc_error(res), why);
	} else {
		*text = trimmed(res->out, res->out_len);
	}
	bfs_proc_result_free(res);
	return 0;
}

static int finished(struct bfs__pool *p, struct bfs__cand *c)
{
	struct state *st = p->data;
	struct bfs__run *run = p->run;
	char *text;
	int ret;

	if (c->r->success) {
		ret = bfs__pool_commit(p, c);
		if (!ret) {
			run->out->winner = (int)c->r->index;
			run->out->committed = true;
		}
		return ret;
	}
	ret = critique(&text, run, st->o, c->r);
	if (ret)
		return ret;
	if (!text)
		text = bfs__error_text(c->r, FEEDBACK_MAX);
	free(st->feedback);
	st->feedback = NULL;
	ret = text ? bfs__text_append(&st->feedback, text, FEEDBACK_MAX) : -ENOMEM;
	free(text);
	if (!ret)
		ret = bfs__branch_abort(run, c->branch);
	return ret;
}

int bfs__reflexion(struct bfs__run *run, const struct bfs__args *a)
{
	const struct bfs_reflexion_opts *o = a->opts;
	unsigned int retries = o && o->retries ? o->retries : 3;
	struct state st = { o, strdup("") };
	int ret = st.feedback ? 0 : -ENOMEM;

	for (unsigned int k = 0; !ret && k < retries && !run->out->committed; k++) {
		struct bfs__pool p;

		bfs__pool_init(&p, run, finished, &st);
		ret = bfs__pool_add(&p, &a->tasks[k % a->ntasks], -1, k, st.feedback, 0);
		if (!ret)
			ret = bfs__pool_run(&p);
		if (!ret && !p.c[0].r->started)
			k = retries; /* out of time */
		bfs__pool_free(&p);
	}
	free(st.feedback);
	return ret;
}

int bfs_reflexion(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
		  size_t ntasks, const struct bfs_reflexion_opts *opts)
{
	struct bfs__args a = { tasks, ntasks, opts };

	return bfs__run_mount(out, m, "reflexion", opts ? &opts->common : NULL, bfs__reflexion, &a);
}
