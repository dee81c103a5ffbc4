/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the pattern layer, shared by its source files and by the
 * unit tests (which run every pattern on a fake backend).  Nothing here is
 * public.
 *
 * A pattern run (struct bfs__run) owns: a backend (the branch operations),
 * a ledger of every branch it created, a runner for its candidates and the
 * outcome it builds.  Patterns create, commit and abort branches only
 * through the ledger, and bfs__run_end() aborts whatever is still live,
 * children before parents, on every path: that is the guarantee that no
 * branch is left behind.  Candidates run through a pool (bfs__pool_run()):
 * it creates their branches, starts them (at most max_parallel at once),
 * records each one's result and hands it to the pattern's `finished`
 * policy, which commits, aborts, scores or stops the rest.
 */
#ifndef BFS_PATTERN_H
#define BFS_PATTERN_H

#include <branchfs/patterns.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Branch operations.  Strings returned are malloc'd (the caller frees). */
struct bfs__backend_ops {
	/* Create a child of parent (never NULL). */
	int (*create)(void *ctx, char **name, char **path, const char *parent);
	int (*commit)(void *ctx, const char *name);
	int (*abort)(void *ctx, const char *name);
	/* The directory of branch name (main too). */
	int (*path)(void *ctx, char **path, const char *name);
	/* The mount's current branch. */
	int (*current)(void *ctx, char **name);
};

struct bfs__backend {
	const struct bfs__backend_ops *ops;
	void *ctx;
};

/* backend.c: the real backend, on an open mount (not owned).  Commit and
 * abort first discard the descendants a candidate may have left under its
 * branch (a live child would make them fail with ENOTEMPTY). */
void bfs__backend_mount(struct bfs__backend *be, struct bfs_mount *m);

/* outcome.c */
struct bfs_outcome {
	const char *pattern;
	char *parent;
	struct bfs_result **r; /* each allocated alone: pointers stay valid */
	size_t n, cap;
	int winner; /* index, -1 */
	bool committed;
	int error;
	char *message;
	int signal;
	int64_t elapsed_ms;
	struct bfs_match *m;
	size_t nm, capm;
};

int bfs__outcome_new(struct bfs_outcome **out, const char *pattern);
/* A new zeroed result (index set, group -1, exit_code -1). */
int bfs__outcome_add(struct bfs_result **out, struct bfs_outcome *o);
int bfs__outcome_add_match(struct bfs_outcome *o, const struct bfs_match *m);
/* Record why the run stopped early; the first error wins.  Returns err. */
int bfs__outcome_fail(struct bfs_outcome *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set a malloc'd string field of r (a copy of s; NULL clears it). */
void bfs__result_set(const char **field, const char *s);
void bfs__result_setf(const char **field, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* run.c: the life of one pattern run. */
enum bfs__bstate { BFS__LIVE, BFS__COMMITTED, BFS__ABORTED };

struct bfs__branch {
	char *name, *path;
	int parent; /* ledger index, -1 for the run's parent */
	enum bfs__bstate state;
};

struct bfs__run {
	struct bfs__backend *be;
	struct bfs_pattern_opts opts; /* defaults applied */
	struct bfs_outcome *out;
	struct bfs_runner *runner;
	char *parent; /* the branch candidates fork from */
	char *parent_path;
	int64_t start, deadline; /* monotonic ms; INT64_MAX: no deadline */
	struct bfs__branch *b;
	size_t nb, capb;
	void **owned; /* freed at the end of the run */
	size_t nowned, capowned;
	int signal;
};

/* The pattern bodies' arguments: the tasks and the pattern's options. */
struct bfs__args {
	const struct bfs_task *tasks;
	size_t ntasks;
	const void *opts; /* the pattern's options struct, or NULL */
};

typedef int (*bfs__body_fn)(struct bfs__run *run, const struct bfs__args *a);

/*
 * Run body on backend be: check the tasks, start the run (copy opts with
 * defaults applied, resolve the parent, open a runner), call body, then end
 * it: kill and reap every process, abort every live branch (children
 * first), finish the outcome.  Returns what body returned, or the first
 * cleanup error when body returned 0.  *out gets the outcome (NULL only for
 * -EINVAL and -ENOMEM at the start).
 */
int bfs__run_with(struct bfs_outcome **out, struct bfs__backend *be, const char *pattern,
		  const struct bfs_pattern_opts *opts, bfs__body_fn body,
		  const struct bfs__args *a);
/* The same on a mount (the public entry points). */
int bfs__run_mount(struct bfs_outcome **out, struct bfs_mount *m, const char *pattern,
		   const struct bfs_pattern_opts *opts, bfs__body_fn body,
		   const struct bfs__args *a);

/* Has the run's deadline passed? */
bool bfs__run_expired(const struct bfs__run *run);
/* The timeout for a task started now: what is left of the run, capped by
 * the per-task timeout (0: none). */
unsigned int bfs__run_timeout(const struct bfs__run *run);
/* The timeout for a helper task started now: helper_timeout_ms, else
 * task_timeout_ms, else (without a run timeout) the default, capped by what
 * is left of the run; never 0. */
unsigned int bfs__run_helper_timeout(const struct bfs__run *run);
/* Keep ptr until the end of the run (freed then); on failure it is freed
 * now and -ENOMEM returned. */
int bfs__run_own(struct bfs__run *run, void *ptr);
/* -EINTR once a signal was caught (run->signal set), else 0. */
int bfs__run_check(struct bfs__run *run);
/* Check every task of a list (exactly one of fn, argv, shell). */
int bfs__tasks_check(const struct bfs_task *tasks, size_t n);

/* Ledger.  parent is a ledger index, or -1 for the run's parent. */
int bfs__branch_create(struct bfs__run *run, int *id, int parent);
int bfs__branch_commit(struct bfs__run *run, int id);
int bfs__branch_abort(struct bfs__run *run, int id);
const char *bfs__branch_name(const struct bfs__run *run, int id);
const char *bfs__branch_path(const struct bfs__run *run, int id);

/* pool.c: candidates run in parallel. */
struct bfs__cand {
	const struct bfs_task *task;
	int parent; /* ledger index, -1: the run's parent */
	unsigned int level;
	const char *feedback; /* borrowed */
	struct bfs_result *r; /* its entry in the outcome */
	int branch;	      /* ledger index, -1 until created */
	int tag;	      /* the pattern's own */
};

struct bfs__pool;

/* What to do with a finished candidate: 0 go on, 1 stop (the others are
 * killed and the pending ones not started), or a negative errno (stop and
 * fail).  Not called for candidates killed because the pool stopped. */
typedef int (*bfs__finished_fn)(struct bfs__pool *p, struct bfs__cand *c);

struct bfs__pool {
	struct bfs__run *run;
	struct bfs__cand *c;
	size_t n, cap;
	bfs__finished_fn finished;
	void *data;
	const char *stop_reason; /* for the candidates the stop kills or skips */
};

void bfs__pool_init(struct bfs__pool *p, struct bfs__run *run, bfs__finished_fn finished,
		    void *data);
void bfs__pool_free(struct bfs__pool *p);
/* A candidate (and its outcome entry, the next index). */
int bfs__pool_add(struct bfs__pool *p, const struct bfs_task *task, int parent, unsigned int level,
		  const char *feedback, int tag);
/* Run every candidate; 0, or the error that stopped the pool (-EINTR). */
int bfs__pool_run(struct bfs__pool *p);
/* Ranking patterns, after a run: every candidate that did not succeed
 * (failed, evaluation failed, killed, never started) scores 0.0. */
void bfs__pool_zero_failures(struct bfs__pool *p);
/* Abort the branches of the candidates that are still live, but keep. */
int bfs__pool_abort_others(struct bfs__pool *p, const struct bfs__cand *keep);
/* Commit c's branch into its parent, mark the result and the winner; on
 * failure abort it and record why.  Returns 0 or the error. */
int bfs__pool_commit(struct bfs__pool *p, struct bfs__cand *c);

/* helpers.c: scoring, helper tasks and texts. */

/* Score the successful candidate c (struct bfs_scoring); an evaluation
 * that fails makes it a failure.  0, or -EINTR. */
int bfs__score(struct bfs__run *run, struct bfs__cand *c, const struct bfs_scoring *s);
/* The error of a callback that returned ret (not 0) as a negative errno:
 * ret itself when it is one, else -EPROTO (a positive value, or one beyond
 * the errno range); why gets it in words. */
int bfs__cb_error(char *why, size_t n, int ret);
/* Is a better than b (higher score; a tie goes to the lower index)? */
bool bfs__better(const struct bfs_result *a, const struct bfs_result *b);
/* Run a helper task to its end in dir under the run's helper timeout (on
 * the run's runner: the candidates still running are served meanwhile), with args
 * and extra env.  -ETIMEDOUT when no time is left, -EINTR after a caught
 * signal; *out is set (freed with bfs_proc_result_free()) when it returns 0. */
int bfs__helper(struct bfs_proc_result **out, struct bfs__run *run, const struct bfs_task *task,
		const struct bfs_task_info *info, const char *dir, const char *const *args,
		const char *const *env);
/* The error of a helper process that did not succeed: its start error,
 * -ETIMEDOUT when killed at its timeout, else -EPROTO. */
int bfs__proc_error(const struct bfs_proc_result *res);
/* One line on why a helper process failed ("exit status 2", ...), into buf. */
void bfs__proc_failure(char *buf, size_t n, const struct bfs_proc_result *res);
/* The error text of a failed candidate: why, then the tail of its stderr
 * (at most max bytes in all).  malloc'd. */
char *bfs__error_text(const struct bfs_result *r, size_t max);
/* Append s to *text (malloc'd, may be NULL), keeping its last max bytes. */
int bfs__text_append(char **text, const char *s, size_t max);

/* The pattern bodies, one file each. */
int bfs__speculate(struct bfs__run *run, const struct bfs__args *a);
int bfs__best_of_n(struct bfs__run *run, const struct bfs__args *a);
int bfs__reflexion(struct bfs__run *run, const struct bfs__args *a);
int bfs__tree_of_thoughts(struct bfs__run *run, const struct bfs__args *a);
int bfs__beam_search(struct bfs__run *run, const struct bfs__args *a);
int bfs__tournament(struct bfs__run *run, const struct bfs__args *a);
int bfs__cascade(struct bfs__run *run, const struct bfs__args *a);

/* Expansion shared by tree of thoughts and beam search: the next level's
 * tasks for the branch directory path.  *tasks points into storage the run
 * keeps (valid until bfs__run_end()); *n may be 0. */
int bfs__expand(const struct bfs_task **tasks, size_t *n, struct bfs__run *run,
		const struct bfs_expansion *e, const struct bfs_task *same, size_t nsame,
		const char *path, unsigned int depth);

#endif
