/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process runner: a table of running processes, each with its pipes
 * (stdout, stderr, score, start report) and a pidfd, one poll() loop over
 * all of them, and timeouts enforced on the whole process group.
 *
 * Life of a process: started (fork, own process group); its pipes are read
 * whenever poll() says so, so it never blocks on a full pipe; at its
 * deadline its group gets SIGTERM (and SIGCONT, in case it is stopped), and
 * SIGKILL grace_ms later; when its pidfd says it exited, the rest of its
 * group gets SIGKILL, it is reaped, its pipes are drained without blocking,
 * and bfs_runner_wait() hands it back.  A process that SIGKILL cannot end
 * within another grace period is given up (reported, left unreaped) so that
 * no wait is unbounded.  Without pidfd_open() (old kernels) exits are found
 * with waitpid(WNOHANG) every POLL_FALLBACK_MS.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_GRACE_MS 2000
#define SCORE_LIMIT	 4096
#define READ_CHUNK	 65536
#define POLL_FALLBACK_MS 50

/* What a pipe delivered; with a limit, only its last `limit` bytes. */
struct outbuf {
	char *data;
	size_t len, cap, limit;
	uint64_t total;
};

enum { P_OUT, P_ERR, P_SCORE, P_REPORT, NPIPES };

struct proc {
	int id;
	pid_t pid;
	int pidfd;	/* -1: fall back to waitpid(WNOHANG) */
	int fd[NPIPES]; /* read ends, -1 when closed */
	struct outbuf buf[NPIPES];
	int64_t started, ended, deadline, kill_at; /* INT64_MAX: none */
	int stage;				   /* from the start report */
	int report_err;
	int status; /* wait status once exited */
	bool exited, lost, termed, hard_killed, timed_out, killed, foreground;
	void *data;
};

struct bfs_runner {
	struct bfs_runner_opts o;
	struct proc **p;
	size_t n, cap;
	int next_id;
	int wake_fd; /* signal pipe, -1 when not catching */
	bool signal_reported;
};

static void outbuf_append(struct outbuf *b, const char *s, size_t n)
{
	size_t need;

	b->total += n;
	if (b->limit && n >= b->limit) {
		s += n - b->limit;
		n = b->limit;
		b->len = 0;
	} else if (b->limit && b->len + n > b->limit) {
		size_t drop = b->len + n - b->limit;

		memmove(b->data, b->data + drop, b->len - drop);
		b->len -= drop;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < need)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return; /* keep what we have: output is best effort */
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Read what fd has now.  false at EOF or error (close it). */
static bool pipe_read(int fd, struct outbuf *b)
{
	char chunk[READ_CHUNK];

	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			outbuf_append(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return true;
}

static void pipe_close(struct proc *p, int which)
{
	if (p->fd[which] >= 0)
		close(p->fd[which]);
	p->fd[which] = -1;
}

static void proc_free(struct proc *p)
{
	if (!p)
		return;
	for (int i = 0; i < NPIPES; i++) {
		pipe_close(p, i);
		free(p->buf[i].data);
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static void signal_group(struct proc *p, int sig)
{
	if (!p->exited)
		killpg(p->pid, sig);
}

/* Has p's first process exited already (a zombie we have not seen yet)? */
static bool already_exited(const struct proc *p)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == p->pid;
}

/* SIGTERM now, SIGKILL after the grace period.  A process that already
 * ended on its own is left to be reported as it ended. */
static void terminate(struct bfs_runner *r, struct proc *p)
{
	if (p->termed || p->exited || already_exited(p))
		return;
	p->termed = true;
	signal_group(p, SIGTERM);
	signal_group(p, SIGCONT);
	p->kill_at = bfs__now_ms() + r->o.grace_ms;
}

/* Give the terminal back to our own process group after a foreground job. */
static void reclaim_terminal(void)
{
	sigset_t ttou, saved;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &saved);
	tcsetpgrp(0, getpgrp());
	sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* p's first process exited (or is given up): kill what it left in its
 * group, reap it, take what its pipes still hold. */
static void proc_exited(struct proc *p, int status, bool reaped)
{
	int64_t now = bfs__now_ms();

	/* Still a zombie (unless reaped): its pid cannot have been reused. */
	killpg(p->pid, SIGKILL);
	if (!reaped && !p->lost)
		waitpid(p->pid, &status, 0); /* a zombie: does not block */
	p->status = status;
	p->exited = true;
	for (int i = 0; i < NPIPES; i++)
		if (p->fd[i] >= 0) {
			pipe_read(p->fd[i], &p->buf[i]);
			pipe_close(p, i);
		}
	if (p->foreground)
		reclaim_terminal();
	p->ended = now;
}

/* Has p exited?  (pidfd readable, or waitpid without pidfd) */
static void proc_check(struct proc *p, bool pidfd_ready)
{
	int status = 0;

	if (p->exited)
		return;
	if (p->pidfd >= 0) {
		if (pidfd_ready)
			proc_exited(p, 0, false);
		return;
	}
	if (waitpid(p->pid, &status, WNOHANG) == p->pid)
		proc_exited(p, status, true);
}

/* Deadlines: SIGTERM at the timeout, SIGKILL after grace, give up after
 * another grace.  Returns the next instant something is due. */
static int64_t enforce(struct bfs_runner *r, int64_t now)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < r->n; i++) {
		struct proc *p = r->p[i];

		if (p->exited)
			continue;
		if (!p->termed && now >= p->deadline) {
			p->timed_out = true;
			terminate(r, p);
		}
		if (p->termed && !p->hard_killed && now >= p->kill_at) {
			p->hard_killed = true;
			signal_group(p, SIGKILL);
			p->kill_at = now + r->o.grace_ms;
		} else if (p->hard_killed && now >= p->kill_at) {
			p->lost = true;
			proc_exited(p, W_EXITCODE(0, SIGKILL), true);
			continue;
		}
		if (!p->termed && p->deadline < next)
			next = p->deadline;
		if (p->termed && p->kill_at < next)
			next = p->kill_at;
	}
	return next;
}

static struct bfs_proc_result *make_result(struct proc *p)
{
	struct bfs_proc_result *res = calloc(1, sizeof(*res));
	const char *empty = "";

	if (!res)
		return NULL;
	res->id = p->id;
	res->data = p->data;
	res->pid = p->pid;
	res->exit_code = WIFEXITED(p->status) && !p->lost ? WEXITSTATUS(p->status) : -1;
	res->signal = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
	res->timed_out = p->timed_out;
	res->killed = p->termed && !p->timed_out;
	res->elapsed_ms = p->ended - p->started;
	if (p->buf[P_REPORT].len >= sizeof(struct bfs__report)) {
		struct bfs__report rep;

		memcpy(&rep, p->buf[P_REPORT].data, sizeof(rep));
		res->error = -rep.err;
		res->error_what = rep.stage == BFS__STAGE_CHDIR	 ? "chdir"
				  : rep.stage == BFS__STAGE_EXEC ? "exec"
								 : "setup";
	}
	if (p->buf[P_SCORE].len) {
		char *s = p->buf[P_SCORE].data, *end, *word = NULL;

		/* The last word written counts. */
		for (char *t = strtok_r(s, " \t\r\n", &end); t; t = strtok_r(NULL, " \t\r\n", &end))
			word = t;
		if (word) {
			errno = 0;
			res->score = strtod(word, &end);
			res->has_score = !errno && !*end && isfinite(res->score);
		}
	}
	res->out = p->buf[P_OUT].data ? p->buf[P_OUT].data : strdup(empty);
	res->err = p->buf[P_ERR].data ? p->buf[P_ERR].data : strdup(empty);
	p->buf[P_OUT].data = p->buf[P_ERR].data = NULL;
	res->out_len = p->buf[P_OUT].len;
	res->err_len = p->buf[P_ERR].len;
	res->out_total = p->buf[P_OUT].total;
	res->err_total = p->buf[P_ERR].total;
	if (!res->out || !res->err) {
		bfs_proc_result_free(res);
		return NULL;
	}
	return res;
}

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
	proc_free(r->p[i]);
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
		proc_free(p);
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
	terminate(r, p);
	return 0;
}

void bfs_runner_kill_all(struct bfs_runner *r)
{
	for (size_t i = 0; i < r->n; i++)
		terminate(r, r->p[i]);
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
			if (pfd[k].revents && !pipe_read(p->fd[j], &p->buf[j]))
				pipe_close(p, j);
		proc_check(p, pfd[k].revents != 0);
	}
	ret = 0;
out_free:
	free(pfd);
	return ret;
}

/* Hand back the first exited process, if any. */
static int take_exited(struct bfs_proc_result **out, struct bfs_runner *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!r->p[i]->exited)
			continue;
		*out = make_result(r->p[i]);
		remove_at(r, i);
		return *out ? 0 : -ENOMEM;
	}
	return -EAGAIN;
}

int bfs_runner_wait(struct bfs_proc_result **out, struct bfs_runner *r, int timeout_ms)
{
	int64_t until = timeout_ms < 0 ? INT64_MAX : bfs__now_ms() + timeout_ms;

	for (;;) {
		int64_t now, next;
		int ret;

		if (r->wake_fd >= 0 && !r->signal_reported && bfs__sig_caught()) {
			r->signal_reported = true;
			return -EINTR;
		}
		ret = take_exited(out, r);
		if (ret != -EAGAIN)
			return ret;
		if (!r->n)
			return -ECHILD;
		now = bfs__now_ms();
		next = enforce(r, now);
		if (take_exited(out, r) == 0)
			return 0;
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
