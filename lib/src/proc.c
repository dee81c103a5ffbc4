/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One process as the runner watches it: its output buffers (everything, or
 * the last `limit` bytes), reading its pipes, signalling its process group
 * (SIGTERM and SIGCONT at its deadline, SIGKILL after the grace period, give
 * up after another one so that no wait is unbounded), finding that it
 * exited (its pidfd, or waitpid(WNOHANG) without one), killing what it left
 * in its group, reaping it, draining its pipes without blocking, and
 * turning all that into a struct bfs_proc_result.
 *
 * A process given up is not forgotten: it is put on a process-wide list
 * (under lost_lock) and every later wait or runner free tries to reap it
 * without blocking, through its pidfd when it has one (immune to pid
 * reuse), so it does not stay a zombie once it finally dies.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define LOST_MAX   64

struct lost {
	pid_t pid;
	int pidfd; /* -1: wait by pid */
};

static pthread_mutex_t lost_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lost lost[LOST_MAX]; /* protected by lost_lock */
static size_t nlost;		   /* protected by lost_lock */

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
bool bfs__pipe_read(int fd, struct outbuf *b)
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

void bfs__pipe_close(struct proc *p, int which)
{
	if (p->fd[which] >= 0)
		close(p->fd[which]);
	p->fd[which] = -1;
}

void bfs__proc_free(struct proc *p)
{
	if (!p)
		return;
	for (int i = 0; i < NPIPES; i++) {
		bfs__pipe_close(p, i);
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

void bfs__proc_terminate(struct proc *p, unsigned int grace_ms)
{
	if (p->termed || p->exited || already_exited(p))
		return;
	p->termed = true;
	signal_group(p, SIGTERM);
	signal_group(p, SIGCONT);
	p->kill_at = bfs__now_ms() + grace_ms;
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
			bfs__pipe_read(p->fd[i], &p->buf[i]);
			bfs__pipe_close(p, i);
		}
	if (p->foreground)
		reclaim_terminal();
	p->ended = now;
}

void bfs__proc_check(struct proc *p, bool pidfd_ready)
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

/* p is given up: remember it (and take its pidfd) to reap it later.  With
 * the list full it is left to init when this process exits. */
static void remember_lost(struct proc *p)
{
	pthread_mutex_lock(&lost_lock);
	if (nlost < LOST_MAX) {
		lost[nlost++] = (struct lost){ p->pid, p->pidfd };
		p->pidfd = -1;
	}
	pthread_mutex_unlock(&lost_lock);
}

void bfs__reap_lost(void)
{
	pthread_mutex_lock(&lost_lock);
	for (size_t i = 0; i < nlost;) {
		struct lost *l = &lost[i];
		siginfo_t si;
		int ret;

		memset(&si, 0, sizeof(si));
		ret = l->pidfd >= 0 ? waitid(P_PIDFD, (id_t)l->pidfd, &si, WEXITED | WNOHANG)
				    : waitid(P_PID, (id_t)l->pid, &si, WEXITED | WNOHANG);
		if ((ret == 0 && si.si_pid == 0) || (ret < 0 && errno == EINTR)) {
			i++; /* still running */
			continue;
		}
		/* Reaped, or no longer ours to reap (ECHILD). */
		if (l->pidfd >= 0)
			close(l->pidfd);
		*l = lost[--nlost];
	}
	pthread_mutex_unlock(&lost_lock);
}

int64_t bfs__proc_enforce(struct proc *p, int64_t now, unsigned int grace_ms)
{
	if (p->exited)
		return INT64_MAX;
	if (!p->termed && now >= p->deadline) {
		p->timed_out = true;
		bfs__proc_terminate(p, grace_ms);
	}
	if (p->termed && !p->hard_killed && now >= p->kill_at) {
		p->hard_killed = true;
		signal_group(p, SIGKILL);
		p->kill_at = now + grace_ms;
	} else if (p->hard_killed && now >= p->kill_at) {
		p->lost = true;
		remember_lost(p);
		proc_exited(p, W_EXITCODE(0, SIGKILL), true);
		return INT64_MAX;
	}
	return p->termed ? p->kill_at : p->deadline;
}

struct bfs_proc_result *bfs__proc_result(struct proc *p)
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
	res->timeout_ms = p->deadline == INT64_MAX ? 0 : p->deadline - p->started;
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
