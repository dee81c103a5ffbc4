/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbranchfs patterns: run candidate attempts in parallel branches of a
 * mount, keep the best, drop the rest.
 *
 * Every candidate is a task (<branchfs/runner.h>) run by a forked process in
 * its own process group, with its working directory in its own branch
 * ("<root>/@NAME", a child of opts.parent).  What a pattern does with the
 * branches is its whole point: the winners are committed into their parent,
 * the others aborted.  Every exit path of every pattern commits or aborts
 * every branch it created, also on timeouts, crashes of candidates, errors
 * of callbacks and caught signals.
 *
 * Each pattern returns a struct bfs_outcome: one struct bfs_result per
 * candidate (index, success, score, exit status or error, branch path), the
 * winner and whether it was committed.  The return value is 0 when the
 * pattern ran to its end, whether or not anything was committed, and a
 * negative errno when it stopped early: -EINTR for a caught signal (see
 * bfs_outcome_signal()), -ESTALE when a commit lost the first-winner race to
 * somebody else's, the error of a branch operation or of a callback.  *out
 * is set in both cases (the caller frees it with bfs_outcome_free()); it is
 * NULL only for -EINVAL (bad arguments) and -ENOMEM before the start.
 *
 * Callbacks named below run in the parent, in the calling thread, while the
 * branches they are given are open.  They are the caller's code and block
 * the run while they run: candidates still running go on, but their output
 * is not read (one that fills its pipe waits) and their deadlines are
 * enforced only when the callback returns (at once then).  Their "task"
 * twins (evaluate_task, judge_task, ...) run as processes under the
 * pattern's timeouts (see struct bfs_pattern_opts), so a helper that hangs
 * is killed like a candidate, and while one runs the candidates are served
 * as usual.
 */
#ifndef BRANCHFS_PATTERNS_H
#define BRANCHFS_PATTERNS_H

#include <branchfs/branchfs.h>
#include <branchfs/runner.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One candidate of a pattern run.  Owned by its outcome. */
struct bfs_result {
	unsigned int index; /* its position in the outcome, 0-based ($BRANCHING_ATTEMPT) */
	unsigned int level; /* tree/beam depth, cascade wave, reflexion attempt */
	int group;	    /* beam: index of the level-0 beam it extends; else -1 */
	const char *branch; /* its branch, NULL when none was created */
	const char *path;   /* "<root>/@branch", NULL likewise */
	bool started;	    /* false: never ran (timeout, a winner was found, an error) */
	bool success;	    /* exited 0 (and its evaluation succeeded) */
	bool committed;	    /* its branch was committed into its parent */
	bool timed_out;	    /* killed at a timeout */
	bool has_score;	    /* score is meaningful */
	double score;	    /* see struct bfs_scoring */
	int exit_code;	    /* 0-255, or -1 when it did not exit normally */
	int signal;	    /* the signal that ended it, or 0 */
	int error;	    /* -errno when it failed for another reason than its status,
			     * or (reflexion) its critique failed */
	const char *reason; /* why it failed, one line ("exit status 2", ...); NULL on success */
	const char *out;    /* what it wrote to stdout (NUL-terminated) */
	const char *err;    /* ... and to stderr */
	size_t out_len, err_len;
	const char *feedback; /* the feedback it was given, or NULL */
	int64_t elapsed_ms;   /* its run time */
};

/* One match of a tournament.  Owned by its outcome. */
struct bfs_match {
	unsigned int round; /* 0 first */
	unsigned int a, b;  /* the candidates' indexes (a < b) */
	int winner;	    /* a or b, or -1 when the judge failed */
	const char *error;  /* why the judge failed, or NULL */
};

/* The result of a pattern run (opaque). */
struct bfs_outcome;

/* Name of the pattern ("speculate", "best-of-n", ...).  Static. */
BFS_API const char *bfs_outcome_pattern(const struct bfs_outcome *o);
/* The branch the candidates were forked from.  Owned by o. */
BFS_API const char *bfs_outcome_parent(const struct bfs_outcome *o);
/* Candidates, in index order; entries owned by o. */
BFS_API size_t bfs_outcome_count(const struct bfs_outcome *o);
BFS_API const struct bfs_result *bfs_outcome_get(const struct bfs_outcome *o, size_t i);
/* The winner, or NULL (in rollout mode: the best, not committed). */
BFS_API const struct bfs_result *bfs_outcome_winner(const struct bfs_outcome *o);
/* Did the pattern commit into the parent branch? */
BFS_API bool bfs_outcome_committed(const struct bfs_outcome *o);
/* Why it stopped early: 0 or -errno (as returned), and a message (NULL when
 * there is none; owned by o). */
BFS_API int bfs_outcome_error(const struct bfs_outcome *o);
BFS_API const char *bfs_outcome_message(const struct bfs_outcome *o);
/* The signal caught during the run (SIGINT, SIGTERM, SIGHUP), or 0. */
BFS_API int bfs_outcome_signal(const struct bfs_outcome *o);
/* Wall time of the run. */
BFS_API int64_t bfs_outcome_elapsed_ms(const struct bfs_outcome *o);
/* Matches of a tournament, in the order they were judged. */
BFS_API size_t bfs_outcome_match_count(const struct bfs_outcome *o);
BFS_API const struct bfs_match *bfs_outcome_match(const struct bfs_outcome *o, size_t i);
/* Free an outcome.  NULL is fine. */
BFS_API void bfs_outcome_free(struct bfs_outcome *o);

/* Flags of struct bfs_pattern_opts. */
#define BFS_PATTERN_NO_SIGNALS 0x01u /* do not catch SIGINT/SIGTERM/SIGHUP */

/*
 * What every pattern accepts; the first member of each pattern's options.
 * Zero means the default throughout.
 *
 * Helper tasks (evaluate_task, critique_task, judge_task, expand_task) are
 * always bounded: by helper_timeout_ms, else task_timeout_ms, else, when
 * the run has no timeout_ms, BFS_HELPER_TIMEOUT_DEFAULT_MS; and never past
 * the run's timeout_ms.  A helper killed at its timeout is a failed helper.
 *
 * Signals: unless BFS_PATTERN_NO_SIGNALS, SIGINT, SIGTERM and SIGHUP are
 * caught during the run; one stops it: candidates are killed, every branch
 * is aborted and the pattern returns -EINTR (the caller typically exits
 * with 128 + bfs_outcome_signal()).
 */
struct bfs_pattern_opts {
	unsigned int version;		/* BFS_PATTERN_OPTS_VERSION */
	const char *parent;		/* branch to fork from; NULL: the mount's current one */
	unsigned int max_parallel;	/* candidates running at once; 0: all */
	unsigned int timeout_ms;	/* the whole run; 0: none */
	unsigned int task_timeout_ms;	/* each candidate (and helper, see below); 0: none */
	unsigned int helper_timeout_ms; /* each helper task; 0: see below */
	unsigned int grace_ms;		/* SIGTERM to SIGKILL; 0: 2000 */
	size_t output_limit;		/* bytes of stdout and stderr kept per candidate; 0: all */
	const char *const *env;		/* NULL-terminated NAME=VALUE for every candidate */
	unsigned int flags;		/* BFS_PATTERN_* */
};

#define BFS_PATTERN_OPTS_VERSION 1

/* The bound on a helper task when nothing else bounds it: 10 minutes. */
#define BFS_HELPER_TIMEOUT_DEFAULT_MS 600000u

/*
 * Scoring and helper callbacks.  Each returns 0 or a negative errno; an
 * error is recorded (see each pattern), never ignored.  Any other value (a
 * positive one, or one that is no errno) counts as -EPROTO.
 *
 * evaluate: score a successful candidate r while its branch is open.
 * critique: *feedback gets a malloc'd text about the failed attempt r (the
 *           library frees it).
 * judge:    *winner gets 0 when a is better, 1 when b is.
 * expand:   fill tasks[0..cap) with the next level's tasks, looking at the
 *           branch directory path after level depth - 1; return how many
 *           (0 stops).  The tasks' strings must stay valid until the
 *           pattern returns.
 */
typedef int (*bfs_evaluate_fn)(double *score, const struct bfs_result *r, void *arg);
typedef int (*bfs_critique_fn)(char **feedback, const struct bfs_result *r, void *arg);
typedef int (*bfs_judge_fn)(int *winner, const struct bfs_result *a, const struct bfs_result *b,
			    void *arg);
typedef int (*bfs_expand_fn)(struct bfs_task *tasks, size_t cap, const char *path,
			     unsigned int depth, void *arg);

/*
 * Scores of candidates, where a pattern ranks them: the evaluate callback,
 * else the evaluate task (run in the candidate's branch; the number it
 * writes to fd 3, else the last word of its stdout), else what the
 * candidate reported (a C task's *score, a command's fd 3), else 1.0 for a
 * success.  A failing evaluation makes the candidate a failure.  Highest
 * wins; ties go to the lowest index; NaN never wins.  In the patterns that
 * rank (best-of-n, tree, beam) every candidate that did not succeed scores
 * 0.0 (has_score set), whatever it reported, and is never the winner.  In
 * the others a success has what it reported, if anything, and a failure no
 * score.
 */
struct bfs_scoring {
	bfs_evaluate_fn evaluate;
	void *evaluate_arg;
	const struct bfs_task *evaluate_task;
};

/*
 * speculate: ntasks candidates (candidate i runs tasks[i]), at most
 * max_parallel at once.  The first to succeed is committed; the others are
 * killed and aborted.  Nothing is committed when all fail or the timeout
 * passes first.
 */
struct bfs_speculate_opts {
	struct bfs_pattern_opts common;
};

BFS_API int bfs_speculate(struct bfs_outcome **out, struct bfs_mount *m,
			  const struct bfs_task *tasks, size_t ntasks,
			  const struct bfs_speculate_opts *opts);

/*
 * best-of-N: n candidates (candidate i runs tasks[i % ntasks]), all run to
 * their end (or the timeout).  Scores: scores[i] when scores is given (n
 * entries), else struct bfs_scoring.  The best successful candidate is
 * committed and the rest aborted; with rollout, all are aborted and the best
 * is still reported as the winner.
 */
struct bfs_best_of_n_opts {
	struct bfs_pattern_opts common;
	size_t n;	      /* 0: ntasks */
	const double *scores; /* precomputed, n entries, or NULL */
	struct bfs_scoring scoring;
	bool rollout; /* commit nothing, report the best */
};

BFS_API int bfs_best_of_n(struct bfs_outcome **out, struct bfs_mount *m,
			  const struct bfs_task *tasks, size_t ntasks,
			  const struct bfs_best_of_n_opts *opts);

/*
 * reflexion: up to retries sequential attempts (attempt k runs
 * tasks[k % ntasks] with BRANCHING_FEEDBACK set).  The first success is
 * committed.  After a failure the critique (callback, else task, run in the
 * failed attempt's branch before it is aborted, its stdout the answer)
 * gives the next attempt's feedback; without one, or when it fails, the
 * feedback is the failed attempt's error text (its stderr, else why it
 * failed).  The first attempt gets "".  A critique that fails (the callback
 * returns an error; the task cannot run, exits non-zero or times out) is
 * recorded on the failed attempt's result: error is the critique's (-EPROTO
 * for a bad exit status, -ETIMEDOUT for a timeout) and reason ends in
 * "; critique failed: WHY"; the run goes on.
 */
struct bfs_reflexion_opts {
	struct bfs_pattern_opts common;
	unsigned int retries; /* attempts; 0: 3 */
	bfs_critique_fn critique;
	void *critique_arg;
	const struct bfs_task *critique_task;
};

BFS_API int bfs_reflexion(struct bfs_outcome **out, struct bfs_mount *m,
			  const struct bfs_task *tasks, size_t ntasks,
			  const struct bfs_reflexion_opts *opts);

/*
 * Expansion of tree of thoughts and beam search: the callback, else the
 * task (run in the branch to expand; each non-empty line of its stdout is
 * a shell command of the next level), else the same tasks again.  At most
 * max_tasks (0: 16) tasks per expansion.
 */
struct bfs_expansion {
	bfs_expand_fn expand;
	void *expand_arg;
	const struct bfs_task *expand_task;
	size_t max_tasks;
};

/*
 * tree of thoughts: a root branch R is created under the parent.  Level d
 * runs its tasks in parallel children of R (level 0: tasks); the best
 * successful one (struct bfs_scoring) is committed into R, the others are
 * aborted; then the expansion looks at R and gives level d + 1.  After
 * depth levels (or an empty expansion) R is committed into the parent.  A
 * level without a success aborts R: nothing is committed.
 */
struct bfs_tree_opts {
	struct bfs_pattern_opts common;
	unsigned int depth; /* levels; 0: 1 */
	struct bfs_scoring scoring;
	struct bfs_expansion expansion;
};

BFS_API int bfs_tree_of_thoughts(struct bfs_outcome **out, struct bfs_mount *m,
				 const struct bfs_task *tasks, size_t ntasks,
				 const struct bfs_tree_opts *opts);

/*
 * beam search: level 0 runs tasks in parallel children of the parent (the
 * beams); the global top width successful ones survive, the others are
 * aborted.  At each next level every surviving beam is expanded into child
 * branches of that beam, all run in parallel, and the global top width
 * children survive; each beam's best surviving child is committed into it
 * (at most one per beam) and gives the beam its score; the other children,
 * and the beams with no surviving child, are aborted.  After depth levels
 * the best beam is committed into the parent and the rest aborted.  A level
 * without a success commits nothing.
 */
struct bfs_beam_opts {
	struct bfs_pattern_opts common;
	unsigned int width; /* beams kept per level; 0: 2 */
	unsigned int depth; /* levels; 0: 2 */
	struct bfs_scoring scoring;
	struct bfs_expansion expansion;
};

BFS_API int bfs_beam_search(struct bfs_outcome **out, struct bfs_mount *m,
			    const struct bfs_task *tasks, size_t ntasks,
			    const struct bfs_beam_opts *opts);

/*
 * tournament: n candidates (candidate i runs tasks[i % ntasks]) run to
 * their end, then the successful ones play a single-elimination bracket:
 * neighbours are paired in index order, an odd one out at the end gets a
 * bye.  The judge (callback, else task: run in the parent's directory with
 * the two branch directories as arguments and in BRANCHING_A and
 * BRANCHING_B; it must exit 0 and print "a" or "0" when the first is
 * better, "b" or "1" when the second is) decides each match.  The champion
 * is committed, the rest aborted.  A judge that fails (error, non-zero exit,
 * timeout, an answer that is neither) is recorded in its match and stops
 * the tournament: nothing is committed and the error is returned (-EPROTO
 * for a bad exit status or answer).
 */
struct bfs_tournament_opts {
	struct bfs_pattern_opts common;
	size_t n; /* 0: ntasks */
	bfs_judge_fn judge;
	void *judge_arg;
	const struct bfs_task *judge_task;
};

BFS_API int bfs_tournament(struct bfs_outcome **out, struct bfs_mount *m,
			   const struct bfs_task *tasks, size_t ntasks,
			   const struct bfs_tournament_opts *opts);

/*
 * cascaded: waves of fan_out[w] parallel candidates (candidate i runs
 * tasks[i % ntasks]); within a wave the first success is committed and the
 * others are killed and aborted.  When a wave has no success, the error
 * text of each of its failed candidates (why it failed and the tail of its
 * stderr) is added to the feedback of all later waves (BRANCHING_FEEDBACK).
 */
struct bfs_cascade_opts {
	struct bfs_pattern_opts common;
	const unsigned int *fan_out; /* NULL: 1, 2, 4 */
	size_t waves;		     /* entries of fan_out */
};

BFS_API int bfs_cascade(struct bfs_outcome **out, struct bfs_mount *m, const struct bfs_task *tasks,
			size_t ntasks, const struct bfs_cascade_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
