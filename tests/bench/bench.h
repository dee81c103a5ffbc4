/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark program: shared types and the prototypes of each source
 * file.
 *
 * Process layout.  bench.c is a supervisor: it runs each workload in a child
 * process of its own process group, bounded by a timeout, and cleans up every
 * mount and daemon the child leaves (crash, hang, signal).  Children record
 * results in a struct bench_results mapped shared before the fork, so a
 * workload that dies keeps the rows it finished.
 *
 * Targets.  Every comparative workload runs on four targets, repetitions
 * interleaved: a plain directory (native), a branch of a branchfs mount whose
 * base holds the prepared files (branchfs), fuse-overlayfs over the same
 * files (overlay), and a trivial low-level passthrough (floor, the cost of
 * FUSE itself; passthrough.c).
 */
#ifndef BENCH_H
#define BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BENCH_MAX_SAMPLES   2048
#define BENCH_MAX_ROWS	    96
#define BENCH_MAX_WORKLOADS 16

enum bench_target { BT_NATIVE, BT_BRANCHFS, BT_OVERLAY, BT_FLOOR, BT_COUNT };

enum bench_check_kind {
	BC_NONE,
	BC_MIN_VS_NATIVE,  /* speed ratio branchfs/native >= limit */
	BC_MIN_VS_OVERLAY, /* speed ratio branchfs/overlay >= limit */
	BC_MAX_VALUE,	   /* branchfs median <= limit (row's unit) */
	BC_OK,		   /* branchfs ran without error */
};

/* Which printed tables a row belongs to (bit set). */
enum bench_table {
	BTAB_MAIN = 1,
	BTAB_CREATE = 2,
	BTAB_COMMIT = 4,
	BTAB_ABORT = 8,
	BTAB_DEPTH = 16,
};

struct bench_check {
	enum bench_check_kind kind;
	double limit;
};

/* One measured quantity, with samples per target. */
struct bench_row {
	char workload[24];
	char label[64];
	char unit[12];
	bool higher_better; /* throughput (true) or time (false) */
	unsigned tables;
	struct bench_check check[2];
	int n[BT_COUNT];
	double v[BT_COUNT][BENCH_MAX_SAMPLES];
	char error[BT_COUNT][160];
	char note[200];
};

/* Shared between the supervisor and the workload children. */
struct bench_results {
	int nrows;
	struct bench_row row[BENCH_MAX_ROWS];
	char wl_error[BENCH_MAX_WORKLOADS][240];
	double wl_seconds[BENCH_MAX_WORKLOADS];
	bool wl_ran[BENCH_MAX_WORKLOADS];
	int cold_dropped;  /* cold runs made with drop_caches */
	int cold_fadvised; /* cold runs made with posix_fadvise only */
};

struct bench_opts {
	bool quick;
	int repeat;
	int timeout;		/* seconds per workload */
	const char *json;	/* write JSON here, or NULL */
	const char *only;	/* comma-separated workload names, or NULL */
	const char *daemon;	/* branchfsd */
	const char *floor;	/* bench_passthrough */
	const char *floor_opts; /* its -o OPTS, or NULL */
	const char *overlay;	/* fuse-overlayfs, NULL when missing */
	bool keep;		/* keep the scratch directory */
	bool markdown;		/* print Markdown tables */
	char scratch[PATH_MAX];
};

/* What a workload sees. */
struct bench_ctx {
	const struct bench_opts *o;
	struct bench_results *res;
	int wl;		     /* index of the running workload */
	const char *wl_name; /* its name */
	char dir[PATH_MAX];  /* its scratch directory */
};

/* A prepared target: files laid out, mounted, branch created. */
struct bench_env {
	enum bench_target t;
	bool ok;
	char top[PATH_MAX];  /* this env's scratch directory */
	char base[PATH_MAX]; /* the prepared files on disk (native: = dir) */
	char mnt[PATH_MAX];  /* mount point (FUSE targets) */
	char dir[PATH_MAX];  /* where the workload runs */
	char branch[128];    /* branchfs: the branch dir is in, "" for none */
	char error[160];     /* why !ok */
	pid_t pid;	     /* daemon, 0 for native */
};

/* Lays out files in dir before it is mounted; 0 or -errno. */
typedef int (*bench_fill_fn)(const char *dir, const void *arg);

/* bench_env_setup flags. */
#define BENV_NO_BRANCH 1 /* branchfs: work at the mount root (main) */

/* A tree of files: files regular files, per_dir to a directory (0: all in
 * dir itself), dirs grouped fanout to a middle directory (0: no middle
 * level), each of size bytes (0: varied, source-like 256 B - 16 KiB). */
struct bench_tree {
	int files;
	int per_dir;
	int fanout;
	size_t size;
};

/* ---- bench.c ---- */
extern const char *const bench_target_name[BT_COUNT];

/* ---- result.c ---- */
/* A new row of the running workload; aborts the child when full. */
struct bench_row *bench_row_add(struct bench_ctx *c, const char *label, const char *unit,
				bool higher_better, unsigned tables);
void bench_row_check(struct bench_row *r, enum bench_check_kind kind, double limit);
void bench_row_sample(struct bench_row *r, enum bench_target t, double v);
void bench_row_fail(struct bench_row *r, enum bench_target t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void bench_row_note(struct bench_row *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Copy the setup errors of envs (BT_COUNT of them) into r. */
void bench_row_env_errors(struct bench_row *r, const struct bench_env *envs);
/* A row holding median(num) / median(den) of branchfs, checked <= limit
 * (unchecked when limit <= 0). */
struct bench_row *bench_row_quotient(struct bench_ctx *c, const char *label,
				     const struct bench_row *num, const struct bench_row *den,
				     double limit);
/* Median / percentile of a target's samples; NAN when none. */
double bench_row_median(const struct bench_row *r, enum bench_target t);
double bench_row_pct(const struct bench_row *r, enum bench_target t, double pct);
/* Speed ratio of a over b (> 1: a is faster); NAN when unknown. */
double bench_row_ratio(const struct bench_row *r, enum bench_target a, enum bench_target b);
/* 1 pass, 0 fail, -1 no check or no data. */
int bench_row_verdict(const struct bench_row *r);
void bench_wl_error(struct bench_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- report.c ---- */
void bench_report_print(const struct bench_results *res, const struct bench_opts *o,
			const char *const *wl_names, int nwl);
int bench_report_json(const struct bench_results *res, const struct bench_opts *o,
		      const char *const *wl_names, int nwl, const char *path);

/* ---- target.c ---- */
/* Prepare target t below c->dir/tag: fill its files (fill may be NULL),
 * mount, create the branch.  On failure e->ok is false and e->error says
 * why; everything already started is undone. */
void bench_env_setup(struct bench_ctx *c, enum bench_target t, const char *tag, bench_fill_fn fill,
		     const void *arg, int flags, struct bench_env *e);
/* Set up every target the run has (branchfs only when only_bfs). */
void bench_envs_setup(struct bench_ctx *c, const char *tag, bench_fill_fn fill, const void *arg,
		      bool only_bfs, struct bench_env *envs);
/* Unmount, stop the daemon, remove the scratch tree.  Accepts !ok envs. */
void bench_env_teardown(struct bench_env *e);
void bench_envs_teardown(struct bench_env *envs);
/* Is target t part of this run (overlay needs fuse-overlayfs)? */
bool bench_target_enabled(const struct bench_opts *o, enum bench_target t);
/* Branch control on a branchfs mount: ctl path of @branch (NULL: root). */
const char *bench_ctl_path(char *out, const struct bench_env *e, const char *branch);
int bench_ioc_create(const char *ctl, char name[128]);
int bench_ioc(const char *ctl, unsigned long cmd);
/* Open file descriptors of a process; -errno. */
int bench_count_fds(pid_t pid);

/* ---- util.c ---- */
double bench_now(void);
/* Target visited i-th in repetition r: rotated, so none is always first. */
int bench_order(int r, int i);
const char *bench_join(char *out, const char *a, const char *b);
int bench_mkdirs(const char *path);
/* rm -rf that never crosses a mount point. */
int bench_rm_rf(const char *path);
/* Write a file of size bytes (pattern data); fsync when asked. */
int bench_write_file(const char *path, size_t size, bool sync);
/* Read a file to EOF in chunks of bufsize; bytes read or -errno. */
long long bench_read_file(const char *path, size_t bufsize);
/* bench_fill_fn for a struct bench_tree. */
int bench_tree_fill(const char *dir, const void *arg);
/* Path of file i of tree t, relative (out). */
const char *bench_tree_path(char *out, const struct bench_tree *t, int i);
/* Walk dir: readdir + lstat of everything, open and read 4 KiB of each
 * regular file when read_files; entries seen, or -errno. */
long bench_walk(const char *dir, bool read_files);
/* Make data and metadata cold: drop_caches when allowed (true), else
 * posix_fadvise(DONTNEED) on every file below each of the paths. */
bool bench_cold(const char *const *paths, int n);
/* bench_cold, counted in the results. */
void bench_ctx_cold(struct bench_ctx *c, const struct bench_env *e);
/* Run argv (cwd may be NULL) with stdout and stderr to /dev/null or to log
 * (appended); exit status, 128 + signal, or -errno. */
int bench_run(const char *cwd, const char *log, char *const argv[]);
/* Start a daemon (stdout/stderr to log); it gets SIGTERM if we die. */
pid_t bench_spawn(const char *log, char *const argv[]);
/* Wait up to seconds for pid; true when it exited. */
bool bench_reap(pid_t pid, double seconds, int *status);

/* ---- wl_create.c ---- */
void bench_wl_create(struct bench_ctx *c);
/* Time one ioctl on an open control file, in microseconds; <0: -errno. */
double bench_timed_ioctl(int fd, unsigned long cmd, void *arg);

/* ---- wl_commit.c ---- */
void bench_wl_commit(struct bench_ctx *c);
void bench_wl_abort(struct bench_ctx *c);

/* ---- wl_roundtrip.c ---- */
void bench_wl_roundtrip(struct bench_ctx *c);

/* ---- wl_depth.c ---- */
void bench_wl_depth(struct bench_ctx *c);

/* ---- wl_io.c ---- */
void bench_wl_read_warm(struct bench_ctx *c);
void bench_wl_read_cold(struct bench_ctx *c);
void bench_wl_write_fsync(struct bench_ctx *c);
void bench_wl_small_write(struct bench_ctx *c);

/* ---- wl_meta.c ---- */
void bench_wl_meta(struct bench_ctx *c);
void bench_wl_links(struct bench_ctx *c);
void bench_wl_walk(struct bench_ctx *c);
void bench_wl_walk_linked(struct bench_ctx *c);
void bench_wl_git_status(struct bench_ctx *c);
void bench_wl_walk_100k(struct bench_ctx *c);

#endif
