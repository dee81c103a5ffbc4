/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The patterns of libbranchfs on a real mount: every pattern commits its
 * winner's files into the base and none of the losers', and leaves no
 * branch behind (no @NAME at the mount root, only main listed).  Also:
 * candidates really run in parallel, timeouts bound wall time, a crashing
 * candidate and a failing judge are handled, nested branches (tree, beam)
 * commit level by level, a candidate that leaves branches of its own under
 * its branch, and SIGTERM/SIGINT to the process running a pattern.
 */
#define _GNU_SOURCE
#define bfs_mount bfs_test_mount
#include "bfs_test.h"
#undef bfs_mount

#include "bfs_check.h"

#include <branchfs/branchfs.h>
#include <branchfs/patterns.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct bfs_test_mount t;
static struct bfs_mount *m;

static const char *tpath(const char *a, const char *b)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", a, b);
	return p[i];
}

static const char *base(const char *name)
{
	return tpath(t.base, name);
}

static void setup(void)
{
	bfs_mount_prepare(&t);
	ck_assert_int_eq(bfs_write_file(tpath(t.base, "app.c"), "int main;\n"), 0);
	bfs_mount_start(&t, NULL);
	ck_assert_int_eq(bfs_open(&m, t.mnt), 0);
}

/* No branch left: nothing but main listed, no @NAME at the root. */
static void no_branches(void)
{
	struct bfs_branch_list *l;
	struct dirent *e;
	DIR *d;

	ck_assert_int_eq(bfs_list(&l, m), 0);
	ck_assert_uint_eq(bfs_branch_list_count(l), 1);
	bfs_branch_list_free(l);
	d = opendir(t.mnt);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		ck_assert_msg(e->d_name[0] != '@', "%s left at the mount root", e->d_name);
	closedir(d);
}

static void teardown(void)
{
	no_branches();
	bfs_close(m);
	m = NULL;
	bfs_mount_stop(&t);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct bfs_pattern_opts common(void)
{
	struct bfs_pattern_opts o = { .version = BFS_PATTERN_OPTS_VERSION, .grace_ms = 300 };

	return o;
}

static const struct bfs_result *res(const struct bfs_outcome *o, size_t i)
{
	const struct bfs_result *r = bfs_outcome_get(o, i);

	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(speculate_commits_the_first_success_only)
{
	struct bfs_task tasks[] = {
		BFS_TASK_SHELL("echo A > result; echo a > only-a; exit 1"),
		BFS_TASK_SHELL("sleep 0.3; echo B > result; echo b > only-b"),
		BFS_TASK_SHELL("echo C > result; echo c > only-c; sleep 20"),
	};
	struct bfs_speculate_opts so = { .common = common() };
	struct bfs_outcome *o;
	int64_t t0 = now_ms();

	ck_assert_int_eq(bfs_speculate(&o, m, tasks, 3, &so), 0);
	ck_assert_int_lt(now_ms() - t0, 5000);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 1);
	ck_assert_str_eq(bfs_outcome_parent(o), "main");
	ck_file_eq(base("result"), "B\n");
	ck_file_eq(base("only-b"), "b\n");
	ck_absent(base("only-a"));
	ck_absent(base("only-c"));
	ck_assert(!strncmp(res(o, 1)->path, bfs_mount_root(m), strlen(bfs_mount_root(m))));
	ck_assert_str_eq(res(o, 2)->reason, "stopped: another candidate was committed");
	bfs_outcome_free(o);
}
END_TEST

/* Is only the file cand-<winner> of cand-0..cand-<n-1> in the base? */
static void only_winner_file(unsigned int n, unsigned int winner)
{
	for (unsigned int i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "cand-%u", i);
		if (i == winner)
			ck_file_eq(base(name), "x\n");
		else
			ck_absent(base(name));
	}
}

/*
 * Parallelism: eight sleeps of 1 s end well under 2 s, which running them
 * two or four at a time cannot (4 s, 2 s); 0.9 s of slack covers creating
 * and aborting eight branches on a loaded machine (the sleeps need no CPU).
 */
#define PARALLEL_N	8
#define PARALLEL_MAX_MS 1900

START_TEST(best_of_n_candidates_run_in_parallel)
{
	struct bfs_task task = BFS_TASK_SHELL("sleep 1; echo $BRANCHING_ATTEMPT > n; "
					      "echo x > cand-$BRANCHING_ATTEMPT; "
					      "echo $((BRANCHING_ATTEMPT % 3)) >&3");
	struct bfs_best_of_n_opts bo = { .common = common(), .n = PARALLEL_N };
	struct bfs_outcome *o;
	int64_t t0 = now_ms(), took;

	ck_assert_int_eq(bfs_best_of_n(&o, m, &task, 1, &bo), 0);
	took = now_ms() - t0;
	ck_assert_msg(took < PARALLEL_MAX_MS, "8 x 1 s took %lld ms", (long long)took);
	/* Scores 0 1 2 0 1 2 0 1: 2 and 5 tie, the lower wins. */
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 2);
	ck_assert(bfs_outcome_winner(o)->score == 2);
	ck_file_eq(base("n"), "2\n");
	only_winner_file(PARALLEL_N, 2);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(speculate_candidates_run_in_parallel)
{
	struct bfs_task tasks[PARALLEL_N];
	struct bfs_speculate_opts so = { .common = common() };
	struct bfs_outcome *o;
	int64_t t0 = now_ms(), took;

	for (int i = 0; i < PARALLEL_N; i++)
		tasks[i] = (struct bfs_task)BFS_TASK_SHELL(
			"echo x > cand-$BRANCHING_ATTEMPT; sleep 1; exit 1");
	ck_assert_int_eq(bfs_speculate(&o, m, tasks, PARALLEL_N, &so), 0);
	took = now_ms() - t0;
	ck_assert_msg(took < PARALLEL_MAX_MS, "8 x 1 s took %lld ms", (long long)took);
	ck_assert(!bfs_outcome_committed(o));
	for (int i = 0; i < PARALLEL_N; i++)
		ck_assert_str_eq(res(o, i)->reason, "exit status 1");
	only_winner_file(PARALLEL_N, PARALLEL_N);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(cascade_wave_runs_in_parallel)
{
	static const unsigned int fan[] = { PARALLEL_N };
	struct bfs_task task = BFS_TASK_SHELL("sleep 1; echo x > cand-$BRANCHING_ATTEMPT; "
					      "test $BRANCHING_ATTEMPT = 5");
	struct bfs_cascade_opts co = { .common = common(), .fan_out = fan, .waves = 1 };
	struct bfs_outcome *o;
	int64_t t0 = now_ms(), took;

	ck_assert_int_eq(bfs_cascade(&o, m, &task, 1, &co), 0);
	took = now_ms() - t0;
	ck_assert_msg(took < PARALLEL_MAX_MS, "a wave of 8 x 1 s took %lld ms", (long long)took);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 5);
	only_winner_file(PARALLEL_N, 5);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(best_of_n_rollout_leaves_the_base_alone)
{
	struct bfs_task task = BFS_TASK_SHELL("echo $BRANCHING_ATTEMPT > n");
	struct bfs_best_of_n_opts bo = { .common = common(), .n = 3, .rollout = true };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_best_of_n(&o, m, &task, 1, &bo), 0);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 0);
	ck_absent(base("n"));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(reflexion_critique_sees_the_failed_branch)
{
	struct bfs_task task = BFS_TASK_SHELL(
		"if [ \"$BRANCHING_FEEDBACK\" = 'broken: E42' ]; then echo fixed > fix; "
		"else echo broken > fix; echo E42 >&2; exit 1; fi");
	struct bfs_task crit =
		BFS_TASK_SHELL("echo \"$(cat fix): $(cat err 2>/dev/null || echo E42)\"");
	struct bfs_reflexion_opts ro = { .common = common(), .critique_task = &crit };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_reflexion(&o, m, &task, 1, &ro), 0);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(bfs_outcome_count(o), 2);
	ck_assert_str_eq(res(o, 1)->feedback, "broken: E42");
	ck_file_eq(base("fix"), "fixed\n");
	bfs_outcome_free(o);
}
END_TEST

/* Level tasks of the tree and beam tests: write a file named after the
 * level and attempt, score by the attempt's parity. */
static int level_expand(struct bfs_task *out, size_t cap, const char *path, unsigned int depth,
			void *arg)
{
	static struct bfs_task next[2] = {
		BFS_TASK_SHELL("test -e L0-$((BRANCHING_ATTEMPT - 2)) || test -e L0-1 || exit 1; "
			       "echo $BRANCHING_ATTEMPT > L$BRANCHING_LEVEL-$BRANCHING_ATTEMPT; "
			       "echo $BRANCHING_ATTEMPT >&3"),
		BFS_TASK_SHELL("echo $BRANCHING_ATTEMPT > L$BRANCHING_LEVEL-$BRANCHING_ATTEMPT; "
			       "echo $((100 - BRANCHING_ATTEMPT)) >&3"),
	};

	out[0] = next[0];
	out[1] = next[1];
	return 2;
}

START_TEST(tree_commits_each_level_into_the_root)
{
	struct bfs_task tasks[] = {
		BFS_TASK_SHELL("echo 0 > L0-0; echo 1 >&3"),
		BFS_TASK_SHELL("echo 1 > L0-1; echo 5 >&3"),
	};
	struct bfs_tree_opts to = { .common = common(),
				    .depth = 2,
				    .expansion.expand = level_expand };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_tree_of_thoughts(&o, m, tasks, 2, &to), 0);
	ck_assert(bfs_outcome_committed(o));
	/* Level 0: 1 wins (5).  Level 1 (in the root, which has L0-1): 2 scores
	 * 2, 3 scores 97. */
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 3);
	ck_file_eq(base("L0-1"), "1\n");
	ck_file_eq(base("L1-3"), "3\n");
	ck_absent(base("L0-0"));
	ck_absent(base("L1-2"));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(beam_commits_the_best_beam_with_one_child)
{
	struct bfs_task tasks[] = {
		BFS_TASK_SHELL("echo 0 > L0-0; echo 1 >&3"),
		BFS_TASK_SHELL("echo 1 > L0-1; echo 5 >&3"),
		BFS_TASK_SHELL("echo 2 > L0-2; exit 1"),
	};
	struct bfs_beam_opts bo = {
		.common = common(), .width = 2, .depth = 2, .expansion.expand = level_expand
	};
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_beam_search(&o, m, tasks, 3, &bo), 0);
	ck_assert(bfs_outcome_committed(o));
	/* Beams 1 (5) and 0 (1); 2 failed.  Beam 1's children: 3 (finds L0-1,
	 * scores 3) and 4 (96); beam 0's: 5 (finds neither L0-3 nor L0-1:
	 * fails) and 6 (94).  Top two: 4 and 6, one per beam; beam 1 ends
	 * best. */
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 4);
	ck_file_eq(base("L0-1"), "1\n");
	ck_file_eq(base("L1-4"), "4\n");
	ck_absent(base("L0-0"));
	ck_absent(base("L0-2"));
	ck_absent(base("L1-3"));
	ck_absent(base("L1-6"));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tournament_judge_compares_branches)
{
	struct bfs_task task = BFS_TASK_SHELL("echo $(( (BRANCHING_ATTEMPT * 7) % 5 )) > q; "
					      "echo x > cand-$BRANCHING_ATTEMPT");
	struct bfs_task judge =
		BFS_TASK_SHELL("[ $(cat \"$1/q\") -ge $(cat \"$2/q\") ] && echo a || echo b");
	struct bfs_tournament_opts to = { .common = common(), .n = 5, .judge_task = &judge };
	struct bfs_outcome *o;

	/* q: 0 2 4 1 3 */
	ck_assert_int_eq(bfs_tournament(&o, m, &task, 1, &to), 0);
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 2);
	ck_file_eq(base("q"), "4\n");
	only_winner_file(5, 2);
	ck_assert_uint_eq(bfs_outcome_match_count(o), 4);
	bfs_outcome_free(o);
}
END_TEST

START_TEST(tournament_failing_judge_commits_nothing)
{
	struct bfs_task task = BFS_TASK_SHELL("echo $BRANCHING_ATTEMPT > q");
	struct bfs_task judge = BFS_TASK_SHELL("echo judging >&2; exit 2");
	struct bfs_tournament_opts to = { .common = common(), .n = 3, .judge_task = &judge };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_tournament(&o, m, &task, 1, &to), -EPROTO);
	ck_assert(!bfs_outcome_committed(o));
	ck_assert_str_eq(bfs_outcome_message(o),
			 "the judge failed on candidates 0 and 1: exit status 2");
	ck_absent(base("q"));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(cascade_passes_errors_to_wider_waves)
{
	struct bfs_task task = BFS_TASK_SHELL("case \"$BRANCHING_FEEDBACK\" in *'[candidate 2]'*) "
					      "echo ok > fixed; exit 0;; esac; "
					      "echo \"error in wave $BRANCHING_LEVEL\" >&2; echo x "
					      "> junk-$BRANCHING_ATTEMPT; exit 1");
	struct bfs_cascade_opts co = { .common = common() };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_cascade(&o, m, &task, 1, &co), 0);
	ck_assert(bfs_outcome_committed(o));
	ck_assert_uint_eq(bfs_outcome_winner(o)->level, 2);
	ck_assert(strstr(res(o, 3)->feedback, "error in wave 1"));
	ck_file_eq(base("fixed"), "ok\n");
	for (int i = 0; i < 7; i++) {
		char junk[32];

		snprintf(junk, sizeof(junk), "junk-%d", i);
		ck_absent(base(junk));
	}
	bfs_outcome_free(o);
}
END_TEST

START_TEST(timeout_bounds_wall_time)
{
	struct bfs_task tasks[] = {
		BFS_TASK_SHELL("echo x > slow-0; sleep 30"),
		BFS_TASK_SHELL("trap '' TERM; echo x > slow-1; while :; do sleep 0.1; done"),
		BFS_TASK_SHELL("sleep 30 & sleep 30"),
	};
	struct bfs_speculate_opts so = { .common = common() };
	struct bfs_outcome *o;
	int64_t t0 = now_ms(), took;

	so.common.timeout_ms = 500;
	ck_assert_int_eq(bfs_speculate(&o, m, tasks, 3, &so), 0);
	took = now_ms() - t0;
	/* 0.5 s, then SIGKILL 0.3 s later for the one ignoring SIGTERM. */
	ck_assert_msg(took < 2500, "took %lld ms", (long long)took);
	ck_assert(!bfs_outcome_committed(o));
	for (int i = 0; i < 3; i++)
		ck_assert(res(o, i)->timed_out);
	ck_assert_int_eq(res(o, 1)->signal, SIGKILL);
	ck_absent(base("slow-0"));
	ck_absent(base("slow-1"));
	bfs_outcome_free(o);
}
END_TEST

START_TEST(crashing_candidate_is_a_failure)
{
	struct bfs_task tasks[] = {
		BFS_TASK_SHELL("echo x > crashed; kill -SEGV $$"),
		BFS_TASK_SHELL("sleep 0.3; echo ok > survived; echo 1 >&3"),
	};
	struct bfs_best_of_n_opts bo = { .common = common() };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_best_of_n(&o, m, tasks, 2, &bo), 0);
	ck_assert_int_eq(res(o, 0)->signal, SIGSEGV);
	ck_assert_str_eq(res(o, 0)->reason, "killed by signal 11 (Segmentation fault)");
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 1);
	ck_absent(base("crashed"));
	ck_file_eq(base("survived"), "ok\n");
	bfs_outcome_free(o);
}
END_TEST

/* Why a candidate or helper could not run is in lowercase words, as every
 * message is, in the reason the CLI prints and puts in its JSON. */
START_TEST(a_command_that_cannot_run_is_reported_in_lowercase)
{
	static const char *const missing[] = { "/nonexistent/cmd", NULL };
	static const char *const denied[] = { "/dev/null", NULL };
	struct bfs_task tasks[] = {
		BFS_TASK_ARGV(missing),
		BFS_TASK_ARGV(denied),
		BFS_TASK_SHELL("echo ok > ran"),
	};
	struct bfs_best_of_n_opts bo = { .common = common() };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_best_of_n(&o, m, tasks, 3, &bo), 0);
	ck_assert_int_eq(res(o, 0)->error, -ENOENT);
	ck_assert_str_eq(res(o, 0)->reason, "cannot run the command: no such file or directory");
	ck_assert_int_eq(res(o, 1)->error, -EACCES);
	ck_assert_str_eq(res(o, 1)->reason, "cannot run the command: permission denied");
	ck_assert_uint_eq(bfs_outcome_winner(o)->index, 2);
	ck_file_eq(base("ran"), "ok\n");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(candidate_branches_of_its_own_are_discarded)
{
	/* The candidate creates a child of its branch through its branch's
	 * control file and leaves it: committing (or aborting) the candidate
	 * would fail with ENOTEMPTY unless the child goes first. */
	struct bfs_task tasks[] = {
		BFS_TASK_SHELL("printf create:sub-$BRANCHING_ATTEMPT > .branchfs_ctl && "
			       "echo kept > top && sleep 0.2"),
		BFS_TASK_SHELL("printf create:sub-$BRANCHING_ATTEMPT > .branchfs_ctl && exit 1"),
	};
	struct bfs_speculate_opts so = { .common = common() };
	struct bfs_outcome *o;

	ck_assert_int_eq(bfs_speculate(&o, m, tasks, 2, &so), 0);
	ck_assert(bfs_outcome_committed(o));
	ck_file_eq(base("top"), "kept\n");
	bfs_outcome_free(o);
}
END_TEST

START_TEST(nested_parent_option)
{
	struct bfs_task task = BFS_TASK_SHELL("echo in-feature > f");
	struct bfs_speculate_opts so = { .common = common() };
	struct bfs_outcome *o;
	char path[PATH_MAX];

	ck_assert_int_eq(bfs_create(NULL, NULL, m, NULL, "feature"), 0);
	so.common.parent = "feature";
	ck_assert_int_eq(bfs_speculate(&o, m, &task, 1, &so), 0);
	ck_assert_str_eq(bfs_outcome_parent(o), "feature");
	snprintf(path, sizeof(path), "%s/@feature/f", t.mnt);
	ck_file_eq(path, "in-feature\n");
	ck_absent(base("f"));
	bfs_outcome_free(o);
	ck_assert_int_eq(bfs_abort(m, "feature"), 0);
}
END_TEST

/* In a child process: best-of-n over candidates that record their pids and
 * sleep; exit 128 + the signal that stopped it. */
static void interrupted_child(const char *pids)
{
	char cmd[PATH_MAX + 64];
	struct bfs_task task = BFS_TASK_SHELL(cmd);
	struct bfs_best_of_n_opts bo = { .common = common(), .n = 3 };
	struct bfs_outcome *o = NULL;
	struct bfs_mount *mm;
	int ret;

	snprintf(cmd, sizeof(cmd), "echo $$ >> %s; echo x > wip-$BRANCHING_ATTEMPT; sleep 30",
		 pids);
	if (bfs_open(&mm, t.mnt))
		_exit(90);
	ret = bfs_best_of_n(&o, mm, &task, 1, &bo);
	_exit(ret == -EINTR && o ? 128 + bfs_outcome_signal(o) : 91);
}

static void signal_test(int sig)
{
	char pids[PATH_MAX];
	int status, lines = 0;
	pid_t pid;
	char *s;

	snprintf(pids, sizeof(pids), "%s/pids", t.dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		interrupted_child(pids);
	/* Wait until the three candidates run. */
	for (int i = 0; i < 500 && lines < 3; i++) {
		usleep(10000);
		s = bfs_read_file(pids);
		lines = 0;
		for (char *p = s; p && *p; p++)
			lines += *p == '\n';
		free(s);
	}
	ck_assert_int_eq(lines, 3);
	ck_assert_int_eq(kill(pid, sig), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 128 + sig);
	/* The candidates are gone too. */
	s = bfs_read_file(pids);
	for (char *p = s, *end; p && *p; p = end) {
		long cpid = strtol(p, &end, 10);

		ck_assert_msg(kill((pid_t)cpid, 0) < 0, "candidate %ld survived", cpid);
		while (*end == '\n')
			end++;
	}
	free(s);
	ck_absent(base("wip-0"));
}

START_TEST(sigterm_to_the_parent_cleans_up)
{
	signal_test(SIGTERM);
}
END_TEST

START_TEST(sigint_to_the_parent_cleans_up)
{
	signal_test(SIGINT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("patterns");
	TCase *tc = tcase_create("patterns");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, speculate_commits_the_first_success_only);
	tcase_add_test(tc, best_of_n_candidates_run_in_parallel);
	tcase_add_test(tc, speculate_candidates_run_in_parallel);
	tcase_add_test(tc, cascade_wave_runs_in_parallel);
	tcase_add_test(tc, best_of_n_rollout_leaves_the_base_alone);
	tcase_add_test(tc, reflexion_critique_sees_the_failed_branch);
	tcase_add_test(tc, tree_commits_each_level_into_the_root);
	tcase_add_test(tc, beam_commits_the_best_beam_with_one_child);
	tcase_add_test(tc, tournament_judge_compares_branches);
	tcase_add_test(tc, tournament_failing_judge_commits_nothing);
	tcase_add_test(tc, cascade_passes_errors_to_wider_waves);
	tcase_add_test(tc, timeout_bounds_wall_time);
	tcase_add_test(tc, crashing_candidate_is_a_failure);
	tcase_add_test(tc, a_command_that_cannot_run_is_reported_in_lowercase);
	tcase_add_test(tc, candidate_branches_of_its_own_are_discarded);
	tcase_add_test(tc, nested_parent_option);
	tcase_add_test(tc, sigterm_to_the_parent_cleans_up);
	tcase_add_test(tc, sigint_to_the_parent_cleans_up);
	suite_add_tcase(s, tc);
	return bfs_check_main(s);
}
