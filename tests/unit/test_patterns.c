/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The selection logic of every pattern, on the fake branch backend
 * (fake_backend.h: directories and the file system's rules in memory), with
 * real candidate processes: C tasks scripted per candidate index.  Each
 * test checks who won, the order of commits and aborts the backend saw, and
 * that no branch is left live; also timeouts, crashes, failing callbacks,
 * judges and branch operations, and a signal to the parent.
 */
#define _GNU_SOURCE
#define bfs_mount bfs_test_mount
#include "bfs_test.h"
#undef bfs_mount

#include "bfs_check.h"
#include "fake_backend.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What candidate i does (its index in the outcome). */
struct step {
	int status;   /* exit status */
	double score; /* reported when scored */
	bool scored;
	int sleep_ms;	   /* before anything else */
	const char *msg;   /* to stderr */
	bool crash;	   /* SIGSEGV */
	bool kill_parent;  /* SIGTERM to the parent first */
	const char *needs; /* fail unless the feedback holds all of these ('|'-separated) */
};

static struct step script[64];
static struct fake fk;
static char dir[4096];

static int scripted(double *score, const struct bfs_task_info *info, void *arg)
{
	const struct step *s = &script[info->index];
	FILE *q;

	if (s->kill_parent)
		kill(getppid(), SIGTERM);
	if (s->sleep_ms)
		usleep((useconds_t)s->sleep_ms * 1000);
	if (s->crash)
		raise(SIGSEGV);
	if (s->msg)
		fprintf(stderr, "%s\n", s->msg);
	printf("attempt=%s feedback=[%s]\n", getenv("BRANCHING_ATTEMPT"),
	       info->feedback ? info->feedback : "(none)");
	if (s->scored)
		*score = s->score;
	/* A file in the branch, for judges that look at it. */
	q = fopen("q", "w");
	if (q) {
		fprintf(q, "%d\n", (int)(s->score * 100));
		fclose(q);
	}
	if (s->needs) {
		char need[256], *save = NULL;

		snprintf(need, sizeof(need), "%s", s->needs);
		for (char *t = strtok_r(need, "|", &save); t; t = strtok_r(NULL, "|", &save))
			if (!info->feedback || !strstr(info->feedback, t))
				return 9;
	}
	return s->status;
}

static const struct bfs_task task = BFS_TASK_FN(scripted, NULL);
static const struct bfs_task tasks[8] = {
	BFS_TASK_FN(scripted, NULL), BFS_TASK_FN(scripted, NULL), BFS_TASK_FN(scripted, NULL),
	BFS_TASK_FN(scripted, NULL), BFS_TASK_FN(scripted, NULL), BFS_TASK_FN(scripted, NULL),
	BFS_TASK_FN(scripted, NULL), BFS_TASK_FN(scripted, NULL),
};

static void setup(void)
{
	bfs_scratch(dir, sizeof(dir));
	fake_init(&fk, dir);
	memset(script, 0, sizeof(script));
}

static void teardown(void)
{
	ck_assert_msg(fake_live(&fk) == 0, "branches left live: %s", fk.log);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct bfs_pattern_opts common(void)
{
	struct bfs_pattern_opts o = { .version = BFS_PATTERN_OPTS_VERSION, .grace_ms = 200 };

	return o;
}

static int run(struct bfs_outcome **out, bfs__body_fn body, const struct bfs_task *t, size_t n,
	       const void *opts, const struct bfs_pattern_opts *c)
{
	struct bfs__backend be;
	struct bfs__args a = { t, n, opts };
	struct bfs_pattern_opts dflt = common();

	fake_backend(&be, &fk);
	return bfs__run_with(out, &be, "test", c ? c : &dflt, body, &a);
}

/* Position of token tok in the backend's log, or -1. */
static int pos(const char *tok)
{
	size_t len = strlen(tok);

	for (const char *p = fk.log; *p;) {
		size_t n = strcspn(p, " ");

		if (n == len && !strncmp(p, tok, len))
			return (int)(p - fk.log);
		p += n + (p[n] == ' ');
	}
	return -1;
}

static int count(char what)
{
	int n = 0;

	for (const char *p = fk.log; *p; p++)
		n += *p == what && (p == fk.log || p[-1] == ' ');
	return n;
}

#define ck_log(expect) ck_assert_str_eq(fk.log, expect)

/* The winner, which must exist (a NULL would crash the whole suite when it
 * runs in one process, as under valgrind). */
static const struct bfs_result *winner(const struct bfs_outcome *o)
{
	const struct bfs_result *w = bfs_outcome_winner(o);

	ck_assert_msg(w, "no winner: %s", bfs_outcome_message(o) ? bfs_outcome_message(o) : "");
	return w;
}

static const struct bfs_result *res(const struct bfs_outcome *o, size_t i)
{
	const struct bfs_result *r = bfs_outcome_get(o, i);

	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(speculate_first_success_wins)
{
	struct bfs_outcome *o;
	int64_t t0 = now_ms();

	script[0] = (struct step){ .status = 1 };
	script[1] = (struct step){ .sleep_ms = 150 };
	script[2] = (struct step){ .sleep_ms = 5000 };
	script[3] = (struct step){ .sleep_ms = 5000 };
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 4, NULL, NULL), 0);
	ck_assert_int_lt(now_ms() - t0, 2500);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert_str_eq(bfs_outcome_parent(o), "main");
	ck_log("+b1<main +b2<main +b3<main +b4<main -b1 =b2 -b3 -b4 ");
	ck_assert(!res(o, 0)->success);
	ck_assert_str_eq(res(o, 0)->reason, "exit status 1");
	ck_assert(res(o, 1)->success && res(o, 1)->committed);
	ck_assert_str_eq(res(o, 1)->branch, "b2");
	ck_assert_str_eq(res(o, 2)->reason, "stopped: another candidate was committed");
	ck_assert(!res(o, 3)->success && res(o, 3)->started);
	ck_assert_str_eq(res(o, 1)->out, "attempt=1 feedback=[(none)]\n");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(speculate_max_parallel_one_at_a_time)
{
	struct bfs_pattern_opts c = common();
	struct bfs_outcome *o;

	c.max_parallel = 1;
	script[0] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 3, NULL, &c), 0);
	ck_log("+b1<main -b1 +b2<main =b2 ");
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert(!res(o, 2)->started);
	ck_assert_ptr_null(res(o, 2)->branch);
	ck_assert_str_eq(res(o, 2)->reason, "not started: another candidate was committed");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(speculate_failures_and_a_crash)
{
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 3, .msg = "no luck" };
	script[1] = (struct step){ .crash = true };
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 2, NULL, NULL), 0);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_ptr_null(bfs_outcome_winner(o));
	ck_assert_int_eq(count('='), 0);
	ck_assert_int_eq(count('-'), 2);
	ck_assert_str_eq(res(o, 0)->reason, "exit status 3");
	ck_assert_int_eq(res(o, 0)->exit_code, 3);
	ck_assert_str_eq(res(o, 0)->err, "no luck\n");
	ck_assert_int_eq(res(o, 1)->signal, SIGSEGV);
	ck_assert_int_eq(res(o, 1)->exit_code, -1);
	ck_assert_str_eq(res(o, 1)->reason, "killed by signal 11 (Segmentation fault)");
	ck_assert_int_eq(bfs_outcome_error(o), 0);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(speculate_timeout_bounds_wall_time)
{
	struct bfs_pattern_opts c = common();
	struct bfs_outcome *o;
	int64_t t0 = now_ms();

	c.timeout_ms = 300;
	for (int i = 0; i < 3; i++)
		script[i] = (struct step){ .sleep_ms = 10000 };
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 3, NULL, &c), 0);
	ck_assert_int_lt(now_ms() - t0, 1500);
	ck_assert(!bfs_outcome_committed(o));
	/* Each gets what is left of the 0.3 s: a candidate started late (a
	 * slow fork under valgrind) gets less. */
	for (int i = 0; i < 3; i++) {
		const char *why = res(o, i)->reason;

		ck_assert(res(o, i)->timed_out);
		ck_assert_msg(!strcmp(why, "timed out after 0.3 s") ||
				      !strcmp(why, "timed out after 0.2 s") ||
				      !strcmp(why, "timed out after 0.1 s"),
			      "%s", why);
	}
	ck_assert_int_eq(count('-'), 3);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(speculate_lost_race_is_a_conflict)
{
	struct bfs_outcome *o;

	fk.fail_commit = "b1";
	fk.fail_commit_err = -ESTALE;
	script[1] = (struct step){ .sleep_ms = 3000 };
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 2, NULL, NULL), -ESTALE);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_int_eq(bfs_outcome_error(o), -ESTALE);
	ck_assert_str_eq(bfs_outcome_message(o),
			 "cannot commit candidate 0 into 'main': a sibling committed first");
	ck_assert_int_eq(res(o, 0)->error, -ESTALE);
	ck_assert_ptr_null(bfs_outcome_winner(o));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_highest_success_wins_ties_to_lowest)
{
	struct bfs_outcome *o;

	script[0] = (struct step){ .score = 0.3, .scored = true };
	script[1] = (struct step){ .score = 0.9, .scored = true, .status = 1 };
	script[2] = (struct step){ .score = 0.7, .scored = true, .sleep_ms = 100 };
	script[3] = (struct step){ .score = 0.7, .scored = true };
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 4, NULL, NULL), 0);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(winner(o)->index, 2);
	ck_assert(winner(o)->score == 0.7);
	ck_assert_int_eq(count('='), 1);
	ck_assert_int_eq(count('-'), 3);
	/* Losers go first, then the winner commits. */
	ck_assert_int_lt(pos("-b4"), pos("=b3"));
	ck_assert_int_lt(pos("-b1"), pos("=b3"));
	ck_assert(!res(o, 1)->success);
	/* A failure scores 0.0, whatever it reported. */
	ck_assert(res(o, 1)->has_score && res(o, 1)->score == 0);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_default_scores_and_repeats)
{
	struct bfs_best_of_n_opts bo = { .n = 4 };
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__best_of_n, &task, 1, &bo, NULL), 0);
	ck_assert_uint_eq(bfs_outcome_count(o), 4);
	/* 1.0 for each success: the lowest successful index wins. */
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert(res(o, 3)->has_score && res(o, 3)->score == 1.0);
	for (int i = 0; i < 4; i++) {
		char expect[64];

		snprintf(expect, sizeof(expect), "attempt=%d feedback=[(none)]\n", i);
		ck_assert_str_eq(res(o, i)->out, expect);
	}
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_precomputed_scores)
{
	const double scores[] = { 1, 5, 3 };
	struct bfs_best_of_n_opts bo = { .scores = scores };
	struct bfs_outcome *o;

	script[1] = (struct step){ .score = 0.1, .scored = true };
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, &bo, NULL), 0);
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert(winner(o)->score == 5);
	bfs_outcome_free(o);
}
END_TEST

static int evaluate(double *score, const struct bfs_result *r, void *arg)
{
	struct stat st;

	/* The branch is open while it is evaluated. */
	if (stat(r->path, &st) || !fk.b[atoi(r->branch + 1)].live)
		return -ESRCH;
	if (r->index == 0)
		return -EIO;
	*score = 10 - (double)r->index;
	return 0;
}

START_TEST(best_of_n_evaluate_callback)
{
	struct bfs_best_of_n_opts bo = { .scoring.evaluate = evaluate };
	struct bfs_outcome *o;

	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, &bo, NULL), 0);
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert(res(o, 1)->score == 9);
	ck_assert(!res(o, 0)->success);
	ck_assert_str_eq(res(o, 0)->reason, "evaluate failed: input/output error");
	ck_assert_int_eq(res(o, 0)->error, -EIO);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_failures_score_zero_and_never_win)
{
	struct bfs_best_of_n_opts bo = { .scoring.evaluate = evaluate };
	struct bfs_pattern_opts c = common();
	struct bfs_outcome *o;

	/* Only failures: nothing wins, all score 0.0 (a crash and a failure
	 * that reported a score of their own, a timeout). */
	script[0] = (struct step){ .score = -5, .scored = true, .crash = true };
	script[1] = (struct step){ .score = 5, .scored = true, .status = 2 };
	script[2] = (struct step){ .sleep_ms = 5000 };
	c.task_timeout_ms = 300;
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, NULL, &c), 0);
	ck_assert_ptr_null(bfs_outcome_winner(o));
	ck_assert(!bfs_outcome_committed(o));
	for (int i = 0; i < 3; i++) {
		ck_assert(!res(o, i)->success);
		ck_assert(res(o, i)->has_score);
		ck_assert(res(o, i)->score == 0);
	}
	bfs_outcome_free(o);
	/* A failed evaluation (index 0) scores 0.0 too. */
	memset(script, 0, sizeof(script));
	script[1] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, &bo, NULL), 0);
	ck_assert(!res(o, 0)->success && res(o, 0)->has_score && res(o, 0)->score == 0);
	ck_assert(!res(o, 1)->success && res(o, 1)->has_score && res(o, 1)->score == 0);
	ck_assert_uint_eq(winner(o)->index, 2);
	ck_assert(res(o, 2)->score == 8);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_evaluate_task)
{
	struct bfs_task ev = BFS_TASK_SHELL("test \"$(cat q)\" = 0 || exit 4; "
					    "test $BRANCHING_ATTEMPT = 3 && echo many words; "
					    "echo $((BRANCHING_ATTEMPT * 2))");
	struct bfs_best_of_n_opts bo = { .n = 4, .scoring.evaluate_task = &ev };
	struct bfs_outcome *o;

	ck_assert_int_eq(run(&o, bfs__best_of_n, &task, 1, &bo, NULL), 0);
	/* Runs in each branch (q is there), its last word is the score. */
	ck_assert_uint_eq(winner(o)->index, 3);
	ck_assert(res(o, 3)->score == 6);
	ck_assert(res(o, 2)->score == 4);
	bfs_outcome_free(o);

	struct bfs_task bad = BFS_TASK_SHELL("echo not-a-number");
	bo.scoring.evaluate_task = &bad;
	ck_assert_int_eq(run(&o, bfs__best_of_n, &task, 1, &bo, NULL), 0);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_str_eq(res(o, 0)->reason, "evaluate failed: it printed no number");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_rollout_commits_nothing)
{
	struct bfs_best_of_n_opts bo = { .rollout = true };
	struct bfs_outcome *o;

	script[1] = (struct step){ .score = 2, .scored = true };
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, &bo, NULL), 0);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert(!res(o, 1)->committed);
	ck_assert_int_eq(count('='), 0);
	ck_assert_int_eq(count('-'), 3);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_create_failure_cleans_up)
{
	struct bfs_outcome *o;

	fk.fail_create_at = 3;
	for (int i = 0; i < 4; i++)
		script[i] = (struct step){ .sleep_ms = 3000 };
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 4, NULL, NULL), -ENOSPC);
	ck_assert_str_eq(bfs_outcome_message(o), "cannot create a branch of 'main': no space left: "
						 "the storage limit, the storage disk "
						 "or the base disk is full");
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_int_eq(count('-'), 2);
	bfs_outcome_free(o);
}
END_TEST

static int critique(char **feedback, const struct bfs_result *r, void *arg)
{
	if (!fk.b[atoi(r->branch + 1)].live)
		return -ESRCH;
	return asprintf(feedback, "  fix after %u\n", r->index) < 0 ? -ENOMEM : 0;
}

START_TEST(reflexion_passes_the_critique_on)
{
	struct bfs_reflexion_opts ro = { .critique = critique };
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 1 };
	script[1] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__reflexion, &task, 1, &ro, NULL), 0);
	ck_log("+b1<main -b1 +b2<main -b2 +b3<main =b3 ");
	ck_assert_uint_eq(winner(o)->index, 2);
	ck_assert_str_eq(res(o, 0)->feedback, "");
	ck_assert_str_eq(res(o, 1)->feedback, "fix after 0");
	ck_assert_str_eq(res(o, 2)->out, "attempt=2 feedback=[fix after 1]\n");
	ck_assert_uint_eq(res(o, 2)->level, 2);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(reflexion_feedback_defaults_to_the_error_text)
{
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 2, .msg = "error: missing semicolon" };
	script[1] = (struct step){ .status = 1 };
	script[2] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__reflexion, &task, 1, NULL, NULL), 0);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_uint_eq(bfs_outcome_count(o), 3);
	ck_assert_str_eq(res(o, 1)->feedback, "exit status 2\nerror: missing semicolon");
	/* No stderr: the reason, then the tail of stdout. */
	ck_assert_str_eq(
		res(o, 2)->feedback,
		"exit status 1\nattempt=1 feedback=[exit status 2\nerror: missing semicolon]");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(reflexion_critique_task_runs_in_the_failed_branch)
{
	struct bfs_task crit = BFS_TASK_SHELL("echo \"$(basename \"$PWD\") $BRANCHING_BRANCH\"");
	struct bfs_reflexion_opts ro = { .retries = 2, .critique_task = &crit };
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 1 };
	script[1] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__reflexion, &task, 1, &ro, NULL), 0);
	ck_assert_uint_eq(bfs_outcome_count(o), 2);
	ck_assert_str_eq(res(o, 1)->feedback, "b1 b1");
	bfs_outcome_free(o);
}
END_TEST

struct expand_log {
	char paths[4][4200];
	unsigned int depths[4];
	int calls;
	int fail_at;
};

static int expand(struct bfs_task *out, size_t cap, const char *path, unsigned int depth, void *arg)
{
	struct expand_log *l = arg;

	if (l->calls < 4) {
		snprintf(l->paths[l->calls], sizeof(l->paths[0]), "%s", path);
		l->depths[l->calls] = depth;
	}
	if (++l->calls == l->fail_at)
		return -EIO;
	ck_assert_uint_ge(cap, 2);
	out[0] = task;
	out[1] = task;
	return 2;
}

START_TEST(tree_levels_commit_into_the_root)
{
	struct expand_log l = { 0 };
	struct bfs_tree_opts to = { .depth = 3,
				    .expansion = { .expand = expand, .expand_arg = &l } };
	const double sc[] = { 0.2, 0.8, 0.5, 0.1, 0.4, 0.9, 0.9 };
	struct bfs_outcome *o;

	for (int i = 0; i < 7; i++)
		script[i] = (struct step){ .score = sc[i], .scored = true };
	ck_assert_int_eq(run(&o, bfs__tree_of_thoughts, tasks, 3, &to, NULL), 0);
	ck_log("+b1<main +b2<b1 +b3<b1 +b4<b1 -b2 -b4 =b3 +b5<b1 +b6<b1 -b5 =b6 "
	       "+b7<b1 +b8<b1 -b8 =b7 =b1 ");
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(winner(o)->index, 5);
	ck_assert_uint_eq(winner(o)->level, 2);
	ck_assert_int_eq(l.calls, 2);
	ck_assert_str_eq(l.paths[0], fk.b[1].path);
	ck_assert_uint_eq(l.depths[0], 1);
	ck_assert_uint_eq(l.depths[1], 2);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tree_level_without_success_aborts_the_root)
{
	struct expand_log l = { 0 };
	struct bfs_tree_opts to = { .depth = 3,
				    .expansion = { .expand = expand, .expand_arg = &l } };
	struct bfs_outcome *o;

	script[1] = (struct step){ .status = 1 };
	script[2] = (struct step){ .status = 1, .sleep_ms = 100 };
	ck_assert_int_eq(run(&o, bfs__tree_of_thoughts, &task, 1, &to, NULL), 0);
	ck_log("+b1<main +b2<b1 =b2 +b3<b1 +b4<b1 -b3 -b4 -b1 ");
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_ptr_null(bfs_outcome_winner(o));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tree_expand_error_stops_and_cleans_up)
{
	struct expand_log l = { .fail_at = 1 };
	struct bfs_tree_opts to = { .depth = 2,
				    .expansion = { .expand = expand, .expand_arg = &l } };
	struct bfs_outcome *o;

	ck_assert_int_eq(run(&o, bfs__tree_of_thoughts, &task, 1, &to, NULL), -EIO);
	ck_assert_str_eq(bfs_outcome_message(o), "expand failed at depth 1: input/output error");
	ck_assert(!bfs_outcome_committed(o));
	ck_log("+b1<main +b2<b1 =b2 -b1 ");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tree_expand_task_lines_are_the_next_level)
{
	struct bfs_task ex = BFS_TASK_SHELL(
		"printf 'exit 1\\n\\n# comment\\n  echo \"$BRANCHING_LEVEL\" >&3 \\n'");
	struct bfs_tree_opts to = { .depth = 2, .expansion.expand_task = &ex };
	struct bfs_outcome *o;

	ck_assert_int_eq(run(&o, bfs__tree_of_thoughts, &task, 1, &to, NULL), 0);
	ck_assert_uint_eq(bfs_outcome_count(o), 3);
	ck_assert(!res(o, 1)->success);
	ck_assert_uint_eq(winner(o)->index, 2);
	ck_assert(res(o, 2)->score == 1); /* BRANCHING_LEVEL on fd 3 */
	ck_assert(bfs_outcome_committed(o));
	bfs_outcome_free(o);
}
END_TEST

static int beam_expand(struct bfs_task *out, size_t cap, const char *path, unsigned int depth,
		       void *arg)
{
	out[0] = task;
	out[1] = task;
	return 2;
}

START_TEST(beam_keeps_the_global_top_k_one_child_per_beam)
{
	struct bfs_beam_opts bo = { .width = 2, .depth = 2, .expansion.expand = beam_expand };
	const double sc[] = { 0.5, 0.9, 0.7, 0.95, 0.92, 0.6, 0.3 };
	struct bfs_outcome *o;

	for (int i = 0; i < 7; i++)
		script[i] = (struct step){ .score = sc[i], .scored = true };
	ck_assert_int_eq(run(&o, bfs__beam_search, tasks, 3, &bo, NULL), 0);
	/* Beams b2, b3 survive; both of the top two children are b2's: one
	 * commits into it, the other is dropped, and b3, without a survivor,
	 * goes. */
	ck_log("+b1<main +b2<main +b3<main -b1 +b4<b2 +b5<b2 +b6<b3 +b7<b3 "
	       "-b5 -b6 -b7 =b4 -b3 =b2 ");
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(winner(o)->index, 3);
	ck_assert_int_eq(res(o, 3)->group, 1);
	ck_assert_int_eq(res(o, 6)->group, 2);
	ck_assert(res(o, 1)->committed && res(o, 3)->committed && !res(o, 4)->committed);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(beam_best_beam_wins_at_the_end)
{
	struct bfs_beam_opts bo = { .width = 2, .depth = 2, .expansion.expand = beam_expand };
	const double sc[] = { 0.9, 0.8, 0.1, 0.3, 0.2, 0.99 };
	struct bfs_outcome *o;

	for (int i = 0; i < 6; i++)
		script[i] = (struct step){ .score = sc[i], .scored = true };
	ck_assert_int_eq(run(&o, bfs__beam_search, tasks, 2, &bo, NULL), 0);
	/* Top two children: 0.99 (b2's) and 0.3 (b1's): each beam keeps one;
	 * b2 ends best although b1 led at level 0. */
	ck_log("+b1<main +b2<main +b3<b1 +b4<b1 +b5<b2 +b6<b2 -b3 -b5 =b4 =b6 -b1 =b2 ");
	ck_assert_uint_eq(winner(o)->index, 5);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(beam_level_without_success_commits_nothing)
{
	struct bfs_beam_opts bo = { .width = 2, .depth = 2, .expansion.expand = beam_expand };
	struct bfs_outcome *o;

	for (int i = 2; i < 6; i++)
		script[i] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__beam_search, tasks, 2, &bo, NULL), 0);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_int_eq(count('='), 0);
	bfs_outcome_free(o);
}
END_TEST

static const int quality[] = { 3, 9, 5, 7, 1, 8 };

static int judge(int *winner, const struct bfs_result *a, const struct bfs_result *b, void *arg)
{
	int *fail_at = arg;

	if (fail_at && --*fail_at == 0)
		return -EIO;
	*winner = quality[b->index] > quality[a->index];
	return 0;
}

START_TEST(tournament_bracket_with_a_bye)
{
	struct bfs_tournament_opts to = { .n = 6, .judge = judge };
	struct bfs_outcome *o;

	script[1] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__tournament, &task, 1, &to, NULL), 0);
	/* Survivors 0 2 3 4 5: (0,2) (3,4) bye 5; (2,3) bye 5; (3,5). */
	ck_assert_uint_eq(bfs_outcome_match_count(o), 4);
	ck_assert_int_eq(bfs_outcome_match(o, 0)->winner, 2);
	ck_assert_int_eq(bfs_outcome_match(o, 1)->winner, 3);
	ck_assert_uint_eq(bfs_outcome_match(o, 2)->a, 2);
	ck_assert_uint_eq(bfs_outcome_match(o, 2)->b, 3);
	ck_assert_uint_eq(bfs_outcome_match(o, 2)->round, 1);
	ck_assert_uint_eq(bfs_outcome_match(o, 3)->a, 3);
	ck_assert_uint_eq(bfs_outcome_match(o, 3)->b, 5);
	ck_assert_uint_eq(winner(o)->index, 5);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_int_eq(count('='), 1);
	ck_assert_int_eq(count('-'), 5);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tournament_failing_judge_is_recorded)
{
	int fail_at = 2;
	struct bfs_tournament_opts to = { .n = 4, .judge = judge, .judge_arg = &fail_at };
	struct bfs_outcome *o;

	ck_assert_int_eq(run(&o, bfs__tournament, &task, 1, &to, NULL), -EIO);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_ptr_null(bfs_outcome_winner(o));
	ck_assert_uint_eq(bfs_outcome_match_count(o), 2);
	ck_assert_int_eq(bfs_outcome_match(o, 1)->winner, -1);
	ck_assert_str_eq(bfs_outcome_match(o, 1)->error, "input/output error");
	ck_assert_str_eq(bfs_outcome_message(o),
			 "the judge failed on candidates 2 and 3: input/output error");
	ck_assert_int_eq(count('='), 0);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tournament_judge_task)
{
	struct bfs_task jt =
		BFS_TASK_SHELL("test \"$BRANCHING_A\" = \"$1\" || exit 5; "
			       "test $(cat \"$1/q\") -ge $(cat \"$2/q\") && echo a || echo B");
	struct bfs_tournament_opts to = { .judge_task = &jt };
	struct bfs_outcome *o;

	for (int i = 0; i < 3; i++)
		script[i] = (struct step){ .score = quality[i] };
	ck_assert_int_eq(run(&o, bfs__tournament, tasks, 3, &to, NULL), 0);
	ck_assert_uint_eq(winner(o)->index, 1);
	ck_assert_uint_eq(bfs_outcome_match_count(o), 2);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tournament_judge_task_failures)
{
	struct bfs_task bad = BFS_TASK_SHELL("echo maybe");
	struct bfs_task exits = BFS_TASK_SHELL("exit 3");
	struct bfs_task hangs = BFS_TASK_SHELL("sleep 30");
	struct bfs_tournament_opts to = { .judge_task = &bad };
	struct bfs_pattern_opts c = common();
	struct bfs_outcome *o;
	int64_t t0;

	ck_assert_int_eq(run(&o, bfs__tournament, tasks, 2, &to, NULL), -EPROTO);
	ck_assert_str_eq(bfs_outcome_match(o, 0)->error, "it answered 'maybe', not a or b");
	bfs_outcome_free(o);
	to.judge_task = &exits;
	ck_assert_int_eq(run(&o, bfs__tournament, tasks, 2, &to, NULL), -EPROTO);
	ck_assert_str_eq(bfs_outcome_match(o, 0)->error, "exit status 3");
	bfs_outcome_free(o);
	/* A judge that hangs is killed at the timeout. */
	to.judge_task = &hangs;
	c.timeout_ms = 600;
	t0 = now_ms();
	ck_assert_int_eq(run(&o, bfs__tournament, tasks, 2, &to, &c), -ETIMEDOUT);
	ck_assert_int_lt(now_ms() - t0, 2500);
	ck_assert(!bfs_outcome_committed(o));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(cascade_waves_pass_errors_forward)
{
	const unsigned int fan[] = { 1, 2, 2 };
	struct bfs_cascade_opts co = { .fan_out = fan, .waves = 3 };
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 1, .msg = "E0 type error" };
	script[1] = (struct step){ .status = 1, .msg = "E1 link error" };
	script[2] = (struct step){ .status = 1, .msg = "E2 test failed", .sleep_ms = 50 };
	script[3] = (struct step){ .needs = "E0 type|E1 link|E2 test|[candidate 2]" };
	script[4] = (struct step){ .sleep_ms = 5000 };
	ck_assert_int_eq(run(&o, bfs__cascade, &task, 1, &co, NULL), 0);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(winner(o)->index, 3);
	ck_assert_str_eq(res(o, 0)->feedback, "");
	ck_assert_str_eq(res(o, 1)->feedback, "[candidate 0] exit status 1\nE0 type error\n");
	ck_assert_uint_eq(res(o, 1)->level, 1);
	ck_assert_uint_eq(res(o, 4)->level, 2);
	ck_assert_str_eq(res(o, 4)->reason, "stopped: another candidate was committed");
	ck_log("+b1<main -b1 +b2<main +b3<main -b2 -b3 +b4<main +b5<main =b4 -b5 ");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(cascade_default_fan_out)
{
	struct bfs_outcome *o;

	for (int i = 0; i < 7; i++)
		script[i] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__cascade, &task, 1, NULL, NULL), 0);
	ck_assert_uint_eq(bfs_outcome_count(o), 7);
	ck_assert_uint_eq(res(o, 0)->level, 0);
	ck_assert_uint_eq(res(o, 2)->level, 1);
	ck_assert_uint_eq(res(o, 6)->level, 2);
	ck_assert(!bfs_outcome_committed(o));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(signal_to_the_parent_cleans_up)
{
	struct bfs_outcome *o;
	int64_t t0 = now_ms();

	script[0] = (struct step){ .kill_parent = true, .sleep_ms = 10000 };
	script[1] = (struct step){ .sleep_ms = 10000 };
	script[2] = (struct step){ .sleep_ms = 10000 };
	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, NULL, NULL), -EINTR);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert_int_eq(bfs_outcome_signal(o), SIGTERM);
	ck_assert_str_eq(bfs_outcome_message(o), "interrupted by SIGTERM");
	ck_assert(!bfs_outcome_committed(o));
	/* The signal may come before every branch is created: whatever was
	 * created is aborted, whatever did not start never will. */
	ck_assert_int_eq(count('-'), count('+'));
	ck_assert_int_ge(count('+'), 1);
	for (int i = 1; i < 3; i++)
		ck_assert_msg(strstr(res(o, i)->reason, "interrupted"), "%s", res(o, i)->reason);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(signal_then_success_commits_nothing)
{
	struct bfs_outcome *o;

	/* The candidate signals the parent and succeeds at once: after a
	 * caught signal nothing more is committed. */
	script[0] = (struct step){ .kill_parent = true };
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 1, NULL, NULL), -EINTR);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_int_eq(bfs_outcome_signal(o), SIGTERM);
	ck_log("+b1<main -b1 ");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(helper_runs_while_candidates_are_served)
{
	/* While the evaluation of 0 sleeps, 1 writes 1 MiB (far more than a
	 * pipe holds) and then outlives its 1 s: it must be drained and killed
	 * on time, not when the evaluation is over (3 s). */
	struct bfs_task t[] = {
		BFS_TASK_SHELL("true"),
		BFS_TASK_SHELL("head -c 1048576 /dev/zero; sleep 30"),
	};
	struct bfs_task ev = BFS_TASK_SHELL("sleep 3; echo 7");
	struct bfs_best_of_n_opts bo = { .scoring.evaluate_task = &ev };
	struct bfs_pattern_opts c = common();
	struct bfs_outcome *o;
	int64_t t0 = now_ms();

	c.task_timeout_ms = 1000;
	c.helper_timeout_ms = 20000;
	ck_assert_int_eq(run(&o, bfs__best_of_n, t, 2, &bo, &c), 0);
	ck_assert_int_ge(now_ms() - t0, 3000);
	ck_assert_uint_eq(winner(o)->index, 0);
	ck_assert(res(o, 0)->score == 7);
	ck_assert(res(o, 1)->timed_out);
	ck_assert_uint_eq(res(o, 1)->out_len, 1048576);
	ck_assert_msg(res(o, 1)->elapsed_ms < 2500, "killed after %lld ms, not at 1 s",
		      (long long)res(o, 1)->elapsed_ms);
	ck_assert_str_eq(res(o, 1)->reason, "timed out after 1.0 s");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(helper_timeouts)
{
	struct bfs__run r = { .deadline = INT64_MAX };
	struct bfs_task hangs = BFS_TASK_SHELL("sleep 30"), quick = BFS_TASK_SHELL("true");
	struct bfs_tournament_opts to = { .judge_task = &hangs };
	struct bfs_best_of_n_opts bo = { .scoring.evaluate_task = &hangs };
	struct bfs_pattern_opts c = common();
	struct bfs_outcome *o;
	int64_t t0;

	/* Nothing set: the default; else helper_timeout_ms, else
	 * task_timeout_ms, else what is left of the run. */
	ck_assert_uint_eq(bfs__run_helper_timeout(&r), BFS_HELPER_TIMEOUT_DEFAULT_MS);
	ck_assert_uint_eq(BFS_HELPER_TIMEOUT_DEFAULT_MS, 600000);
	r.opts.task_timeout_ms = 5000;
	ck_assert_uint_eq(bfs__run_helper_timeout(&r), 5000);
	r.opts.helper_timeout_ms = 700;
	ck_assert_uint_eq(bfs__run_helper_timeout(&r), 700);
	r.opts.helper_timeout_ms = r.opts.task_timeout_ms = 0;
	r.deadline = now_ms() + 3000;
	ck_assert_uint_le(bfs__run_helper_timeout(&r), 3000);
	ck_assert_uint_gt(bfs__run_helper_timeout(&r), 2000);
	r.opts.helper_timeout_ms = 100000;
	ck_assert_uint_le(bfs__run_helper_timeout(&r), 3000);

	/* A hanging judge, with no timeout but the helper's. */
	c.helper_timeout_ms = 300;
	t0 = now_ms();
	ck_assert_int_eq(run(&o, bfs__tournament, tasks, 2, &to, &c), -ETIMEDOUT);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert_str_eq(bfs_outcome_match(o, 0)->error, "timed out after 0.3 s");
	ck_assert(!bfs_outcome_committed(o));
	bfs_outcome_free(o);
	/* A hanging evaluation, bounded by the task timeout (which the
	 * candidate, a command, meets easily even under valgrind). */
	c.helper_timeout_ms = 0;
	c.task_timeout_ms = 1000;
	t0 = now_ms();
	ck_assert_int_eq(run(&o, bfs__best_of_n, &quick, 1, &bo, &c), 0);
	ck_assert_int_lt(now_ms() - t0, 4000);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_str_eq(res(o, 0)->reason, "evaluate failed: timed out after 1.0 s");
	ck_assert_int_eq(res(o, 0)->error, -ETIMEDOUT);
	bfs_outcome_free(o);
}
END_TEST

static int failing_critique(char **feedback, const struct bfs_result *r, void *arg)
{
	int *ret = arg;

	(void)r;
	*feedback = strdup("ignored");
	return *ret;
}

START_TEST(reflexion_failing_critique_is_recorded)
{
	struct bfs_task crit = BFS_TASK_SHELL("echo half a critique; exit 3");
	int err = -EIO;
	struct bfs_reflexion_opts ro = { .retries = 2,
					 .critique = failing_critique,
					 .critique_arg = &err };
	struct bfs_outcome *o;

	script[0] = (struct step){ .status = 1 };
	script[1] = (struct step){ .status = 1 };
	ck_assert_int_eq(run(&o, bfs__reflexion, &task, 1, &ro, NULL), 0);
	ck_assert_int_eq(res(o, 0)->error, -EIO);
	ck_assert_str_eq(res(o, 0)->reason, "exit status 1; critique failed: input/output error");
	/* The next attempt gets the error text instead. */
	ck_assert_str_eq(res(o, 1)->feedback, "exit status 1; critique failed: input/output "
					      "error\nattempt=0 feedback=[]");
	bfs_outcome_free(o);

	/* A positive return is no errno. */
	err = 7;
	ck_assert_int_eq(run(&o, bfs__reflexion, &task, 1, &ro, NULL), 0);
	ck_assert_int_eq(res(o, 0)->error, -EPROTO);
	ck_assert_str_eq(res(o, 0)->reason, "exit status 1; critique failed: it returned 7, "
					    "not 0 or a negative errno");
	bfs_outcome_free(o);

	/* The task form. */
	ro.critique = NULL;
	ro.critique_task = &crit;
	ck_assert_int_eq(run(&o, bfs__reflexion, &task, 1, &ro, NULL), 0);
	ck_assert_int_eq(res(o, 0)->error, -EPROTO);
	ck_assert_str_eq(res(o, 0)->reason, "exit status 1; critique failed: exit status 3");
	ck_assert(!strstr(res(o, 1)->feedback, "half a critique"));
	ck_assert(!strncmp(res(o, 1)->feedback, "exit status 1; critique failed", 30));
	bfs_outcome_free(o);
}
END_TEST

static int bad_evaluate(double *score, const struct bfs_result *r, void *arg)
{
	*score = 1;
	return r->index == 0 ? 5 : r->index == 1 ? -100000 : 0;
}

static int bad_judge(int *winner, const struct bfs_result *a, const struct bfs_result *b, void *arg)
{
	(void)a;
	(void)b;
	*winner = 0;
	return *(int *)arg;
}

static int bad_expand(struct bfs_task *out, size_t cap, const char *path, unsigned int depth,
		      void *arg)
{
	return -70000;
}

START_TEST(callback_returns_become_errnos)
{
	struct bfs_best_of_n_opts bo = { .scoring.evaluate = bad_evaluate };
	int judged = 1;
	struct bfs_tournament_opts to = { .judge = bad_judge, .judge_arg = &judged };
	struct bfs_tree_opts tr = { .depth = 2, .expansion.expand = bad_expand };
	struct bfs_outcome *o;

	ck_assert_int_eq(run(&o, bfs__best_of_n, tasks, 3, &bo, NULL), 0);
	ck_assert_int_eq(res(o, 0)->error, -EPROTO);
	ck_assert_str_eq(res(o, 0)->reason,
			 "evaluate failed: it returned 5, not 0 or a negative errno");
	ck_assert_int_eq(res(o, 1)->error, -EPROTO);
	ck_assert_uint_eq(winner(o)->index, 2);
	bfs_outcome_free(o);

	ck_assert_int_eq(run(&o, bfs__tournament, tasks, 2, &to, NULL), -EPROTO);
	ck_assert_int_eq(bfs_outcome_error(o), -EPROTO);
	ck_assert_str_eq(bfs_outcome_match(o, 0)->error,
			 "it returned 1, not 0 or a negative errno");
	bfs_outcome_free(o);

	ck_assert_int_eq(run(&o, bfs__tree_of_thoughts, tasks, 1, &tr, NULL), -EPROTO);
	ck_assert_str_eq(bfs_outcome_message(o), "expand failed at depth 1: it returned -70000, "
						 "not 0 or a negative errno");
	ck_assert(!bfs_outcome_committed(o));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(invalid_arguments)
{
	struct bfs_task none = { 0 };
	struct bfs_outcome *o = (struct bfs_outcome *)1;

	ck_assert_int_eq(run(&o, bfs__speculate, &none, 1, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(run(&o, bfs__speculate, tasks, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bfs_speculate(&o, NULL, tasks, 1, NULL), -EINVAL);
	ck_assert_int_eq(bfs_tournament(&o, (struct bfs_mount *)1, tasks, 1, NULL), -EINVAL);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(fk.log, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("patterns");
	TCase *tc = tcase_create("patterns");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, speculate_first_success_wins);
	tcase_add_test(tc, speculate_max_parallel_one_at_a_time);
	tcase_add_test(tc, speculate_failures_and_a_crash);
	tcase_add_test(tc, speculate_timeout_bounds_wall_time);
	tcase_add_test(tc, speculate_lost_race_is_a_conflict);
	tcase_add_test(tc, best_of_n_highest_success_wins_ties_to_lowest);
	tcase_add_test(tc, best_of_n_failures_score_zero_and_never_win);
	tcase_add_test(tc, best_of_n_default_scores_and_repeats);
	tcase_add_test(tc, best_of_n_precomputed_scores);
	tcase_add_test(tc, best_of_n_evaluate_callback);
	tcase_add_test(tc, best_of_n_evaluate_task);
	tcase_add_test(tc, best_of_n_rollout_commits_nothing);
	tcase_add_test(tc, best_of_n_create_failure_cleans_up);
	tcase_add_test(tc, reflexion_passes_the_critique_on);
	tcase_add_test(tc, reflexion_feedback_defaults_to_the_error_text);
	tcase_add_test(tc, reflexion_critique_task_runs_in_the_failed_branch);
	tcase_add_test(tc, tree_levels_commit_into_the_root);
	tcase_add_test(tc, tree_level_without_success_aborts_the_root);
	tcase_add_test(tc, tree_expand_error_stops_and_cleans_up);
	tcase_add_test(tc, tree_expand_task_lines_are_the_next_level);
	tcase_add_test(tc, beam_keeps_the_global_top_k_one_child_per_beam);
	tcase_add_test(tc, beam_best_beam_wins_at_the_end);
	tcase_add_test(tc, beam_level_without_success_commits_nothing);
	tcase_add_test(tc, tournament_bracket_with_a_bye);
	tcase_add_test(tc, tournament_failing_judge_is_recorded);
	tcase_add_test(tc, tournament_judge_task);
	tcase_add_test(tc, tournament_judge_task_failures);
	tcase_add_test(tc, cascade_waves_pass_errors_forward);
	tcase_add_test(tc, cascade_default_fan_out);
	tcase_add_test(tc, signal_to_the_parent_cleans_up);
	tcase_add_test(tc, signal_then_success_commits_nothing);
	tcase_add_test(tc, helper_runs_while_candidates_are_served);
	tcase_add_test(tc, helper_timeouts);
	tcase_add_test(tc, reflexion_failing_critique_is_recorded);
	tcase_add_test(tc, callback_returns_become_errnos);
	tcase_add_test(tc, invalid_arguments);
	suite_add_tcase(s, tc);
	return bfs_check_main(s);
}
