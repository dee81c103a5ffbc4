/* SPDX-License-Identifier: Apache-2.0 */
/*
 * journal.c: a commit interrupted at any op is finished at the next open,
 * never left half done.  For every k, the first k ops of a real commit plan
 * are applied (recorded in the journal, or with the k-th applied but not
 * recorded), the core goes away without finishing (closed with keep, or a
 * crashed process), and the reopened core must show exactly the committed
 * tree.  Also: unreadable journals and the window between recording a
 * commit and removing its journal.
 */
#include "core_test.h"

#include "bfs_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAIN(t) ((t)->fs->main)

/* The base every scenario starts from. */
static void make_base(struct ut *t)
{
	ut_base_write(t, "f", "v1");
	ut_base_write(t, "g", "g");
	ut_base_write(t, "h", "h");
	ut_base_write(t, "r", "r");
	ut_base_mkdir(t, "d");
	ut_base_write(t, "d/x", "x");
	ut_base_mkdir(t, "d/sub");
	ut_base_write(t, "d/sub/y", "y");
	ut_base_mkdir(t, "src");
	ut_base_write(t, "src/s", "s");
	ut_base_mkdir(t, "src/deep");
	ut_base_write(t, "src/deep/q", "q");
	ut_base_mkdir(t, "rep");
	ut_base_write(t, "rep/r", "r");
}

/* A branch's worth of every kind of change a plan has ops for. */
static void make_changes(struct ut *t, struct bfsd_branch *b)
{
	ck_assert_int_eq(ut_write(t, b, "f", "v2"), 0);
	ck_assert_int_eq(ut_write(t, b, "new", "n"), 0);
	ck_assert_int_eq(ut_unlink(t, b, "g"), 0);
	ck_assert_int_eq(ut_mkdir(t, b, "e", 0750), 0);
	ck_assert_int_eq(ut_write(t, b, "e/z", "z"), 0);
	ck_assert_int_eq(ut_mkdir(t, b, "empty", 0700), 0);
	ck_assert_int_eq(ut_rename(t, b, "src", "dst", 0), 0);
	ck_assert_int_eq(ut_write(t, b, "dst/s", "s2"), 0);
	ck_assert_int_eq(ut_rename(t, b, "r", "dst/r2", 0), 0);
	ck_assert_int_eq(ut_unlink(t, b, "d/x"), 0);
	ck_assert_int_eq(ut_write(t, b, "d/sub/y2", "y2"), 0);
	ck_assert_int_eq(ut_chmod(t, b, "d", 0700), 0);
	ck_assert_int_eq(ut_symlink(t, b, "f", "l"), 0);
	ck_assert_int_eq(ut_link(t, b, "h", "h2"), 0);
	ck_assert_int_eq(ut_unlink(t, b, "rep/r"), 0);
	ck_assert_int_eq(ut_rmdir(t, b, "rep"), 0);
	ck_assert_int_eq(ut_write(t, b, "rep", "now a file"), 0);
	ck_assert_int_eq(ut_setxattr(t, b, "new", "user.k", "v"), 0);
}

enum stop_mode {
	STOP_RECORDED,	 /* k ops applied, k recorded */
	STOP_UNRECORDED, /* k ops applied, k - 1 recorded */
};

struct stop {
	struct bfsd_fs *fs;
	size_t k;
	enum stop_mode mode;
};

static int stop_after(void *arg, size_t i)
{
	struct stop *s = arg;
	int ret = 0;

	if (s->mode == STOP_RECORDED || i + 1 < s->k)
		ret = bfsd_journal_done(s->fs, i);
	if (!ret && i + 1 >= s->k)
		ret = -ECANCELED;
	return ret;
}

/* Plan b's commit, journal it and apply its first k ops; the number of ops
 * in the plan. */
static size_t start_commit(struct ut *t, struct bfsd_branch *b, size_t k, enum stop_mode mode)
{
	struct bfsd_oplist ops = { 0 };
	struct stop s = { t->fs, k, mode };
	size_t n;

	pthread_rwlock_wrlock(&t->fs->tree_lock);
	ck_assert_int_eq(bfsd_commit_plan(t->fs, b, &ops), 0);
	ck_assert_int_eq(bfsd_journal_begin(t->fs, b, &ops), 0);
	if (k > 0)
		ck_assert_int_eq(bfsd_commit_apply(t->fs, b, &ops, &(size_t){ 0 }, stop_after, &s),
				 -ECANCELED);
	pthread_rwlock_unlock(&t->fs->tree_lock);
	n = ops.n;
	bfsd_oplist_free(&ops);
	return n;
}

/* The tree a complete, uninterrupted commit leaves in the base; and the
 * number of ops of its plan. */
static char *reference(size_t *nops)
{
	struct bfsd_oplist ops = { 0 };
	struct bfsd_branch *b;
	struct ut t;
	char *view;

	ut_init(&t);
	make_base(&t);
	ut_open(&t, false);
	b = ut_branch(&t, MAIN(&t), "b");
	make_changes(&t, b);
	view = ut_view_tree(&t, b);
	pthread_rwlock_wrlock(&t.fs->tree_lock);
	ck_assert_int_eq(bfsd_commit_plan(t.fs, b, &ops), 0);
	pthread_rwlock_unlock(&t.fs->tree_lock);
	*nops = ops.n;
	bfsd_oplist_free(&ops);
	ck_assert_int_eq(ut_commit(&t, b), 0);
	UT_STR_EQ(ut_tree(t.base), view);
	ut_close(&t);
	return view;
}

/* Lines of a not in b, each prefixed with mark, into out. */
static void missing_lines(struct bfsd_buf *out, const char *a, const char *b, char mark)
{
	char *copy = strdup(a), *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *hit = strstr(b, l);
		size_t n = strlen(l);

		while (hit && !((hit == b || hit[-1] == '\n') && (hit[n] == '\n' || !hit[n])))
			hit = strstr(hit + 1, l);
		if (!hit)
			bfsd_buf_addf(out, "  %c %s\n", mark, l);
	}
	free(copy);
}

/* "k=K: <what>" and how tree differs from ref, when it does. */
static void diff_trees(struct bfsd_buf *out, size_t k, const char *what, const char *tree,
		       const char *ref)
{
	if (!strcmp(tree, ref))
		return;
	bfsd_buf_addf(out, "k=%zu: %s differs from the committed tree (+ extra, - missing):\n", k,
		      what);
	missing_lines(out, tree, ref, '+');
	missing_lines(out, ref, tree, '-');
}

/* What the reopened core must show; a description of what differs ("" when
 * nothing), for the failure list. */
/* A commit plan is in flight: the journal exists and holds something (the
 * daemon keeps the file, empty, between commits). */
static bool plan_in_flight(struct ut *t)
{
	struct stat st;

	return stat(ut_spath(t, "journal"), &st) == 0 && st.st_size > 0;
}

static void check_recovered(struct ut *t, const char *ref, size_t k, struct bfsd_buf *failures)
{
	struct bfsd_branch *sib = bfsd_branch_find(t->fs, "sib");
	char *tree = ut_tree(t->base);

	diff_trees(failures, k, "the base", tree, ref);
	if (bfsd_branch_find(t->fs, "b"))
		bfsd_buf_addf(failures, "k=%zu: branch b is still there\n", k);
	if (MAIN(t)->gen != 1)
		bfsd_buf_addf(failures, "k=%zu: main's generation is %llu\n", k,
			      (unsigned long long)MAIN(t)->gen);
	if (!sib || !bfsd_branch_is_stale(sib))
		bfsd_buf_addf(failures, "k=%zu: the sibling is missing or not stale\n", k);
	if (plan_in_flight(t))
		bfsd_buf_addf(failures, "k=%zu: the journal is still there\n", k);
	free(tree);
}

/* Interrupt after k ops, close with keep (no commit finish), reopen. */
static void run_keep(const char *ref, size_t k, enum stop_mode mode, struct bfsd_buf *failures,
		     size_t *nops)
{
	struct bfsd_branch *b;
	struct ut t;

	ut_init(&t);
	make_base(&t);
	ut_open(&t, true);
	ut_branch(&t, MAIN(&t), "sib");
	b = ut_branch(&t, MAIN(&t), "b");
	make_changes(&t, b);
	*nops = start_commit(&t, b, k, mode);
	ut_close(&t);
	ut_open(&t, false);
	check_recovered(&t, ref, k, failures);
	ut_close(&t);
}

static void report(struct bfsd_buf *failures)
{
	ck_assert_msg(failures->len == 0, "%s", failures->data);
	bfsd_buf_free(failures);
}

START_TEST(interrupted_after_every_op_recorded)
{
	struct bfsd_buf failures = { 0 };
	size_t n, nops = 0;
	char *ref = reference(&n);

	ck_assert_int_ge(n, 15);
	for (size_t k = 0; k <= n; k++) {
		run_keep(ref, k, STOP_RECORDED, &failures, &nops);
		ck_assert_uint_eq(nops, n);
	}
	free(ref);
	report(&failures);
}
END_TEST

START_TEST(interrupted_before_recording_an_op)
{
	struct bfsd_buf failures = { 0 };
	size_t n, nops = 0;
	char *ref = reference(&n);

	/* The k-th op ran but its done line was never written: it runs again
	 * at recovery, and must be harmless the second time. */
	for (size_t k = 1; k <= n; k++) {
		run_keep(ref, k, STOP_UNRECORDED, &failures, &nops);
		ck_assert_uint_eq(nops, n);
	}
	free(ref);
	report(&failures);
}
END_TEST

struct crash_arg {
	size_t k;
	enum stop_mode mode;
};

static void crash_mid_commit(struct ut *t, void *arg)
{
	struct crash_arg *a = arg;
	struct bfsd_branch *b = bfsd_branch_find(t->fs, "b");

	ck_assert_ptr_nonnull(b);
	start_commit(t, b, a->k, a->mode);
}

START_TEST(crashed_after_every_op)
{
	struct bfsd_buf failures = { 0 };
	size_t n;
	char *ref = reference(&n);

	for (size_t k = 0; k <= n; k++) {
		struct crash_arg a = { k, k % 2 ? STOP_UNRECORDED : STOP_RECORDED };
		struct ut t;

		if (k == 0)
			a.mode = STOP_RECORDED;
		ut_init(&t);
		make_base(&t);
		ut_open(&t, true);
		ut_branch(&t, MAIN(&t), "sib");
		make_changes(&t, ut_branch(&t, MAIN(&t), "b"));
		ut_close(&t);
		ck_assert_int_eq(ut_crash(&t, crash_mid_commit, &a), 0);
		ut_open(&t, false);
		check_recovered(&t, ref, k, &failures);
		ut_close(&t);
	}
	free(ref);
	report(&failures);
}
END_TEST

/* The nested case: c commits into its parent branch p. */
static void make_parent(struct ut *t, struct bfsd_branch *p)
{
	ck_assert_int_eq(ut_write(t, p, "f", "p-f"), 0);
	ck_assert_int_eq(ut_write(t, p, "pfile", "p"), 0);
	ck_assert_int_eq(ut_unlink(t, p, "d/sub/y"), 0);
}

START_TEST(nested_commit_interrupted_after_every_op)
{
	struct bfsd_buf failures = { 0 };
	struct bfsd_branch *p, *c;
	size_t n = 0;
	char *ref = NULL;
	struct ut t;

	/* Reference: c's view before an uninterrupted commit, which p then
	 * shows. */
	ut_init(&t);
	make_base(&t);
	ut_open(&t, false);
	p = ut_branch(&t, MAIN(&t), "p");
	make_parent(&t, p);
	c = ut_branch(&t, p, "c");
	make_changes(&t, c);
	ref = ut_view_tree(&t, c);
	ck_assert_int_eq(ut_commit(&t, c), 0);
	UT_STR_EQ(ut_view_tree(&t, p), ref);
	ut_close(&t);

	for (size_t k = 0;; k++) {
		size_t nops;
		char *view;

		ut_init(&t);
		make_base(&t);
		ut_open(&t, true);
		p = ut_branch(&t, MAIN(&t), "p");
		make_parent(&t, p);
		c = ut_branch(&t, p, "c");
		make_changes(&t, c);
		nops = start_commit(&t, c, k, k % 2 ? STOP_UNRECORDED : STOP_RECORDED);
		if (!n)
			n = nops;
		ut_close(&t);
		ut_open(&t, true);
		p = bfsd_branch_find(t.fs, "p");
		ck_assert_ptr_nonnull(p);
		view = ut_view_tree(&t, p);
		diff_trees(&failures, k, "p's view", view, ref);
		if (bfsd_branch_find(t.fs, "c") || p->gen != 1)
			bfsd_buf_addf(&failures, "k=%zu: c still there or p's gen %llu\n", k,
				      (unsigned long long)p->gen);
		free(view);
		ut_close(&t);
		if (k >= n)
			break;
	}
	free(ref);
	report(&failures);
}
END_TEST

/* A commit of b stopped after k of its ops, a live sibling with a file of
 * its own; closed with keep. */
static void half_applied(struct ut *t, size_t k)
{
	struct bfsd_branch *sib, *b;

	ut_init(t);
	make_base(t);
	ut_open(t, true);
	sib = ut_branch(t, MAIN(t), "sib");
	ck_assert_int_eq(ut_write(t, sib, "sibfile", "sib's"), 0);
	b = ut_branch(t, MAIN(t), "b");
	make_changes(t, b);
	start_commit(t, b, k, STOP_RECORDED);
	ut_close(t);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in storage/layers, each followed by ','. */
static char *layer_names(struct ut *t)
{
	struct bfsd_buf out = { 0 };
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(ut_spath(t, "layers"));

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) && n < 256)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(bfsd_buf_addf(&out, "%s,", names[i]), 0);
		free(names[i]);
	}
	return out.data ? out.data : strdup("");
}

/*
 * A layer the log names that cannot be opened now is no reason to drop its
 * branch: the open fails and changes nothing (log, journal, layers, base),
 * and once the layer is back the interrupted commit finishes.
 */
START_TEST(a_layer_that_cannot_be_opened_fails_the_open)
{
	struct bfsd_buf failures = { 0 };
	struct bfsd_options opt = { 0 };
	char aside[PATH_MAX], *names, *name, *save = NULL;
	size_t n;
	char *ref = reference(&n);
	struct ut t;

	half_applied(&t, n / 2);
	opt.base = t.base;
	opt.storage = t.storage;
	names = layer_names(&t);
	ck_assert_msg(strchr(names, ','), "no layers: %s", names);
	snprintf(aside, sizeof(aside), "%s/aside", t.dir);
	for (name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		char *state = bfs_read_file(ut_spath(&t, "state"));
		char *journal = bfs_read_file(ut_spath(&t, "journal"));
		char *base = ut_tree(t.base), *layers, *after;
		char layer[PATH_MAX];
		struct bfsd_fs *fs = NULL;
		int ret, fds;

		snprintf(layer, sizeof(layer), "layers/%s", name);
		/* Not a directory any more (ENOTDIR; EACCES, EMFILE or ENOMEM
		 * would do the same). */
		ck_assert_int_eq(rename(ut_spath(&t, layer), aside), 0);
		ck_assert_int_eq(bfs_write_file(ut_spath(&t, layer), "not a layer"), 0);
		layers = layer_names(&t);
		fds = ut_count_entries("/proc/self/fd");
		ret = bfsd_fs_open(&opt, &fs);
		ck_assert_msg(ret < 0, "the open succeeded without layer %s", name);
		ck_assert_ptr_null(fs);
		/* A failed open keeps no descriptor (mounts retried in one
		 * process, the unit suites under valgrind, would run out). */
		ck_assert_int_eq(ut_count_entries("/proc/self/fd"), fds);
		UT_STR_EQ(bfs_read_file(ut_spath(&t, "state")), state);
		UT_STR_EQ(bfs_read_file(ut_spath(&t, "journal")), journal);
		UT_STR_EQ(layer_names(&t), layers);
		after = ut_tree(t.base);
		diff_trees(&failures, n / 2, name, after, base);
		ck_assert_int_eq(unlink(ut_spath(&t, layer)), 0);
		ck_assert_int_eq(rename(aside, ut_spath(&t, layer)), 0);
		free(after);
		free(layers);
		free(base);
		free(journal);
		free(state);
	}
	report(&failures);
	ut_open(&t, false);
	UT_STR_EQ(ut_cat(&t, bfsd_branch_find(t.fs, "sib"), "sibfile"), "sib's");
	check_recovered(&t, ref, n / 2, &failures);
	report(&failures);
	ut_close(&t);
	free(names);
	free(ref);
}
END_TEST

/* In a child: leave only spare file descriptors free (of 64), open the
 * core, and exit without closing it (a crash): 0 when the open worked. */
static int open_starved(struct ut *t, int spare)
{
	struct bfsd_options opt = { .base = t->base, .storage = t->storage };
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;
		struct bfsd_fs *fs;
		int fd, last = -1;

		/* The soft limit only (valgrind refuses to change the hard
		 * one, and emulates the soft one). */
		/* Only what this open takes counts: drop what was inherited. */
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(2);
		rl.rlim_cur = 64;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(2);
		while ((fd = open("/dev/null", O_RDONLY)) >= 0)
			last = fd;
		for (int i = 0; i < spare && last - i > 2; i++)
			close(last - i);
		_exit(bfsd_fs_open(&opt, &fs) ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) < 2, "starved open: status %d",
		      status);
	return WEXITSTATUS(status);
}

/*
 * Opens starved of file descriptors fail wherever they run out (loading
 * the branches' layers included) without deciding anything; the first
 * that has enough finishes the interrupted commit, and nothing is lost.
 */
START_TEST(opens_out_of_descriptors_change_nothing)
{
	struct bfsd_buf failures = { 0 };
	int spare, failed = 0;
	size_t n;
	char *ref = reference(&n);
	struct ut t;

	half_applied(&t, n / 2);
	for (spare = 0; spare < 60 && open_starved(&t, spare); spare++)
		failed++;
	ck_assert_msg(failed > 5 && spare < 60, "%d starved opens failed, then %s", failed,
		      spare < 60 ? "one worked" : "none worked");
	ut_open(&t, false);
	UT_STR_EQ(ut_cat(&t, bfsd_branch_find(t.fs, "sib"), "sibfile"), "sib's");
	check_recovered(&t, ref, n / 2, &failures);
	report(&failures);
	ut_close(&t);
	free(ref);
}
END_TEST

START_TEST(unreadable_journal_is_dropped)
{
	struct bfsd_branch *b;
	char *before;
	struct ut t;

	ut_init(&t);
	make_base(&t);
	before = ut_tree(t.base);
	ut_open(&t, true);
	b = ut_branch(&t, MAIN(&t), "b");
	make_changes(&t, b);
	ut_close(&t);
	ck_assert_int_eq(bfs_write_file(ut_spath(&t, "journal"), "J 2 3\nP 9 0 1:a"), 0);
	ut_open(&t, true);
	/* The plan never made it: nothing was committed. */
	ck_assert(!plan_in_flight(&t));
	UT_STR_EQ(ut_tree(t.base), before);
	ck_assert_ptr_nonnull(bfsd_branch_find(t.fs, "b"));
	ck_assert_uint_eq(MAIN(&t)->gen, 0);
	UT_STR_EQ(ut_cat(&t, bfsd_branch_find(t.fs, "b"), "f"), "v2");
	free(before);
	ut_close(&t);
}
END_TEST

START_TEST(crash_between_recording_and_removing_the_journal)
{
	struct bfsd_branch *b;
	char *journal, *after;
	struct ut t;

	ut_init(&t);
	make_base(&t);
	ut_open(&t, true);
	ut_branch(&t, MAIN(&t), "sib");
	b = ut_branch(&t, MAIN(&t), "b");
	make_changes(&t, b);
	/* Keep the complete journal of a commit that then finishes. */
	pthread_rwlock_wrlock(&t.fs->tree_lock);
	{
		struct bfsd_oplist ops = { 0 };

		ck_assert_int_eq(bfsd_commit_plan(t.fs, b, &ops), 0);
		ck_assert_int_eq(bfsd_journal_begin(t.fs, b, &ops), 0);
		journal = bfs_read_file(ut_spath(&t, "journal"));
		ck_assert_int_eq(
			bfsd_commit_apply(t.fs, b, &ops, &(size_t){ 0 }, bfsd_journal_done, t.fs),
			0);
		ck_assert_int_eq(bfsd_commit_finish(t.fs, b), 0);
		bfsd_oplist_free(&ops);
	}
	pthread_rwlock_unlock(&t.fs->tree_lock);
	after = ut_tree(t.base);
	ut_close(&t);
	/* The state log says committed, but the journal is still there. */
	ck_assert_ptr_nonnull(journal);
	ck_assert_int_eq(bfs_write_file(ut_spath(&t, "journal"), journal), 0);
	ut_open(&t, true);
	ck_assert(!plan_in_flight(&t));
	UT_STR_EQ(ut_tree(t.base), after);
	ck_assert_uint_eq(MAIN(&t)->gen, 1);
	ck_assert_ptr_null(bfsd_branch_find(t.fs, "b"));
	ck_assert(bfsd_branch_is_stale(bfsd_branch_find(t.fs, "sib")));
	free(journal);
	free(after);
	ut_close(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, interrupted_after_every_op_recorded);
	tcase_add_test(tc, interrupted_before_recording_an_op);
	tcase_add_test(tc, crashed_after_every_op);
	tcase_add_test(tc, nested_commit_interrupted_after_every_op);
	tcase_add_test(tc, unreadable_journal_is_dropped);
	tcase_add_test(tc, a_layer_that_cannot_be_opened_fails_the_open);
	tcase_add_test(tc, opens_out_of_descriptors_change_nothing);
	tcase_add_test(tc, crash_between_recording_and_removing_the_journal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_main(suite());
}
