/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What several patterns share: scoring candidates (struct bfs_scoring),
 * running helper tasks (evaluate, critique, judge, expand) under the run's
 * timeouts, expansion into the next level's tasks, and the texts that
 * describe failures (reasons, error text fed back to later attempts).
 */
#define _GNU_SOURCE
#include "pattern.h"
#include "runner_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EXPAND_MAX 16

/*
 * The helper runs on the run's own runner, so that while the pattern waits
 * for it the candidates still running keep being drained (none blocks on a
 * full pipe) and their deadlines enforced; those that finish meanwhile stay
 * in the runner for the pool's next wait.
 */
int bfs__helper(struct bfs_proc_result **out, struct bfs__run *run, const struct bfs_task *task,
		const struct bfs_task_info *info, const char *dir, const char *const *args,
		const char *const *env)
{
	struct bfs_start s = BFS_START_INIT;
	int ret = bfs__run_check(run), id;

	*out = NULL;
	if (ret)
		return ret;
	if (bfs__run_expired(run))
		return -ETIMEDOUT;
	s.task = task;
	s.info = *info;
	s.dir = dir;
	s.args = args;
	s.env = env;
	s.timeout_ms = bfs__run_helper_timeout(run);
	s.flags = BFS_START_SCORE_FD;
	id = bfs_runner_start(run->runner, &s);
	if (id < 0)
		return id;
	ret = bfs__runner_wait_for(out, run->runner, id, -1);
	if (ret != -EINTR)
		return ret;
	/* A caught signal: the helper goes now (the pattern stops the rest). */
	bfs__run_check(run);
	bfs_runner_kill(run->runner, id);
	while ((ret = bfs__runner_wait_for(out, run->runner, id, -1)) == -EINTR)
		;
	if (!ret)
		bfs_proc_result_free(*out);
	*out = NULL;
	return -EINTR;
}

int bfs__proc_error(const struct bfs_proc_result *res)
{
	if (res->error)
		return res->error;
	return res->timed_out ? -ETIMEDOUT : -EPROTO;
}

void bfs__proc_failure(char *buf, size_t n, const struct bfs_proc_result *res)
{
	if (res->error && res->error_what && !strcmp(res->error_what, "exec"))
		snprintf(buf, n, "cannot run the command: %s", bfs_syserr(-res->error));
	else if (res->error && res->error_what && !strcmp(res->error_what, "chdir"))
		snprintf(buf, n, "cannot enter its directory: %s", bfs_syserr(-res->error));
	else if (res->error)
		snprintf(buf, n, "cannot start: %s", bfs_syserr(-res->error));
	else if (res->timed_out)
		snprintf(buf, n, "timed out after %.1f s", res->timeout_ms / 1000.0);
	else if (res->killed)
		snprintf(buf, n, "stopped");
	else if (res->signal)
		snprintf(buf, n, "killed by signal %d (%s)", res->signal, strsignal(res->signal));
	else
		snprintf(buf, n, "exit status %d", res->exit_code);
}

int bfs__cb_error(char *why, size_t n, int ret)
{
	if (ret < 0 && ret >= -4095) {
		snprintf(why, n, "%s", bfs_syserr(-ret));
		return ret;
	}
	snprintf(why, n, "it returned %d, not 0 or a negative errno", ret);
	return -EPROTO;
}

/* A failed evaluation turns a success into a failure. */
static void eval_failed(struct bfs_result *r, int err, const char *why)
{
	r->success = false;
	r->has_score = false;
	r->error = err;
	bfs__result_setf(&r->reason, "evaluate failed: %s", why);
}

/* The number a helper reported: fd 3, else the last word of stdout. */
static bool reported_score(double *score, const struct bfs_proc_result *res)
{
	const char *end = res->out + res->out_len, *word;
	char buf[64], *stop;

	if (res->has_score) {
		*score = res->score;
		return true;
	}
	while (end > res->out && isspace((unsigned char)end[-1]))
		end--;
	word = end;
	while (word > res->out && !isspace((unsigned char)word[-1]))
		word--;
	if (word == end || (size_t)(end - word) >= sizeof(buf))
		return false;
	memcpy(buf, word, (size_t)(end - word));
	buf[end - word] = '\0';
	errno = 0;
	*score = strtod(buf, &stop);
	return !errno && !*stop && isfinite(*score);
}

static int evaluate_task(struct bfs__run *run, struct bfs_result *r, const struct bfs_task *t)
{
	struct bfs_task_info info = { r->index, r->level, r->branch, r->path, NULL };
	struct bfs_proc_result *res;
	char why[512];
	int ret = bfs__helper(&res, run, t, &info, r->path, NULL, NULL);

	if (ret == -EINTR)
		return ret;
	if (ret) {
		eval_failed(r, ret, bfs_syserr(-ret));
		return 0;
	}
	if (!bfs_proc_ok(res)) {
		bfs__proc_failure(why, sizeof(why), res);
		eval_failed(r, bfs__proc_error(res), why);
	} else if (!reported_score(&r->score, res)) {
		eval_failed(r, -EPROTO, "it printed no number");
	} else {
		r->has_score = true;
	}
	bfs_proc_result_free(res);
	return 0;
}

int bfs__score(struct bfs__run *run, struct bfs__cand *c, const struct bfs_scoring *s)
{
	struct bfs_result *r = c->r;
	double score = NAN;
	int ret;

	if (!r->success)
		return 0;
	if (s && s->evaluate) {
		ret = s->evaluate(&score, r, s->evaluate_arg);
		if (ret) {
			char why[128];

			ret = bfs__cb_error(why, sizeof(why), ret);
			eval_failed(r, ret, why);
			return 0;
		}
		r->score = score;
		r->has_score = true;
		return 0;
	}
	if (s && s->evaluate_task)
		return evaluate_task(run, r, s->evaluate_task);
	if (!r->has_score) {
		r->score = 1.0;
		r->has_score = true;
	}
	return 0;
}

bool bfs__better(const struct bfs_result *a, const struct bfs_result *b)
{
	if (isnan(a->score) && isnan(b->score))
		return a->index < b->index;
	if (isnan(a->score))
		return false;
	if (isnan(b->score) || a->score > b->score)
		return true;
	return a->score == b->score && a->index < b->index;
}

int bfs__text_append(char **text, const char *s, size_t max)
{
	size_t old = *text ? strlen(*text) : 0, add = strlen(s), keep;
	char *t = malloc(old + add + 1);

	if (!t)
		return -ENOMEM;
	if (old)
		memcpy(t, *text, old);
	memcpy(t + old, s, add + 1);
	free(*text);
	keep = old + add;
	if (max && keep > max)
		memmove(t, t + keep - max, max + 1);
	*text = t;
	return 0;
}

char *bfs__error_text(const struct bfs_result *r, size_t max)
{
	const char *why = r->reason ? r->reason : "failed";
	const char *tail = r->err && r->err_len ? r->err : r->out ? r->out : "";
	size_t len = strlen(tail), room = max > strlen(why) + 2 ? max - strlen(why) - 2 : 0;
	char *text;

	while (len && isspace((unsigned char)tail[len - 1]))
		len--;
	if (len > room) {
		tail += len - room;
		len = room;
	}
	if (asprintf(&text, "%s%s%.*s", why, len ? "\n" : "", (int)len, tail) < 0)
		return NULL;
	return text;
}

/* Shell tasks from the lines of text: malloc'd array and strings, all kept
 * by the run. */
static int tasks_from_lines(const struct bfs_task **tasks, size_t *n, struct bfs__run *run,
			    const char *text, size_t cap)
{
	struct bfs_task *v = calloc(cap ? cap : 1, sizeof(*v));
	size_t k = 0;
	int ret = v ? bfs__run_own(run, v) : -ENOMEM;

	for (const char *line = text; !ret && *line && k < cap;) {
		size_t len = strcspn(line, "\n"), end = len, start = 0;

		while (end && isspace((unsigned char)line[end - 1]))
			end--;
		while (start < end && isspace((unsigned char)line[start]))
			start++;
		if (end > start && line[start] != '#') {
			char *cmd = strndup(line + start, end - start);

			ret = cmd ? bfs__run_own(run, cmd) : -ENOMEM;
			v[k++].shell = cmd;
		}
		line += len + (line[len] == '\n');
	}
	*tasks = v;
	*n = k;
	return ret;
}

static int expand_with_task(const struct bfs_task **tasks, size_t *n, struct bfs__run *run,
			    const struct bfs_expansion *e, const char *path, unsigned int depth,
			    size_t cap)
{
	struct bfs_task_info info = { 0, depth, NULL, path, NULL };
	struct bfs_proc_result *res;
	char why[512];
	int ret = bfs__helper(&res, run, e->expand_task, &info, path, NULL, NULL);

	if (ret == -EINTR)
		return ret;
	if (ret)
		return bfs__outcome_fail(run->out, ret, "expand failed at depth %u: %s", depth,
					 bfs_syserr(-ret));
	if (!bfs_proc_ok(res)) {
		bfs__proc_failure(why, sizeof(why), res);
		ret = bfs__proc_error(res);
		bfs_proc_result_free(res);
		return bfs__outcome_fail(run->out, ret, "expand failed at depth %u: %s", depth,
					 why);
	}
	ret = tasks_from_lines(tasks, n, run, res->out, cap);
	bfs_proc_result_free(res);
	return ret;
}

int bfs__expand(const struct bfs_task **tasks, size_t *n, struct bfs__run *run,
		const struct bfs_expansion *e, const struct bfs_task *same, size_t nsame,
		const char *path, unsigned int depth)
{
	size_t cap = e && e->max_tasks ? e->max_tasks : DEFAULT_EXPAND_MAX;
	struct bfs_task *v;
	int ret;

	if (!e || (!e->expand && !e->expand_task)) {
		*tasks = same;
		*n = nsame;
		return 0;
	}
	if (!e->expand)
		return expand_with_task(tasks, n, run, e, path, depth, cap);
	v = calloc(cap, sizeof(*v));
	ret = v ? bfs__run_own(run, v) : -ENOMEM;
	if (ret)
		return ret;
	ret = e->expand(v, cap, path, depth, e->expand_arg);
	if (ret < 0) {
		char why[128];

		ret = bfs__cb_error(why, sizeof(why), ret);
		return bfs__outcome_fail(run->out, ret, "expand failed at depth %u: %s", depth,
					 why);
	}
	*n = (size_t)ret < cap ? (size_t)ret : cap;
	*tasks = v;
	if (*n && bfs__tasks_check(v, *n))
		return bfs__outcome_fail(run->out, -EINVAL,
					 "expand gave an invalid task at depth %u", depth);
	return 0;
}
