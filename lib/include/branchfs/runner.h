/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbranchfs process runner: run tasks (a C function, an argv vector or a
 * shell command line) as child processes, several at once, each in its own
 * process group with its own working directory, and collect what they print
 * and the score they report while they run.
 *
 * The model is git's run-command: start processes, then wait for the next
 * one to finish.  The runner polls every pipe of every process, so a child
 * that writes megabytes never blocks on a full pipe, and it enforces each
 * process's timeout by killing its whole process group (SIGTERM, then
 * SIGKILL after a grace period) and reaping it.  When the first process of a
 * task exits, whatever it left running in its process group is killed too.
 *
 * The patterns (<branchfs/patterns.h>) are built on this API; agents that
 * write their own loops can use it directly.  A runner is used by one thread
 * at a time.  Conventions are those of <branchfs/branchfs.h>: 0 or a
 * negative errno, out parameters first, ownership stated per function.
 */
#ifndef BRANCHFS_RUNNER_H
#define BRANCHFS_RUNNER_H

#include <branchfs/branchfs.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What a task is told about its run.  The runner exports it to commands as
 * environment variables: BRANCHING_ATTEMPT=index, BRANCHING_LEVEL=level,
 * BRANCHING_BRANCH=branch (when not NULL) and BRANCHING_FEEDBACK=feedback
 * (when not NULL).
 */
struct bfs_task_info {
	unsigned int index;   /* candidate number, 0-based */
	unsigned int level;   /* tree/beam depth, cascade wave, reflexion attempt */
	const char *branch;   /* the candidate's branch, or NULL */
	const char *path;     /* the branch directory (the working directory), or NULL */
	const char *feedback; /* reflexion critique / cascade errors, or NULL */
};

/*
 * A C task.  It runs in the child process (after fork, in the task's
 * working directory, in its own process group, stdout and stderr on the
 * runner's pipes) and returns the child's exit status: 0 is success,
 * anything else failure (only the low 8 bits survive).  It may store a score
 * in *score (it starts as NaN, "no score").  Memory it changes is the
 * child's own; the parent sees only its output, exit status and score.
 */
typedef int (*bfs_task_fn)(double *score, const struct bfs_task_info *info, void *arg);

/*
 * What to run: exactly one of fn, argv and shell.
 *   fn:    a C function, called in the child with arg;
 *   argv:  a NULL-terminated vector run with execvp() (PATH is searched);
 *   shell: a command line run as /bin/sh -c SHELL.
 * A command may report a score by writing a number to file descriptor 3
 * (when the start asks for BFS_START_SCORE_FD): the last number written
 * counts.  The task is not copied: it must stay valid while it is used.
 */
struct bfs_task {
	bfs_task_fn fn;
	void *arg;
	const char *const *argv;
	const char *shell;
};

#define BFS_TASK_FN(f, a)            \
	{                            \
		(f), (a), NULL, NULL \
	}
#define BFS_TASK_ARGV(v)              \
	{                             \
		NULL, NULL, (v), NULL \
	}
#define BFS_TASK_SHELL(s)             \
	{                             \
		NULL, NULL, NULL, (s) \
	}

/* Flags of struct bfs_start. */
#define BFS_START_SCORE_FD	 0x01u /* commands get a score pipe on fd 3 */
#define BFS_START_INHERIT_STDIN	 0x02u /* keep the parent's stdin (default: /dev/null) */
#define BFS_START_INHERIT_OUTPUT 0x04u /* stdout and stderr are the parent's, not captured */
#define BFS_START_OUT_TO_ERR	 0x08u /* with INHERIT_OUTPUT: stdout goes to the parent's stderr */
#define BFS_START_FOREGROUND	 0x10u /* stdin is a terminal: make the task its foreground job */

/* One process to start; initialise with BFS_START_INIT. */
struct bfs_start {
	unsigned int version; /* BFS_START_VERSION */
	const struct bfs_task *task;
	struct bfs_task_info info; /* what the task is told */
	const char *dir;	   /* working directory; NULL: info.path, else unchanged */
	const char *const *args;   /* NULL-terminated: appended to argv, or $1... of shell */
	const char *const *env;	   /* NULL-terminated NAME=VALUE entries added to the environment */
	unsigned int timeout_ms;   /* kill it after this long; 0: never */
	unsigned int flags;	   /* BFS_START_* */
	void *data;		   /* the caller's, given back in the result */
};

#define BFS_START_VERSION 1
#define BFS_START_INIT                       \
	{                                    \
		.version = BFS_START_VERSION \
	}

/*
 * A finished process.  out and err hold what it wrote to stdout and stderr
 * (NUL-terminated; only the last output_limit bytes of each when the runner
 * has a limit, in which case *_total says how much was written in all).
 */
struct bfs_proc_result {
	int id;			/* what bfs_runner_start() returned */
	void *data;		/* struct bfs_start.data */
	int pid;		/* the process (and process group) id */
	int error;		/* 0, or -errno: the task could not be started */
	const char *error_what; /* with error: "chdir", "exec", "setup" (static) */
	int exit_code;		/* 0-255, or -1 when it did not exit normally */
	int signal;		/* the signal that ended it, or 0 */
	bool timed_out;		/* killed because its timeout passed */
	bool killed;		/* killed on request (bfs_runner_kill(), a caught signal) */
	bool has_score;		/* it reported a finite score */
	double score;
	char *out, *err;
	size_t out_len, err_len;
	uint64_t out_total, err_total;
	int64_t elapsed_ms; /* from start to exit */
	int64_t timeout_ms; /* the time limit it was given, 0 for none */
};

/* Did the task succeed: started, exited 0, not timed out or killed? */
BFS_API bool bfs_proc_ok(const struct bfs_proc_result *r);

/* Free a result.  NULL is fine. */
BFS_API void bfs_proc_result_free(struct bfs_proc_result *r);

/* A set of running processes (opaque). */
struct bfs_runner;

/* Flags of struct bfs_runner_opts. */
#define BFS_RUNNER_CATCH_SIGNALS 0x01u /* see bfs_runner_new() */

/* Options of bfs_runner_new(); initialise with BFS_RUNNER_OPTS_INIT. */
struct bfs_runner_opts {
	unsigned int version;  /* BFS_RUNNER_OPTS_VERSION */
	unsigned int grace_ms; /* SIGTERM to SIGKILL; 0: 2000 */
	size_t output_limit;   /* bytes kept of each stream (the last ones); 0: all */
	unsigned int flags;    /* BFS_RUNNER_* */
};

#define BFS_RUNNER_OPTS_VERSION 1
#define BFS_RUNNER_OPTS_INIT                       \
	{                                          \
		.version = BFS_RUNNER_OPTS_VERSION \
	}

/*
 * A new runner (opts NULL: defaults).  *out is freed with bfs_runner_free().
 *
 * With BFS_RUNNER_CATCH_SIGNALS, SIGINT, SIGTERM and SIGHUP are caught while
 * the runner exists (signals the process ignored stay ignored): a caught
 * signal makes bfs_runner_wait() return -EINTR once, and
 * bfs_runner_signal() names it.  The caller then kills what runs and cleans
 * up; the previous handlers come back when the last such runner is freed.
 */
BFS_API int bfs_runner_new(struct bfs_runner **out, const struct bfs_runner_opts *opts);

/*
 * Kill every process still running (SIGTERM to its group, SIGKILL after the
 * grace period), reap them and free r.  NULL is fine.
 */
BFS_API void bfs_runner_free(struct bfs_runner *r);

/*
 * Start a process.  Returns its id (>= 0) or a negative errno (-EINVAL for
 * a task that is not exactly one of fn, argv and shell).  A command that
 * cannot be run (no such program, no such working directory) still starts:
 * it finishes at once with error set.  The strings of s need only live
 * during the call.
 */
BFS_API int bfs_runner_start(struct bfs_runner *r, const struct bfs_start *s);

/*
 * Wait until a process finishes and return it in *out (the caller frees it
 * with bfs_proc_result_free()); timeouts of the processes are enforced
 * meanwhile, and on every call before anything is handed back (a caller
 * that was busy between two waits gets its overdue processes signalled at
 * once).  timeout_ms < 0 waits as long as it takes.
 *
 * A process still alive a grace period after its SIGKILL (one that left
 * its process group, or is stuck in the kernel) is handed back as killed
 * by SIGKILL with exit_code -1, so that no wait is unbounded; it is reaped
 * later, without blocking, by the waits and frees of any runner.
 *
 * Errors: -ECHILD when nothing runs, -ETIMEDOUT when timeout_ms passed,
 * -EINTR once after a caught signal (see bfs_runner_new()).
 */
BFS_API int bfs_runner_wait(struct bfs_proc_result **out, struct bfs_runner *r, int timeout_ms);

/*
 * Kill process id (SIGTERM to its group now, SIGKILL after the grace
 * period).  It comes back from bfs_runner_wait() with killed set.  -ENOENT
 * when no such process runs.
 */
BFS_API int bfs_runner_kill(struct bfs_runner *r, int id);

/* Kill every running process, as bfs_runner_kill() does. */
BFS_API void bfs_runner_kill_all(struct bfs_runner *r);

/* Number of processes started and not yet returned by bfs_runner_wait(). */
BFS_API unsigned int bfs_runner_count(const struct bfs_runner *r);

/* The signal caught (BFS_RUNNER_CATCH_SIGNALS), or 0. */
BFS_API int bfs_runner_signal(const struct bfs_runner *r);

/*
 * Run one process to its end: a runner with opts (NULL: defaults), start s,
 * wait for it.  *out gets its result (freed with bfs_proc_result_free()).
 * Errors are those of bfs_runner_start(); -EINTR (a caught signal) comes
 * with *out set, the process killed and reaped.
 */
BFS_API int bfs_run(struct bfs_proc_result **out, const struct bfs_start *s,
		    const struct bfs_runner_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
