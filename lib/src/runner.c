/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process runner: a table of running processes, each with its pipes
 * (stdout, stderr, score, start report) and a pidfd, one poll() loop over
 * all of them, and timeouts enforced on the whole process group.
 *
 * Life of a process: started (fork, own process group); its pipes are read
 * whenever poll() says so, so it never blocks on a full pipe; at its
 * deadline its group is signalled (proc.c); when it exited, it is reaped
 * and bfs_runner_wait() hands it back.  Without pidfd_open() (old kernels)
 * exits are looked for every POLL_FALLBACK_MS.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#define DEFAULT_GRACE_MS 2000
#define SCORE_LIMIT	 4096
#define POLL_FALLBACK_MS 50

struct bfs_runner {
	struct bfs_runner_opts o;
	struct proc **p;
	size_t n, cap;
	int next_id;
	int wake_fd; /* signal pipe, -1 when not catching */
	bool signal_reported;
};

bool bfs_proc_ok(const struct bfs_proc_result *r)
{
	return r && !r->error && r->exit_code == 0 && !r->timed_out && !r->killed;
}

void bfs_proc_result_free(struct bfs_proc_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	free(r);
}

int bfs_runner_new(struct bfs_runner **out, const struct bfs_runner_opts *opts)
{
	struct bfs_runner *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	if (opts)
		r->o = *opts;
	if (!r->o.grace_ms)
		r->o.grace_ms = DEFAULT_GRACE_MS;
	r->wake_fd = -1;
	if (r->o.flags & BFS_RUNNER_CATCH_SIGNALS) {
		ret = bfs__sig_catch(&r->wake_fd);
		if (ret) {
			free(r);
			return ret;
		}
	}
	*out = r;
	return 0;
}

static void remove_at(struct bfs_runner *r, size_t i)
{
	bfs__proc_free(r->p[i]);
	memmove(&r->p[i], &r->p[i + 1], (r->n - i - 1) * sizeof(r->p[0]));
	r->n--;
}

void bfs_runner_free(struct bfs_runner *r)
{
	struct bfs_proc_result *res;

	if (!r)
		return;
	bfs_runner_kill_all(r);
	while (r->n) {
		int ret = bfs_runner_wait(&res, r, -1);

		if (ret == 0)
			bfs_proc_result_free(res);
		else if (ret != -EINTR)
			break;
	}
	while (r->n)
		remove_at(r, r->n - 1);
	free(r->p);
	if (r->wake_fd >= 0)
		bfs__sig_release();
	bfs__reap_lost();
	free(r);
}

/* The read end of pipe i of p, with its write end in *child (or -1). */
static int open_pipe(struct proc *p, int i, int *child)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	p->fd[i] = fds[0];
	*child = fds[1];
	return 0;
}

static int check_task(const struct bfs_task *t)
{
	int kinds = !!t->fn + !!t->argv + !!t->shell;

	if (kinds != 1 || (t->argv && !t->argv[0]))
		return -EINVAL;
	return 0;
}

/* The pipes of p and the child's ends of them. */
static int open_pipes(struct proc *p, struct bfs__child *c, const struct bfs_start *s)
{
	bool capture = !(s->flags & BFS_START_INHERIT_OUTPUT);
	int ret = 0;

	if (capture && !(ret = open_pipe(p, P_OUT, &c->fd_out)))
		ret = open_pipe(p, P_ERR, &c->fd_err);
	if (!ret && (s->task->fn || (s->flags & BFS_START_SCORE_FD)))
		ret = open_pipe(p, P_SCORE, &c->fd_score);
	if (!ret)
		ret = open_pipe(p, P_REPORT, &c->fd_report);
	return ret;
}

static void close_child_ends(struct bfs__child *c)
{
	int *fds[] = { &c->fd_out, &c->fd_err, &c->fd_score, &c->fd_report };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* In the child: drop the other processes' descriptors (a C task does not
 * exec, so close-on-exec does not help). */
static void close_siblings(struct bfs_runner *r)
{
	for (size_t i = 0; i < r->n; i++) {
		for (int j = 0; j < NPIPES; j++)
			if (r->p[i]->fd[j] >= 0)
				close(r->p[i]->fd[j]);
		if (r->p[i]->pidfd >= 0)
			close(r->p[i]->pidfd);
	}
}

static int table_add(struct bfs_runner *r, struct proc *p)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		struct proc **v = realloc(r->p, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->p = v;
		r->cap = cap;
	}
	r->p[r->n++] = p;
	return 0;
}

static struct proc *proc_new(struct bfs_runner *r, const struct bfs_start *s)
{
	struct proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pidfd = -1;
	for (int i = 0; i < NPIPES; i++) {
		p->fd[i] = -1;
		p->buf[i].limit = i == P_SCORE	  ? SCORE_LIMIT
				  : i == P_REPORT ? 0
						  : r->o.output_limit;
	}
	p->data = s->data;
	p->deadline = p->kill_at = INT64_MAX;
	p->foreground = (s->flags & BFS_START_FOREGROUND) && isatty(0) && tcgetpgrp(0) == getpgrp();
	return p;
}

/* fork(); the parent's half of the process group and terminal handover. */
static int fork_child(struct bfs_runner *r, struct proc *p, struct bfs__child *c)
{
	sigset_t all, saved;
	pid_t pid;
	int err;

	fflush(NULL); /* or buffered output would be written twice */
	/* No handler of ours (or of the program) may run in the child before
	 * it has reset them: it would act on the parent's behalf. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	pid = fork();
	err = pid < 0 ? -errno : 0;
	if (pid == 0) {
		close_siblings(r);
		bfs__child_run(c);
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (err)
		return err;
	setpgid(pid, pid); /* both sides set it: no race with killpg() */
	if (p->foreground)
		tcsetpgrp(0, pid);
	p->pid = pid;
	p->started = bfs__now_ms();
	p->pidfd = pidfd_open(pid, 0);
	return 0;
}

int bfs_runner_start(struct bfs_runner *r, const struct bfs_start *s)
{
	struct bfs__child c = { .fd_out = -1, .fd_err = -1, .fd_score = -1, .fd_report = -1 };
	char **argv = NULL, **envp = NULL;
	struct proc *p;
	int ret;

	if (!s || !s->task || check_task(s->task))
		return -EINVAL;
	p = proc_new(r, s);
	if (!p)
		return -ENOMEM;
	c.task = s->task;
	c.info = &s->info;
	c.dir = s->dir ? s->dir : s->info.path;
	c.env = s->env;
	c.inherit_stdin = s->flags & BFS_START_INHERIT_STDIN;
	c.foreground = p->foreground;
	c.out_to_err = (s->flags & BFS_START_INHERIT_OUTPUT) && (s->flags & BFS_START_OUT_TO_ERR);
	ret = open_pipes(p, &c, s);
	if (!ret && !s->task->fn && !(ret = bfs__child_argv(&argv, s->task, s->args)))
		ret = bfs__child_environ(&envp, &s->info, s->env);
	c.argv = argv;
	c.envp = envp;
	if (!ret)
		ret = table_add(r, p);
	if (!ret && (ret = fork_child(r, p, &c)))
		r->n--;
	close_child_ends(&c);
	free(argv);
	bfs__strv_free(envp);
	if (ret) {
		bfs__proc_free(p);
		return ret;
	}
	if (s->timeout_ms)
		p->deadline = p->started + s->timeout_ms;
	p->id = r->next_id++;
	if (r->next_id == INT_MAX)
		r->next_id = 0;
	return p->id;
}

static struct proc *find(struct bfs_runner *r, int id, size_t *at)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->p[i]->id == id) {
			if (at)
				*at = i;
			return r->p[i];
		}
	return NULL;
}

int bfs_runner_kill(struct bfs_runner *r, int id)
{
	struct proc *p = find(r, id, NULL);

	if (!p)
		return -ENOENT;
	bfs__proc_terminate(p, r->o.grace_ms);
	return 0;
}

void bfs_runner_kill_all(struct bfs_runner *r)
{
	for (size_t i = 0; i < r->n; i++)
		bfs__proc_terminate(r->p[i], r->o.grace_ms);
}

unsigned int bfs_runner_count(const struct bfs_runner *r)
{
	return (unsigned int)r->n;
}

int bfs_runner_signal(const struct bfs_runner *r)
{
	return r->wake_fd >= 0 ? bfs__sig_caught() : 0;
}

/* One poll() over every pipe and pidfd, for at most timeout_ms. */
static int poll_once(struct bfs_runner *r, int timeout_ms)
{
	struct pollfd *pfd = calloc(r->n * (NPIPES + 1) + 1, sizeof(*pfd));
	size_t k = 0;
	int ret;

	if (!pfd)
		return -ENOMEM;
	if (r->wake_fd >= 0 && !r->signal_reported)
		pfd[k++] = (struct pollfd){ .fd = r->wake_fd, .events = POLLIN };
	for (size_t i = 0; i < r->n; i++) {
		struct proc *p = r->p[i];

		for (int j = 0; j < NPIPES; j++)
			pfd[k++] = (struct pollfd){ .fd = p->fd[j], .events = POLLIN };
		pfd[k++] = (struct pollfd){ .fd = p->exited ? -1 : p->pidfd, .events = POLLIN };
		if (p->pidfd < 0)
			timeout_ms = timeout_ms < 0 || timeout_ms > POLL_FALLBACK_MS
					     ? POLL_FALLBACK_MS
					     : timeout_ms;
	}
	ret = poll(pfd, k, timeout_ms);
	if (ret < 0) {
		ret = errno == EINTR ? 0 : -errno;
		goto out_free;
	}
	k = r->wake_fd >= 0 && !r->signal_reported;
	for (size_t i = 0; i < r->n; i++, k++) {
		struct proc *p = r->p[i];

		for (int j = 0; j < NPIPES; j++, k++)
			if (pfd[k].revents && !bfs__pipe_read(p->fd[j], &p->buf[j]))
				bfs__pipe_close(p, j);
		bfs__proc_check(p, pfd[k].revents != 0);
	}
	ret = 0;
out_free:
	free(pfd);
	return ret;
}

/* Hand back the first exited process (id: that one only), if any. */
static int take_exited(struct bfs_proc_result **out, struct bfs_runner *r, int id)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!r->p[i]->exited || (id >= 0 && r->p[i]->id != id))
			continue;
		*out = bfs__proc_result(r->p[i]);
		remove_at(r, i);
		return *out ? 0 : -ENOMEM;
	}
	return -EAGAIN;
}

/*
 * Every pass enforces the deadlines of all processes before anything is
 * handed back: a caller that spent a while between two waits (a callback)
 * gets its overdue processes signalled at once, not after it has taken all
 * those that finished meanwhile.  Waiting for one id keeps draining and
 * policing the others; those that exit stay in the table for a later wait.
 */
int bfs__runner_wait_for(struct bfs_proc_result **out, struct bfs_runner *r, int id, int timeout_ms)
{
	int64_t until = timeout_ms < 0 ? INT64_MAX : bfs__now_ms() + timeout_ms;

	for (;;) {
		int64_t now, next = INT64_MAX;
		int ret;

		if (r->wake_fd >= 0 && !r->signal_reported && bfs__sig_caught()) {
			r->signal_reported = true;
			return -EINTR;
		}
		bfs__reap_lost();
		now = bfs__now_ms();
		for (size_t i = 0; i < r->n; i++) {
			int64_t due = bfs__proc_enforce(r->p[i], now, r->o.grace_ms);

			next = due < next ? due : next;
		}
		ret = take_exited(out, r, id);
		if (ret != -EAGAIN)
			return ret;
		if (!r->n || (id >= 0 && !find(r, id, NULL)))
			return -ECHILD;
		if (now >= until)
			return -ETIMEDOUT;
		if (until < next)
			next = until;
		ret = poll_once(r, next == INT64_MAX
					   ? -1
					   : (int)(next - now > INT_MAX ? INT_MAX : next - now));
		if (ret)
			return ret;
	}
}

int bfs_runner_wait(struct bfs_proc_result **out, struct bfs_runner *r, int timeout_ms)
{
	return bfs__runner_wait_for(out, r, -1, timeout_ms);
}

int bfs_run(struct bfs_proc_result **out, const struct bfs_start *s,
	    const struct bfs_runner_opts *opts)
{
	struct bfs_runner *r;
	int ret = bfs_runner_new(&r, opts), id;

	if (ret)
		return ret;
	id = bfs_runner_start(r, s);
	if (id < 0) {
		bfs_runner_free(r);
		return id;
	}
	ret = bfs_runner_wait(out, r, -1);
	if (ret == -EINTR) {
		bfs_runner_kill_all(r);
		if (bfs_runner_wait(out, r, -1) == 0)
			(*out)->killed = true;
		else
			*out = NULL;
		ret = -EINTR;
	}
	bfs_runner_free(r);
	return ret;
}
