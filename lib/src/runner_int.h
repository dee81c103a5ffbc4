/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the process runner shared by its source files: catching
 * signals (sigcatch.c), the child side of a start (spawn.c) and the
 * monotonic clock.  Nothing here is public.
 */
#ifndef BFS_RUNNER_INT_H
#define BFS_RUNNER_INT_H

#include <branchfs/runner.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* sigcatch.c: SIGINT, SIGTERM and SIGHUP, caught for as long as anyone
 * wants them (a count, under a mutex).  The handler records the first signal
 * and writes a byte to a pipe whose read end wakes poll(). */

/* Start (or keep) catching; *wake_fd gets the pipe's read end. */
int bfs__sig_catch(int *wake_fd);
/* Stop: the previous handlers come back with the last release. */
void bfs__sig_release(void);
/* The first signal caught since catching started, or 0. */
int bfs__sig_caught(void);

/* spawn.c: what a child does between fork() and exec() or the C task.  The
 * parent blocks every signal around fork(); the child resets the handlers
 * and unblocks. */
struct bfs__child {
	const struct bfs_task *task;
	const struct bfs_task_info *info;
	const char *dir;	/* chdir here first, NULL: stay */
	char *const *argv;	/* commands: the vector for execvp() */
	char *const *envp;	/* commands: the whole environment */
	const char *const *env; /* C tasks: NAME=VALUE to put in the environment */
	int fd_out, fd_err;	/* become 1 and 2; -1: keep */
	int fd_score;		/* becomes 3 for commands; C tasks write their score here */
	int fd_report;		/* close-on-exec pipe: a failure before exec is written here */
	bool inherit_stdin;	/* else stdin is /dev/null */
	bool foreground;	/* take the terminal on stdin */
	bool out_to_err;	/* stdout is the parent's stderr */
};

/* What a child writes to fd_report when it cannot start. */
struct bfs__report {
	int stage; /* BFS__STAGE_* */
	int err;   /* errno */
};

enum { BFS__STAGE_SETUP = 1, BFS__STAGE_CHDIR, BFS__STAGE_EXEC };

/* Never returns. */
__attribute__((noreturn)) void bfs__child_run(const struct bfs__child *c);

/* The environment of a command: environ, BRANCHING_* from info, then env
 * (later entries override earlier ones of the same name).  malloc'd vector
 * and strings, freed with bfs__strv_free(). */
int bfs__child_environ(char ***out, const struct bfs_task_info *info, const char *const *env);
/* The argv of a command: task->argv or /bin/sh -c task->shell sh, then
 * args.  malloc'd vector (the strings are borrowed), freed with free(). */
int bfs__child_argv(char ***out, const struct bfs_task *task, const char *const *args);
void bfs__strv_free(char **v);

/* proc.c: one process the runner watches (see there). */
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
	int status;				   /* wait status once exited */
	bool exited, lost, termed, hard_killed, timed_out, foreground;
	void *data;
};

/* Read what fd has now into b; false at EOF or error (close it then). */
bool bfs__pipe_read(int fd, struct outbuf *b);
void bfs__pipe_close(struct proc *p, int which);
void bfs__proc_free(struct proc *p);
/* SIGTERM (and SIGCONT) to p's group now, SIGKILL grace_ms later; nothing
 * when it already ended on its own. */
void bfs__proc_terminate(struct proc *p, unsigned int grace_ms);
/* Look whether p exited (pidfd_ready: poll() said its pidfd is readable);
 * if so kill its group's leftovers, reap it, drain its pipes. */
void bfs__proc_check(struct proc *p, bool pidfd_ready);
/* Apply p's deadlines at now; the next instant one is due (INT64_MAX). */
int64_t bfs__proc_enforce(struct proc *p, int64_t now, unsigned int grace_ms);
/* The result of the exited p (takes its output buffers), or NULL. */
struct bfs_proc_result *bfs__proc_result(struct proc *p);

/* Processes given up as lost (alive after SIGKILL and another grace
 * period) are remembered process-wide and reaped, without blocking, by
 * every later wait and runner free: no zombie stays for good. */
void bfs__reap_lost(void);

/* runner.c: bfs_runner_wait() for process id only (any when id < 0); the
 * others are drained and their deadlines enforced meanwhile, and those
 * that exit stay for a later wait.  -ECHILD when id does not run. */
int bfs__runner_wait_for(struct bfs_proc_result **out, struct bfs_runner *r, int id,
			 int timeout_ms);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t bfs__now_ms(void);

#endif
