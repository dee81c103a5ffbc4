/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process runner (<branchfs/runner.h>) without any mount: C tasks,
 * argv and shell commands; output captured while they run (megabytes on
 * both streams, no deadlock; the tail kept under a limit); scores on fd 3;
 * the environment; timeouts that kill the whole process group, SIGKILL
 * after the grace period for a task that ignores SIGTERM; processes left
 * behind in the group; start failures; parallel runs; caught signals.
 */
#define _GNU_SOURCE
#define bfs_mount bfs_test_mount
#include "bfs_test.h"
#undef bfs_mount

#include "bfs_check.h"

#include <branchfs/runner.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[4096];

static void setup(void)
{
	bfs_scratch(dir, sizeof(dir));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run one task to its end with default options. */
static struct bfs_proc_result *run1(const struct bfs_task *t, unsigned int timeout_ms,
				    unsigned int flags)
{
	struct bfs_start s = BFS_START_INIT;
	struct bfs_runner_opts o = BFS_RUNNER_OPTS_INIT;
	struct bfs_proc_result *r = NULL;

	s.task = t;
	s.dir = dir;
	s.timeout_ms = timeout_ms;
	s.flags = flags;
	o.grace_ms = 300;
	ck_assert_int_eq(bfs_run(&r, &s, &o), 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Is process pid (whose id is in file path) gone? */
static bool gone(const char *path)
{
	char *s = bfs_read_file(path);
	int pid = s ? atoi(s) : 0;
	bool dead;

	free(s);
	ck_assert_int_gt(pid, 0);
	for (int i = 0; i < 100; i++) {
		char stat[64], *st;

		snprintf(stat, sizeof(stat), "/proc/%d/stat", pid);
		st = bfs_read_file(stat);
		/* Gone, or a zombie waiting for init. */
		dead = !st || strstr(st, ") Z ");
		free(st);
		if (dead)
			return true;
		usleep(10000);
	}
	return false;
}

START_TEST(shell_output_and_status)
{
	struct bfs_task t = BFS_TASK_SHELL("echo out; echo err >&2; pwd; exit 3");
	struct bfs_proc_result *r = run1(&t, 0, 0);
	char expect[4200];

	snprintf(expect, sizeof(expect), "out\n%s\n", dir);
	ck_assert_str_eq(r->out, expect);
	ck_assert_str_eq(r->err, "err\n");
	ck_assert_int_eq(r->exit_code, 3);
	ck_assert_int_eq(r->signal, 0);
	ck_assert(!bfs_proc_ok(r));
	ck_assert(!r->has_score && !r->timed_out && !r->killed && !r->error);
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(argv_args_and_environment)
{
	const char *argv[] = { "sh", "-c",
			       "echo \"$0 $1 $BRANCHING_ATTEMPT $BRANCHING_LEVEL "
			       "$BRANCHING_BRANCH $BRANCHING_FEEDBACK $EXTRA\"",
			       NULL };
	const char *args[] = { "arg1", NULL }, *env[] = { "EXTRA=x", "BRANCHING_LEVEL=9", NULL };
	struct bfs_task t = BFS_TASK_ARGV(argv);
	struct bfs_start s = BFS_START_INIT;
	struct bfs_proc_result *r = NULL;

	s.task = &t;
	s.dir = dir;
	/* $0 is the first extra argument, as with sh -c. */
	s.args = args;
	s.env = env;
	s.info.index = 4;
	s.info.level = 2;
	s.info.branch = "b-1";
	s.info.feedback = "try harder";
	ck_assert_int_eq(bfs_run(&r, &s, NULL), 0);
	ck_assert_str_eq(r->out, "arg1  4 9 b-1 try harder x\n");
	ck_assert(bfs_proc_ok(r));
	bfs_proc_result_free(r);

	/* No feedback: the variable is not set at all. */
	struct bfs_task sh = BFS_TASK_SHELL("echo ${BRANCHING_FEEDBACK-unset} $1");
	s.task = &sh;
	s.info.feedback = NULL;
	ck_assert_int_eq(bfs_run(&r, &s, NULL), 0);
	ck_assert_str_eq(r->out, "unset arg1\n");
	bfs_proc_result_free(r);
}
END_TEST

static int counter;

static int c_task(double *score, const struct bfs_task_info *info, void *arg)
{
	char cwd[4096];

	counter++; /* the child's copy */
	if (!getcwd(cwd, sizeof(cwd)))
		return 99;
	printf("%s %u %s %s\n", (const char *)arg, info->index, getenv("BRANCHING_ATTEMPT"),
	       strcmp(cwd, dir) ? "elsewhere" : "in-dir");
	fprintf(stderr, "to stderr\n");
	*score = 0.25 * info->index;
	return info->index == 3 ? 7 : 0;
}

START_TEST(c_task_runs_in_a_child)
{
	struct bfs_task t = BFS_TASK_FN(c_task, "hello");
	struct bfs_start s = BFS_START_INIT;
	struct bfs_proc_result *r = NULL;

	s.task = &t;
	s.dir = dir;
	s.info.index = 2;
	ck_assert_int_eq(bfs_run(&r, &s, NULL), 0);
	ck_assert_str_eq(r->out, "hello 2 2 in-dir\n");
	ck_assert_str_eq(r->err, "to stderr\n");
	ck_assert(bfs_proc_ok(r));
	ck_assert(r->has_score);
	ck_assert(r->score == 0.5);
	bfs_proc_result_free(r);
	ck_assert_int_eq(counter, 0);

	s.info.index = 3;
	ck_assert_int_eq(bfs_run(&r, &s, NULL), 0);
	ck_assert_int_eq(r->exit_code, 7);
	ck_assert(!bfs_proc_ok(r));
	ck_assert(r->score == 0.75);
	bfs_proc_result_free(r);
}
END_TEST

static int crash_task(double *score, const struct bfs_task_info *info, void *arg)
{
	raise(SIGSEGV);
	return 0;
}

START_TEST(crashing_c_task)
{
	struct bfs_task t = BFS_TASK_FN(crash_task, NULL);
	struct bfs_proc_result *r = run1(&t, 0, 0);

	ck_assert_int_eq(r->signal, SIGSEGV);
	ck_assert_int_eq(r->exit_code, -1);
	ck_assert(!bfs_proc_ok(r));
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(score_on_fd_3)
{
	struct bfs_task t = BFS_TASK_SHELL("echo 0.5 >&3; echo ' 2.75 ' >&3");
	struct bfs_task bad = BFS_TASK_SHELL("echo high >&3");
	struct bfs_task none = BFS_TASK_SHELL("test -e /proc/self/fd/3");
	struct bfs_proc_result *r = run1(&t, 0, BFS_START_SCORE_FD);

	ck_assert(r->has_score);
	ck_assert(r->score == 2.75);
	bfs_proc_result_free(r);
	r = run1(&bad, 0, BFS_START_SCORE_FD);
	ck_assert(!r->has_score);
	ck_assert(bfs_proc_ok(r));
	bfs_proc_result_free(r);
	/* Without the flag fd 3 is closed (nothing of ours leaks). */
	r = run1(&none, 0, 0);
	ck_assert_int_eq(r->exit_code, 1);
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(megabytes_on_both_streams)
{
	/* 8 MiB on stdout and on stderr, interleaved: a runner that read one
	 * pipe at a time would deadlock on the other's 64 KiB. */
	struct bfs_task t = BFS_TASK_SHELL("head -c 8388608 /dev/zero | tr '\\0' o & "
					   "head -c 8388608 /dev/zero | tr '\\0' e >&2; wait");
	struct bfs_proc_result *r = run1(&t, 20000, 0);

	ck_assert(bfs_proc_ok(r));
	ck_assert_uint_eq(r->out_len, 8388608);
	ck_assert_uint_eq(r->err_len, 8388608);
	ck_assert_uint_eq(r->out_total, 8388608);
	ck_assert(r->out[0] == 'o' && r->out[8388607] == 'o' && r->out[8388608] == '\0');
	ck_assert(r->err[0] == 'e' && r->err[8388607] == 'e');
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(output_limit_keeps_the_tail)
{
	struct bfs_task t = BFS_TASK_SHELL("seq 1 100000; echo last");
	struct bfs_start s = BFS_START_INIT;
	struct bfs_runner_opts o = BFS_RUNNER_OPTS_INIT;
	struct bfs_proc_result *r = NULL;

	s.task = &t;
	o.output_limit = 100;
	ck_assert_int_eq(bfs_run(&r, &s, &o), 0);
	ck_assert_uint_eq(r->out_len, 100);
	ck_assert_uint_gt(r->out_total, 500000);
	ck_assert_str_eq(r->out + 95, "last\n");
	ck_assert_uint_eq(strlen(r->out), 100);
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(timeout_kills_the_whole_group)
{
	char pidfile[4200], cmd[8600];
	struct bfs_task t = BFS_TASK_SHELL(cmd);
	struct bfs_proc_result *r;
	int64_t t0 = now_ms();

	snprintf(pidfile, sizeof(pidfile), "%s/grandchild", dir);
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > %s; sleep 30", pidfile);
	r = run1(&t, 300, 0);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert(r->timed_out);
	ck_assert(!r->killed);
	ck_assert_int_eq(r->signal, SIGTERM);
	ck_assert(!bfs_proc_ok(r));
	ck_assert_msg(gone(pidfile), "the grandchild survived the timeout");
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(sigkill_after_the_grace_period)
{
	struct bfs_task t =
		BFS_TASK_SHELL("trap '' TERM; echo ready; while :; do sleep 0.05; done");
	int64_t t0 = now_ms();
	struct bfs_proc_result *r = run1(&t, 200, 0);
	int64_t took = now_ms() - t0;

	/* 200 ms, SIGTERM ignored, SIGKILL 300 ms later. */
	ck_assert_int_ge(took, 450);
	ck_assert_int_lt(took, 2500);
	ck_assert(r->timed_out);
	ck_assert_int_eq(r->signal, SIGKILL);
	ck_assert_str_eq(r->out, "ready\n");
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(leftovers_in_the_group_are_killed)
{
	char pidfile[4200], cmd[8600];
	struct bfs_task t = BFS_TASK_SHELL(cmd);
	int64_t t0 = now_ms();
	struct bfs_proc_result *r;

	/* The background sleep keeps stdout open: the runner must not wait for
	 * the pipe's EOF once the task's first process exited. */
	snprintf(pidfile, sizeof(pidfile), "%s/left", dir);
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > %s; echo done", pidfile);
	r = run1(&t, 0, 0);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert(bfs_proc_ok(r));
	ck_assert_str_eq(r->out, "done\n");
	ck_assert_msg(gone(pidfile), "the background process was left running");
	bfs_proc_result_free(r);
}
END_TEST

START_TEST(start_failures_are_reported)
{
	const char *argv[] = { "/nonexistent/program", NULL };
	struct bfs_task t = BFS_TASK_ARGV(argv), ok = BFS_TASK_SHELL("true"), bad = { 0 };
	struct bfs_task two = { .fn = c_task, .shell = "true" };
	struct bfs_start s = BFS_START_INIT;
	struct bfs_runner *rn;
	struct bfs_proc_result *r;

	r = run1(&t, 0, 0);
	ck_assert_int_eq(r->error, -ENOENT);
	ck_assert_str_eq(r->error_what, "exec");
	ck_assert_int_eq(r->exit_code, 127);
	ck_assert(!bfs_proc_ok(r));
	bfs_proc_result_free(r);

	s.task = &ok;
	s.dir = "/nonexistent/dir";
	ck_assert_int_eq(bfs_run(&r, &s, NULL), 0);
	ck_assert_int_eq(r->error, -ENOENT);
	ck_assert_str_eq(r->error_what, "chdir");
	bfs_proc_result_free(r);

	ck_assert_int_eq(bfs_runner_new(&rn, NULL), 0);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 0), -ECHILD);
	s.task = &bad;
	ck_assert_int_eq(bfs_runner_start(rn, &s), -EINVAL);
	s.task = &two;
	ck_assert_int_eq(bfs_runner_start(rn, &s), -EINVAL);
	ck_assert_int_eq(bfs_runner_kill(rn, 12345), -ENOENT);
	bfs_runner_free(rn);
}
END_TEST

START_TEST(parallel_and_in_completion_order)
{
	struct bfs_task slow = BFS_TASK_SHELL("sleep 0.5; echo slow");
	struct bfs_task fast = BFS_TASK_SHELL("sleep 0.1; echo fast");
	struct bfs_start s = BFS_START_INIT;
	struct bfs_runner *rn;
	struct bfs_proc_result *r;
	int64_t t0 = now_ms();
	int ids[4];

	ck_assert_int_eq(bfs_runner_new(&rn, NULL), 0);
	s.task = &slow;
	for (int i = 0; i < 3; i++) {
		s.data = &ids[i];
		ids[i] = bfs_runner_start(rn, &s);
		ck_assert_int_ge(ids[i], 0);
	}
	s.task = &fast;
	s.data = &ids[3];
	ids[3] = bfs_runner_start(rn, &s);
	ck_assert_uint_eq(bfs_runner_count(rn), 4);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, -1), 0);
	ck_assert_str_eq(r->out, "fast\n");
	ck_assert_ptr_eq(r->data, &ids[3]);
	ck_assert_int_eq(r->id, ids[3]);
	bfs_proc_result_free(r);
	/* Waiting with a short timeout returns before the slow ones end. */
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 50), -ETIMEDOUT);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(bfs_runner_wait(&r, rn, -1), 0);
		ck_assert_str_eq(r->out, "slow\n");
		bfs_proc_result_free(r);
	}
	/* Four sleeps of up to 0.5 s, together well under their sum (1.6 s). */
	ck_assert_int_lt(now_ms() - t0, 1100);
	ck_assert_uint_eq(bfs_runner_count(rn), 0);
	bfs_runner_free(rn);
}
END_TEST

START_TEST(kill_on_request)
{
	struct bfs_task t = BFS_TASK_SHELL("sleep 30");
	struct bfs_start s = BFS_START_INIT;
	struct bfs_runner *rn;
	struct bfs_proc_result *r;
	int id;

	ck_assert_int_eq(bfs_runner_new(&rn, NULL), 0);
	s.task = &t;
	id = bfs_runner_start(rn, &s);
	ck_assert_int_eq(bfs_runner_kill(rn, id), 0);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 5000), 0);
	ck_assert(r->killed);
	ck_assert(!r->timed_out);
	ck_assert_int_eq(r->signal, SIGTERM);
	bfs_proc_result_free(r);
	/* Freeing a runner kills what still runs. */
	id = bfs_runner_start(rn, &s);
	ck_assert_int_ge(id, 0);
	bfs_runner_free(rn);
}
END_TEST

START_TEST(caught_signal_interrupts_the_wait)
{
	struct bfs_runner_opts o = BFS_RUNNER_OPTS_INIT;
	struct bfs_task t = BFS_TASK_SHELL("sleep 30");
	struct bfs_start s = BFS_START_INIT;
	struct sigaction sa, before;
	struct bfs_runner *rn;
	struct bfs_proc_result *r;

	ck_assert_int_eq(sigaction(SIGTERM, NULL, &before), 0);
	o.flags = BFS_RUNNER_CATCH_SIGNALS;
	ck_assert_int_eq(bfs_runner_new(&rn, &o), 0);
	s.task = &t;
	ck_assert_int_ge(bfs_runner_start(rn, &s), 0);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 100), -ETIMEDOUT);
	kill(getpid(), SIGTERM);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 5000), -EINTR);
	ck_assert_int_eq(bfs_runner_signal(rn), SIGTERM);
	/* Reported once; then the caller kills and reaps. */
	bfs_runner_kill_all(rn);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 5000), 0);
	ck_assert(r->killed);
	bfs_proc_result_free(r);
	bfs_runner_free(rn);
	/* The previous handler is back. */
	ck_assert_int_eq(sigaction(SIGTERM, NULL, &sa), 0);
	ck_assert_ptr_eq((void *)sa.sa_handler, (void *)before.sa_handler);
}
END_TEST

START_TEST(ignored_signals_stay_ignored)
{
	struct bfs_runner_opts o = BFS_RUNNER_OPTS_INIT;
	struct bfs_runner *rn;
	struct sigaction sa;

	signal(SIGHUP, SIG_IGN);
	o.flags = BFS_RUNNER_CATCH_SIGNALS;
	ck_assert_int_eq(bfs_runner_new(&rn, &o), 0);
	ck_assert_int_eq(sigaction(SIGHUP, NULL, &sa), 0);
	ck_assert_ptr_eq((void *)sa.sa_handler, (void *)SIG_IGN);
	kill(getpid(), SIGHUP);
	ck_assert_int_eq(bfs_runner_signal(rn), 0);
	bfs_runner_free(rn);
}
END_TEST

START_TEST(deadlines_are_enforced_before_results_are_handed_back)
{
	/* Two quick ones finish together; the caller takes one, then spends a
	 * while (a callback) past the deadline of a third: the next wait hands
	 * back the other quick one at once, but must signal the third first. */
	char pidfile[4200], cmd[8600];
	struct bfs_task quick = BFS_TASK_SHELL("true"), slow = BFS_TASK_SHELL(cmd);
	struct bfs_start s = BFS_START_INIT;
	struct bfs_runner *rn;
	struct bfs_proc_result *r;

	snprintf(pidfile, sizeof(pidfile), "%s/slow", dir);
	snprintf(cmd, sizeof(cmd), "echo $$ > %s; exec sleep 30", pidfile);
	ck_assert_int_eq(bfs_runner_new(&rn, NULL), 0);
	s.task = &quick;
	ck_assert_int_ge(bfs_runner_start(rn, &s), 0);
	ck_assert_int_ge(bfs_runner_start(rn, &s), 0);
	s.task = &slow;
	s.timeout_ms = 1500;
	ck_assert_int_ge(bfs_runner_start(rn, &s), 0);
	usleep(1000000);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, -1), 0);
	ck_assert(bfs_proc_ok(r));
	bfs_proc_result_free(r);
	usleep(1000000);
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 0), 0);
	ck_assert(bfs_proc_ok(r));
	bfs_proc_result_free(r);
	ck_assert_msg(gone(pidfile), "the overdue process was not signalled");
	ck_assert_int_eq(bfs_runner_wait(&r, rn, 5000), 0);
	ck_assert(r->timed_out);
	bfs_proc_result_free(r);
	bfs_runner_free(rn);
}
END_TEST

/* Out of reach of the runner's signals: it moves into the test's process
 * group (again and again, in case the parent's setpgid() comes late),
 * ignores SIGTERM, and ends on its own after 4 s. */
static int escapes(double *score, const struct bfs_task_info *info, void *arg)
{
	pid_t group = *(pid_t *)arg;

	signal(SIGTERM, SIG_IGN);
	for (int i = 0; i < 200; i++) {
		setpgid(0, group);
		usleep(20000);
	}
	return 0;
}

/* The state letter of process pid in /proc, or 0 when it is gone. */
static char proc_state(int pid)
{
	char path[64], *st, *p, c = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	st = bfs_read_file(path);
	p = st ? strrchr(st, ')') : NULL;
	if (p && p[1] == ' ')
		c = p[2];
	free(st);
	return c;
}

START_TEST(a_lost_process_is_reaped_later)
{
	pid_t group = getpgrp();
	struct bfs_task t = BFS_TASK_FN(escapes, &group), quick = BFS_TASK_SHELL("true");
	struct bfs_runner_opts o = BFS_RUNNER_OPTS_INIT;
	struct bfs_start s = BFS_START_INIT;
	struct bfs_proc_result *r;
	int pid;

	/* SIGTERM at 1 s, SIGKILL at 2 s, given up at 3 s (slow under
	 * valgrind, the child must have escaped before). */
	o.grace_ms = 1000;
	s.task = &t;
	s.dir = dir;
	s.timeout_ms = 1000;
	ck_assert_int_eq(bfs_run(&r, &s, &o), 0);
	pid = r->pid;
	ck_assert(r->timed_out);
	ck_assert_int_eq(r->exit_code, -1);
	bfs_proc_result_free(r);
	ck_assert_msg(proc_state(pid) != 0 && proc_state(pid) != 'Z', "it did not survive");
	/* It ends on its own: a zombie, until the next runner reaps it. */
	for (int i = 0; i < 1000 && proc_state(pid) != 'Z'; i++)
		usleep(10000);
	ck_assert_int_eq(proc_state(pid), 'Z');
	s.task = &quick;
	s.timeout_ms = 0;
	ck_assert_int_eq(bfs_run(&r, &s, &o), 0);
	bfs_proc_result_free(r);
	ck_assert_msg(proc_state(pid) == 0, "the lost process is still a zombie");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("runner");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, shell_output_and_status);
	tcase_add_test(tc, argv_args_and_environment);
	tcase_add_test(tc, c_task_runs_in_a_child);
	tcase_add_test(tc, crashing_c_task);
	tcase_add_test(tc, score_on_fd_3);
	tcase_add_test(tc, megabytes_on_both_streams);
	tcase_add_test(tc, output_limit_keeps_the_tail);
	tcase_add_test(tc, timeout_kills_the_whole_group);
	tcase_add_test(tc, sigkill_after_the_grace_period);
	tcase_add_test(tc, leftovers_in_the_group_are_killed);
	tcase_add_test(tc, start_failures_are_reported);
	tcase_add_test(tc, parallel_and_in_completion_order);
	tcase_add_test(tc, kill_on_request);
	tcase_add_test(tc, caught_signal_interrupts_the_wait);
	tcase_add_test(tc, ignored_signals_stay_ignored);
	tcase_add_test(tc, deadlines_are_enforced_before_results_are_handed_back);
	tcase_add_test(tc, a_lost_process_is_reaped_later);
	suite_add_tcase(s, tc);
	return bfs_check_main(s);
}
