/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Catching SIGINT, SIGTERM and SIGHUP while runners that ask for it exist.
 *
 * The handlers are process-wide, so they are counted: the first user
 * installs them, the last one restores what was there before.  A signal the
 * process ignored when catching started stays ignored (a job started with
 * nohup, or in the background of a non-interactive shell, must not start
 * reacting to SIGINT).  The handler only records the first signal and writes
 * a byte to a non-blocking pipe, whose read end every waiting runner polls.
 * The byte is never drained while catching lasts, so every runner sees it.
 *
 * Lock: `lock` protects users, old[], installed[] and the pipe's life; the
 * handler reads only `caught` and wake_w.
 */
#define _GNU_SOURCE
#include "runner_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const int caught_signals[] = { SIGINT, SIGTERM, SIGHUP };

#define NSIGNALS (sizeof(caught_signals) / sizeof(caught_signals[0]))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int users;
static struct sigaction old[NSIGNALS];
static bool installed[NSIGNALS];
static int wake_r = -1;
static volatile int wake_w = -1;
static volatile sig_atomic_t caught;

int64_t bfs__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void handler(int sig)
{
	int saved = errno;

	if (!caught)
		caught = sig;
	if (wake_w >= 0)
		(void)!write(wake_w, "", 1);
	errno = saved;
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSIGNALS; i++) {
		installed[i] = false;
		if (sigaction(caught_signals[i], NULL, &old[i]) < 0 || old[i].sa_handler == SIG_IGN)
			continue;
		installed[i] = sigaction(caught_signals[i], &sa, NULL) == 0;
	}
}

int bfs__sig_catch(int *wake_fd)
{
	int ret = 0, fds[2];

	pthread_mutex_lock(&lock);
	if (users == 0) {
		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
			ret = -errno;
			goto out_unlock;
		}
		wake_r = fds[0];
		wake_w = fds[1];
		caught = 0;
		install();
	}
	users++;
	*wake_fd = wake_r;
out_unlock:
	pthread_mutex_unlock(&lock);
	return ret;
}

void bfs__sig_release(void)
{
	int w;

	pthread_mutex_lock(&lock);
	if (users && --users == 0) {
		for (size_t i = 0; i < NSIGNALS; i++)
			if (installed[i])
				sigaction(caught_signals[i], &old[i], NULL);
		w = wake_w;
		wake_w = -1;
		close(w);
		close(wake_r);
		wake_r = -1;
	}
	pthread_mutex_unlock(&lock);
}

int bfs__sig_caught(void)
{
	return caught;
}
