/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The child side of a start: its own process group (and the terminal, for a
 * foreground job), default signal handling, its descriptors, its working
 * directory and environment, then exec() of a command or the call of a C
 * task.  Also the argv and environment vectors of commands, built before
 * fork() so that the child allocates nothing before exec().
 *
 * A failure before exec() (or before a C task runs) is written as a struct
 * bfs__report to a close-on-exec pipe; the parent reads it and reports the
 * task as one that could not start.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define HIGH_FD 10 /* where descriptors wait before dup2() onto 0..3 */

extern char **environ;

void bfs__strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static size_t strv_len(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Length of the NAME= part of a NAME=VALUE entry (the whole when no '='). */
static size_t name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) + 1 : strlen(entry);
}

/* Is the name of entry among v[0..n)? */
static bool has_name(char *const *v, size_t n, const char *entry)
{
	size_t len = name_len(entry);

	for (size_t i = 0; i < n; i++)
		if (name_len(v[i]) == len && !strncmp(v[i], entry, len))
			return true;
	return false;
}

/* The BRANCHING_* entries of info, malloc'd into v from *n on. */
static int info_vars(char **v, size_t *n, const struct bfs_task_info *info)
{
	if (asprintf(&v[(*n)++], "BRANCHING_ATTEMPT=%u", info->index) < 0 ||
	    asprintf(&v[(*n)++], "BRANCHING_LEVEL=%u", info->level) < 0)
		goto out_nomem;
	if (info->branch && asprintf(&v[(*n)++], "BRANCHING_BRANCH=%s", info->branch) < 0)
		goto out_nomem;
	if (info->feedback && asprintf(&v[(*n)++], "BRANCHING_FEEDBACK=%s", info->feedback) < 0)
		goto out_nomem;
	return 0;
out_nomem:
	v[--(*n)] = NULL;
	return -ENOMEM;
}

int bfs__child_environ(char ***out, const struct bfs_task_info *info, const char *const *env)
{
	size_t nenv = strv_len(env), nsys = strv_len((const char *const *)environ), n = 0;
	char **v = calloc(nenv + nsys + 5, sizeof(*v)), *tmp[4] = { 0 };
	size_t ntmp = 0;

	if (!v)
		return -ENOMEM;
	/* Later entries win: env over info over environ; keep the winners. */
	for (size_t i = nenv; i-- > 0;)
		if (!has_name(v, n, env[i]) && !(v[n++] = strdup(env[i])))
			goto out_nomem;
	if (info_vars(tmp, &ntmp, info))
		goto out_nomem;
	for (size_t i = 0; i < ntmp; i++) {
		if (has_name(v, n, tmp[i]))
			free(tmp[i]);
		else
			v[n++] = tmp[i];
		tmp[i] = NULL;
	}
	for (size_t i = 0; i < nsys; i++)
		if (!has_name(v, n, environ[i]) && !(v[n++] = strdup(environ[i])))
			goto out_nomem;
	*out = v;
	return 0;
out_nomem:
	for (size_t i = 0; i < ntmp; i++)
		free(tmp[i]);
	bfs__strv_free(v);
	return -ENOMEM;
}

int bfs__child_argv(char ***out, const struct bfs_task *task, const char *const *args)
{
	size_t nargs = strv_len(args), nbase = task->shell ? 4 : strv_len(task->argv), n = 0;
	char **v;

	if (!task->shell && nbase == 0)
		return -EINVAL;
	v = calloc(nbase + nargs + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (task->shell) {
		v[n++] = (char *)"/bin/sh";
		v[n++] = (char *)"-c";
		v[n++] = (char *)task->shell;
		v[n++] = (char *)"sh";
	} else {
		for (size_t i = 0; i < nbase; i++)
			v[n++] = (char *)task->argv[i];
	}
	for (size_t i = 0; i < nargs; i++)
		v[n++] = (char *)args[i];
	*out = v;
	return 0;
}

__attribute__((noreturn)) static void fail(const struct bfs__child *c, int stage, int err)
{
	struct bfs__report rep = { stage, err };

	(void)!write(c->fd_report, &rep, sizeof(rep));
	_exit(stage == BFS__STAGE_EXEC && err != ENOENT ? 126 : 127);
}

/*
 * Every handler back to the default (as exec() would do; a C task must not
 * run the parent's handlers), ignored signals stay ignored except SIGPIPE,
 * then unblock: a signal sent between fork() and here is delivered now.
 */
static void reset_signals(void)
{
	struct sigaction dfl, cur;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &cur) < 0)
			continue;
		if (cur.sa_handler != SIG_DFL && (cur.sa_handler != SIG_IGN || sig == SIGPIPE))
			sigaction(sig, &dfl, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Move fd out of the way of 0..3 (it is about to be dup2()'d there). */
static int lift(int fd)
{
	return fd >= 0 && fd < HIGH_FD ? fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD) : fd;
}

static void setup_fds(const struct bfs__child *c)
{
	int out = lift(c->fd_out), err = lift(c->fd_err), score = lift(c->fd_score), in = -1;

	if (!c->inherit_stdin && !c->foreground) {
		in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in < 0 || (in = lift(in)) < 0 || dup2(in, 0) < 0)
			fail(c, BFS__STAGE_SETUP, errno);
	}
	if ((out >= 0 && dup2(out, 1) < 0) || (err >= 0 && dup2(err, 2) < 0))
		fail(c, BFS__STAGE_SETUP, errno);
	if (c->out_to_err && dup2(2, 1) < 0)
		fail(c, BFS__STAGE_SETUP, errno);
	if (c->task->fn)
		return;
	if (score >= 0 && dup2(score, 3) < 0)
		fail(c, BFS__STAGE_SETUP, errno);
	/* Nothing else of the parent's leaks into a command. */
	close_range(score >= 0 ? 4 : 3, ~0u, CLOSE_RANGE_CLOEXEC);
}

static void take_terminal(void)
{
	sigset_t ttou, saved;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &saved);
	tcsetpgrp(0, getpgrp());
	sigprocmask(SIG_SETMASK, &saved, NULL);
}

static void put_env(const struct bfs__child *c)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", c->info->index);
	setenv("BRANCHING_ATTEMPT", num, 1);
	snprintf(num, sizeof(num), "%u", c->info->level);
	setenv("BRANCHING_LEVEL", num, 1);
	if (c->info->branch)
		setenv("BRANCHING_BRANCH", c->info->branch, 1);
	if (c->info->feedback)
		setenv("BRANCHING_FEEDBACK", c->info->feedback, 1);
	for (const char *const *e = c->env; e && *e; e++)
		putenv((char *)*e);
}

void bfs__child_run(const struct bfs__child *c)
{
	double score = NAN;
	int status;

	setpgid(0, 0);
	if (c->foreground)
		take_terminal();
	reset_signals();
	setup_fds(c);
	if (c->dir && chdir(c->dir) < 0)
		fail(c, BFS__STAGE_CHDIR, errno);
	if (!c->task->fn) {
		execvpe(c->argv[0], c->argv, c->envp);
		fail(c, BFS__STAGE_EXEC, errno);
	}
	put_env(c);
	close(c->fd_report);
	status = c->task->fn(&score, c->info, c->task->arg);
	fflush(NULL);
	if (!isnan(score))
		dprintf(c->fd_score, "%.17g\n", score);
	_exit(status & 0xff);
}
