/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The thread that runs commits.
 *
 * Before a commit applies, it waits on the kernel: the entry invalidations
 * of pending.c wait for requests that hold the directory locks they need.
 * Those requests need a session thread to be answered, so a commit must
 * not hold one while it waits: with as many commits at once as the session
 * has threads (siblings racing to commit), nothing would be left to answer
 * them.  So at most COMMITS_INLINE commit requests (a "commit" written to
 * a control file, or FS_IOC_BRANCH_COMMIT) run in the session threads that
 * received them (32, main.c), which keeps a commit's latency at one thread
 * hop less; more at once are queued and answered from this thread, and
 * their session threads go back to work.  Commits apply one at a time
 * anyway (the tree lock).
 *
 * Locks: the queue's mutex is a leaf.
 */
#include "ll.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct commit_job {
	fuse_req_t req;
	struct bfsd_node *n; /* a control node; the request's open file keeps it */
	size_t written;	     /* bytes to acknowledge; BFSD_COMMIT_IOCTL for an ioctl */
	struct commit_job *next;
};

/* Commits that may wait on the kernel in session threads at once
 * (BRANCHFSD_COMMITS_INLINE sets it, for tests of the queue). */
#define COMMITS_INLINE 8

struct bfsd_commits {
	int inline_max;
	atomic_int inline_n; /* commits running in session threads */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct commit_job *head, **tail;
	bool stop;
	pthread_t thread;
};

static void job_run(struct bfsd_mount *m, struct commit_job *j)
{
	int ret = bfsd_ctl_commit(m, j->n);

	if (ret)
		fuse_reply_err(j->req, -ret);
	else if (j->written == BFSD_COMMIT_IOCTL)
		fuse_reply_ioctl(j->req, 0, NULL, 0);
	else
		fuse_reply_write(j->req, j->written);
	bfsd_store_tidy(m->fs);
}

static void *commits_main(void *arg)
{
	struct bfsd_mount *m = arg;
	struct bfsd_commits *c = m->commits;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct commit_job *j = c->head;

		if (!j) {
			if (c->stop)
				break;
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		c->head = j->next;
		if (!c->head)
			c->tail = &c->head;
		pthread_mutex_unlock(&c->lock);
		job_run(m, j);
		free(j);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int bfsd_commits_start(struct bfsd_mount *m)
{
	struct bfsd_commits *c = calloc(1, sizeof(*c));
	const char *env;
	int ret;

	if (!c)
		return -ENOMEM;
	env = getenv("BRANCHFSD_COMMITS_INLINE");
	c->inline_max = env ? atoi(env) : COMMITS_INLINE;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->tail = &c->head;
	m->commits = c;
	ret = -pthread_create(&c->thread, NULL, commits_main, m);
	if (ret) {
		m->commits = NULL;
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
	return ret;
}

void bfsd_commits_stop(struct bfsd_mount *m)
{
	struct bfsd_commits *c = m->commits;

	if (!c)
		return;
	/* Commits asked for run to their end first. */
	bfsd_thread_stop(&c->lock, &c->cond, &c->stop, c->thread);
	m->commits = NULL;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void bfsd_commits_run(struct bfsd_mount *m, fuse_req_t req, struct bfsd_node *n, size_t written)
{
	struct commit_job job = { .req = req, .n = n, .written = written }, *j;
	struct bfsd_commits *c = m->commits;

	if (!c || atomic_fetch_add(&c->inline_n, 1) < c->inline_max) {
		job_run(m, &job);
		if (c)
			atomic_fetch_sub(&c->inline_n, 1);
		return;
	}
	atomic_fetch_sub(&c->inline_n, 1);
	bfsd_dbg("%d commits running: one more queued for the commit thread", c->inline_max);
	j = malloc(sizeof(*j));
	if (!j) {
		job_run(m, &job);
		return;
	}
	*j = job;
	pthread_mutex_lock(&c->lock);
	*c->tail = j;
	c->tail = &j->next;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}
