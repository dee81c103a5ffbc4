/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage limits on a real mount.
 *
 * With --max-storage the mount's statfs shows the limit as its size and what
 * the branches hold as used, byte for byte (rounded up to the block size):
 * the tests follow the count through copy-up, appends, truncation, unlink,
 * rename, hard links, commit, abort, nested commit, main's preservation and
 * a kill -9 with a remount.  A write that would pass the limit fails with
 * ENOSPC, whole; what was written before stays readable and the branch stays
 * usable.
 *
 * Without a limit, a full disk gives ENOSPC just as cleanly: the storage (or
 * the base) is put on a small tmpfs, filled, and the mount must keep every
 * byte it acknowledged, keep serving, and lose no branch across a crash.
 * Every tmpfs is unmounted by an unchecked teardown, which runs in the
 * runner's own process even when a test failed.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KiB   1024LL
#define MiB   (1024LL * KiB)
#define LIMIT (8 * MiB)
#define CHUNK (64 * KiB)

static const char *const quota_args[] = { "--max-storage", "8M", NULL };
static struct bfs_mount m;

/* ---- paths ---- */

static const char *at(const char *root, const char *rel)
{
	static char buf[16][4096];
	static int next;
	char *p = buf[next++ % 16];

	snprintf(p, 4096, "%s/%s", root, rel);
	return p;
}

/* A path in branch b ("main": the mount root on main). */
static const char *in(const char *b, const char *rel)
{
	static char buf[16][4096];
	static int next;
	char *p = buf[next++ % 16];

	if (!strcmp(b, "main"))
		snprintf(p, 4096, "%s/%s", m.mnt, rel);
	else
		snprintf(p, 4096, "%s/@%s/%s", m.mnt, b, rel);
	return p;
}

static const char *ctl(const char *b)
{
	static char buf[4][4096];
	static int next;

	return bfs_ctl_path(buf[next++ % 4], &m, b);
}

static void create(const char *parent, const char *name)
{
	int ret = bfs_branch_create(&m, parent, name);

	ck_assert_msg(ret == 0, "create %s under %s: %s", name, parent ? parent : "main",
		      strerror(-ret));
}

/* ---- data with a recognisable pattern ---- */

static unsigned char pat(off_t off, int seed)
{
	return (unsigned char)(off * 7 + (off >> 12) * 3 + seed * 29);
}

/* pwrite len pattern bytes at off through fd, in chunks: 0, or -errno of
 * the first failing chunk (with *done bytes written before it). */
static int put_pattern(int fd, off_t off, long long len, int seed, long long *done)
{
	static unsigned char buf[CHUNK];
	long long d = 0;

	while (d < len) {
		size_t n = len - d < CHUNK ? (size_t)(len - d) : CHUNK;
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + d + i, seed);
		w = pwrite(fd, buf, n, off + d);
		if (w < 0) {
			if (done)
				*done = d;
			return -errno;
		}
		d += w;
	}
	if (done)
		*done = d;
	return 0;
}

/* Create (or extend) path with len pattern bytes at off. */
static void write_pattern(const char *path, off_t off, long long len, int seed)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	int ret;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ret = put_pattern(fd, off, len, seed, NULL);
	ck_assert_msg(ret == 0, "write %lld bytes to %s: %s", len, path, strerror(-ret));
	ck_sys(close(fd));
}

/* Bytes [off, off+len) of path hold the pattern of seed. */
static void ck_pattern(const char *path, off_t off, long long len, int seed)
{
	static unsigned char buf[CHUNK];
	int fd = open(path, O_RDONLY);
	long long d = 0, bad = -1;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	while (d < len && bad < 0) {
		size_t n = len - d < CHUNK ? (size_t)(len - d) : CHUNK;
		ssize_t r = pread(fd, buf, n, off + d);

		if (r != (ssize_t)n) {
			close(fd);
			ck_abort_msg("%s: read %zu at %lld: %zd (%s)", path, n,
				     (long long)(off + d), r, r < 0 ? strerror(errno) : "short");
		}
		for (size_t i = 0; i < n && bad < 0; i++)
			if (buf[i] != pat(off + d + i, seed))
				bad = off + d + i;
		d += n;
	}
	close(fd);
	ck_assert_msg(bad < 0, "%s: byte %lld is not what was written", path, bad);
}

static long long size_of(const char *path)
{
	struct stat st;

	ck_assert_msg(lstat(path, &st) == 0, "lstat %s: %s", path, strerror(errno));
	return st.st_size;
}

/* ---- what statfs says ---- */

/* Bytes used of the limit according to statfs on the mount; also checks
 * that the size shown is the limit. */
static long long used(void)
{
	struct statvfs sv;

	ck_assert_msg(statvfs(m.mnt, &sv) == 0, "statvfs %s: %s", m.mnt, strerror(errno));
	ck_assert_msg((long long)sv.f_blocks * (long long)sv.f_frsize == LIMIT,
		      "statfs size: %llu blocks of %lu bytes, not the 8M limit",
		      (unsigned long long)sv.f_blocks, (unsigned long)sv.f_frsize);
	ck_assert_msg(sv.f_bavail <= sv.f_bfree && sv.f_bfree <= sv.f_blocks,
		      "statfs counts out of order: blocks %llu free %llu avail %llu",
		      (unsigned long long)sv.f_blocks, (unsigned long long)sv.f_bfree,
		      (unsigned long long)sv.f_bavail);
	return (long long)(sv.f_blocks - sv.f_bavail) * (long long)sv.f_frsize;
}

/* Data bytes rounded up to statfs's block size (a multiple of 4 KiB). */
static long long blocks_of(long long bytes)
{
	struct statvfs sv;

	ck_sys(statvfs(m.mnt, &sv));
	return (bytes + (long long)sv.f_frsize - 1) / (long long)sv.f_frsize *
	       (long long)sv.f_frsize;
}

#define ck_used(bytes, when)                                                                      \
	do {                                                                                      \
		long long _u = used(), _e = blocks_of(bytes);                                     \
		ck_assert_msg(_u == _e, "storage used %s: expected %lld bytes, statfs says %lld", \
			      (when), _e, _u);                                                    \
	} while (0)

/* ---- a mount with a limit ---- */

static void make_base(void)
{
	ck_sys(mkdir(at(m.base, "tree"), 0755));
	write_pattern(at(m.base, "big"), 0, 2 * MiB, 1);
	write_pattern(at(m.base, "big2"), 0, 2 * MiB, 2);
	write_pattern(at(m.base, "small"), 0, 64 * KiB, 3);
	write_pattern(at(m.base, "mainfile"), 0, 512 * KiB, 4);
	write_pattern(at(m.base, "tree/t1"), 0, 128 * KiB, 5);
	write_pattern(at(m.base, "tree/t2"), 0, 128 * KiB, 6);
	write_pattern(at(m.base, "keep"), 0, 100, 7);
}

static void setup(void)
{
	bfs_mount_prepare(&m);
	make_base();
	bfs_mount_start(&m, quota_args);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

START_TEST(statfs_shows_the_limit)
{
	struct statvfs sv;

	ck_used(0, "on a fresh mount");
	create(NULL, "b");
	ck_used(0, "after creating a branch");
	/* Reading costs nothing. */
	ck_pattern(in("b", "big"), 0, 2 * MiB, 1);
	ck_used(0, "after reading base files in a branch");
	ck_sys(statvfs(at(m.mnt, "@b"), &sv));
	ck_assert_int_eq((long long)sv.f_blocks * sv.f_frsize, LIMIT);
}
END_TEST

START_TEST(accounting_follows_every_change)
{
	long long u = 0;
	int fd;

	create(NULL, "b");
	/* Copy-up of a big base file, by a one-byte write in place. */
	write_pattern(in("b", "big"), 0, 1, 1);
	u += 2 * MiB;
	ck_used(u, "after copy-up of a 2 MiB base file");
	/* Appends. */
	write_pattern(in("b", "big"), 2 * MiB, 256 * KiB, 1);
	u += 256 * KiB;
	ck_used(u, "after a 256 KiB append");
	/* Truncate down, then up (a hole is counted at its size). */
	ck_sys(truncate(in("b", "big"), 1 * MiB));
	u -= 1280 * KiB;
	ck_used(u, "after truncating to 1 MiB");
	ck_sys(truncate(in("b", "big"), 3 * MiB));
	u += 2 * MiB;
	ck_used(u, "after truncating up to 3 MiB");
	ck_pattern(in("b", "big"), 0, 1 * MiB, 1);
	/* A new file, then unlink of the copied-up one. */
	write_pattern(in("b", "new"), 0, 512 * KiB, 7);
	u += 512 * KiB;
	ck_used(u, "after a new 512 KiB file");
	ck_sys(unlink(in("b", "big")));
	u -= 3 * MiB;
	ck_used(u, "after unlinking the copied-up file");
	/* Renames: of a branch-only file (free), of a base file (a copy), of a
	 * base directory (no copy). */
	ck_sys(rename(in("b", "new"), in("b", "new2")));
	ck_used(u, "after renaming a branch file");
	ck_sys(rename(in("b", "small"), in("b", "small2")));
	u += 64 * KiB;
	ck_used(u, "after renaming a 64 KiB base file");
	ck_sys(rename(in("b", "tree"), in("b", "tree2")));
	ck_used(u, "after renaming a base directory");
	ck_pattern(in("b", "tree2/t1"), 0, 128 * KiB, 5);
	/* Hard links: one inode, counted once, until its last name goes. */
	write_pattern(in("b", "h1"), 0, 128 * KiB, 8);
	u += 128 * KiB;
	ck_sys(link(in("b", "h1"), in("b", "h2")));
	ck_sys(link(in("b", "h1"), in("b", "h3")));
	ck_used(u, "after two more links to a 128 KiB file");
	ck_sys(unlink(in("b", "h1")));
	ck_sys(unlink(in("b", "h2")));
	ck_used(u, "after unlinking two of three links");
	ck_sys(unlink(in("b", "h3")));
	u -= 128 * KiB;
	ck_used(u, "after unlinking the last link");
	/* O_TRUNC copies nothing; what is written then counts. */
	fd = open(in("b", "big2"), O_WRONLY | O_TRUNC);
	ck_assert_msg(fd >= 0, "open O_TRUNC: %s", strerror(errno));
	ck_sys(close(fd));
	ck_used(u, "after O_TRUNC of a base file");
	write_pattern(in("b", "big2"), 0, 4097, 9);
	u += 4097;
	ck_used(u, "after writing 4097 bytes");
	/* fallocate reserves. */
	fd = open(in("b", "alloc"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_sys(fallocate(fd, 0, 0, 256 * KiB));
	ck_sys(close(fd));
	u += 256 * KiB;
	ck_used(u, "after fallocate of 256 KiB");
	/* The base never changed. */
	ck_pattern(at(m.base, "big"), 0, 2 * MiB, 1);
	ck_pattern(at(m.base, "big2"), 0, 2 * MiB, 2);
	ck_assert_int_eq(size_of(at(m.base, "small")), 64 * KiB);
}
END_TEST

START_TEST(enospc_at_the_limit_loses_nothing)
{
	long long total = 0, rest;
	char one = 'x';
	int fd, ret;

	create(NULL, "b");
	create(NULL, "c");
	write_pattern(in("b", "odd"), 0, 4097, 11);
	fd = open(in("b", "fill"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	/* Chunks until the limit refuses one: the refused chunk is not
	 * written at all. */
	ret = put_pattern(fd, 0, 2 * LIMIT, 12, &total);
	ck_assert_msg(ret == -ENOSPC, "filling to the limit: expected ENOSPC, got %s",
		      strerror(-ret));
	ck_assert_int_eq(total % CHUNK, 0);
	ck_assert_int_eq(size_of(in("b", "fill")), total);
	rest = LIMIT - 4097 - total;
	ck_assert_msg(rest >= 0 && rest < CHUNK, "stopped %lld bytes before the limit", rest);
	ck_used(4097 + total, "when the limit refused a write");
	/* One byte over the limit fails, exactly up to it succeeds. */
	errno = 0;
	ck_assert_msg(pwrite(fd, (char[CHUNK]){ 0 }, rest + 1, total) == -1 && errno == ENOSPC,
		      "a write one byte past the limit: %s", strerror(errno));
	ck_assert_int_eq(size_of(in("b", "fill")), total);
	ret = put_pattern(fd, total, rest, 12, NULL);
	ck_assert_msg(ret == 0, "a write exactly up to the limit: %s", strerror(-ret));
	total += rest;
	ck_used(LIMIT, "at the limit");
	ck_errno(pwrite(fd, &one, 1, total), ENOSPC);
	ck_errno(ftruncate(fd, total + 1), ENOSPC);
	ck_errno(fallocate(fd, 0, total, 4096), ENOSPC);
	ck_sys(close(fd));
	/* The limit is the mount's, not the branch's. */
	ck_ret(bfs_pwrite_file(in("c", "x"), &one, 1, 0), -ENOSPC);
	/* Copy-up of a base file does not fit: the branch still sees it. */
	ck_errno(open(in("b", "big"), O_WRONLY), ENOSPC);
	ck_errno(truncate(in("b", "small"), 100), ENOSPC);
	ck_pattern(in("b", "big"), 0, 2 * MiB, 1);
	ck_pattern(in("b", "small"), 0, 64 * KiB, 3);
	/* Everything acknowledged is there. */
	ck_pattern(in("b", "fill"), 0, total, 12);
	ck_pattern(in("b", "odd"), 0, 4097, 11);
	ck_used(LIMIT, "after the refused writes");
	/* The branch stays usable: what needs no data works. */
	ck_sys(mkdir(in("b", "dir"), 0755));
	ck_sys(close(open(in("b", "dir/empty"), O_WRONLY | O_CREAT, 0644)));
	ck_sys(rename(in("b", "odd"), in("b", "dir/odd")));
	ck_sys(symlink("fill", in("b", "link")));
	ck_sys(chmod(in("b", "fill"), 0600));
	/* Space given back is usable at once. */
	ck_sys(truncate(in("b", "fill"), total - 8 * KiB));
	ck_ret(bfs_pwrite_file(in("c", "x"), (char[8 * KiB]){ 1 }, 8 * KiB, 0), 0);
	ck_used(LIMIT, "after shrinking 8 KiB and using them in another branch");
	ck_sys(unlink(in("b", "fill")));
	ck_used(4097 + 8 * KiB, "after unlinking the big file");
	write_pattern(in("b", "big"), 0, 1, 1);
	ck_used(4097 + 8 * KiB + 2 * MiB, "after the copy-up that failed before");
	/* And it commits. */
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_pattern(at(m.base, "dir/odd"), 0, 4097, 11);
	ck_pattern(at(m.base, "big"), 0, 2 * MiB, 1);
	/* c still sees the old big: main preserved it, in storage. */
	ck_used(8 * KiB + 2 * MiB, "after the commit, with c live");
	ck_pattern(in("c", "big"), 0, 2 * MiB, 1);
}
END_TEST

START_TEST(commit_at_the_limit_succeeds)
{
	long long total = 0;
	int fd, ret;

	/* b rewrites a base file and fills the rest: committing frees space,
	 * so it must work at the limit. */
	create(NULL, "b");
	write_pattern(in("b", "keep"), 0, 4 * KiB, 24);
	write_pattern(in("b", "big"), 0, 4 * KiB, 25);
	fd = open(in("b", "fill"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ret = put_pattern(fd, 0, LIMIT, 26, &total);
	ck_assert_int_eq(ret, -ENOSPC);
	ck_sys(close(fd));
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_used(0, "after the commit");
	ck_pattern(at(m.base, "keep"), 0, 4 * KiB, 24);
	ck_pattern(at(m.base, "big"), 0, 4 * KiB, 25);
	ck_pattern(at(m.base, "fill"), 0, total, 26);
}
END_TEST

START_TEST(commit_that_must_preserve_past_the_limit_is_all_or_nothing)
{
	char *before, *after;
	long long total = 0;
	int fd, ret;

	/* sib sees the base as it is: a commit replacing big must preserve
	 * the old 2 MiB for it, which the limit has no room for. */
	create(NULL, "b");
	create(NULL, "sib");
	write_pattern(in("b", "keep"), 0, 4 * KiB, 27);
	write_pattern(in("b", "new"), 0, 4 * KiB, 28);
	ck_sys(unlink(in("b", "big")));
	write_pattern(in("b", "big"), 0, 4 * KiB, 29);
	fd = open(in("b", "fill"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ret = put_pattern(fd, 0, LIMIT - 3 * 4 * KiB - 1 * MiB, 30, &total);
	ck_assert_int_eq(ret, 0);
	ck_sys(close(fd));
	before = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ret = bfs_ioc_commit(ctl("b"));
	after = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	if (ret == 0) {
		ck_pattern(at(m.base, "big"), 0, 4 * KiB, 29);
		ck_pattern(at(m.base, "keep"), 0, 4 * KiB, 27);
	} else {
		ck_assert_msg(ret == -ENOSPC, "commit: %s", strerror(-ret));
		ck_tree_eq(before, after);
		ck_pattern(in("b", "keep"), 0, 4 * KiB, 27);
		ck_pattern(in("b", "new"), 0, 4 * KiB, 28);
		ck_pattern(in("b", "big"), 0, 4 * KiB, 29);
	}
	/* Either way sib's snapshot is whole. */
	ck_pattern(in("sib", "big"), 0, 2 * MiB, 1);
	ck_assert_int_eq(size_of(in("sib", "keep")), 100);
	free(before);
	free(after);
}
END_TEST

START_TEST(commit_and_abort_give_space_back)
{
	create(NULL, "a");
	create(NULL, "b");
	write_pattern(in("a", "fa"), 0, 1 * MiB, 21);
	write_pattern(in("b", "fb"), 0, 2 * MiB, 22);
	ck_used(3 * MiB, "with two branches");
	/* Abort returns the space when it returns, before any reclaiming. */
	ck_ret(bfs_ioc_abort(ctl("b")), 0);
	ck_used(1 * MiB, "right after the abort");
	ck_ret(bfs_ioc_commit(ctl("a")), 0);
	ck_used(0, "after the commit into main");
	ck_pattern(at(m.base, "fa"), 0, 1 * MiB, 21);
	ck_absent(at(m.base, "fb"));
}
END_TEST

START_TEST(commit_with_a_live_sibling_counts_the_preserved_files)
{
	create(NULL, "a");
	create(NULL, "sib");
	/* a replaces a 2 MiB base file that sib still sees. */
	ck_sys(unlink(in("a", "big")));
	write_pattern(in("a", "big"), 0, 1 * MiB, 31);
	ck_used(1 * MiB, "before the commit");
	ck_ret(bfs_ioc_commit(ctl("a")), 0);
	/* The old big moved out of the base into main's preservation layer:
	 * sib's snapshot costs 2 MiB now. */
	ck_used(2 * MiB, "after the commit, with sib live");
	ck_pattern(in("sib", "big"), 0, 2 * MiB, 1);
	ck_pattern(at(m.base, "big"), 0, 1 * MiB, 31);
	ck_ret(bfs_ioc_abort(ctl("sib")), 0);
	ck_used(0, "once no branch needs the preserved file");
}
END_TEST

START_TEST(nested_commit_keeps_the_total)
{
	create(NULL, "p");
	write_pattern(in("p", "pf"), 0, 1 * MiB, 41);
	create("p", "c");
	write_pattern(in("c", "cf"), 0, 512 * KiB, 42);
	/* pf is in p's frozen layer: c's append copies it up. */
	write_pattern(in("c", "pf"), 1 * MiB, 4 * KiB, 41);
	ck_used(2 * MiB + 516 * KiB, "with p and its child c");
	ck_ret(bfs_ioc_commit(ctl("c")), 0);
	ck_used(2 * MiB + 516 * KiB, "after committing c into p");
	ck_pattern(in("p", "pf"), 0, 1 * MiB + 4 * KiB, 41);
	ck_pattern(in("p", "cf"), 0, 512 * KiB, 42);
	ck_ret(bfs_ioc_commit(ctl("p")), 0);
	ck_used(0, "after committing p into main");
	ck_pattern(at(m.base, "pf"), 0, 1 * MiB + 4 * KiB, 41);
	ck_pattern(at(m.base, "cf"), 0, 512 * KiB, 42);
}
END_TEST

/*
 * A commit into a parent branch keeps the committed branch's frozen layer
 * (its inode numbers may be carried by the moved copies): its bytes count
 * as the parent's at once, as the next mount counts them.  They did not
 * count until the next mount.
 */
START_TEST(a_layer_kept_by_a_nested_commit_counts_at_once)
{
	long long before;

	create(NULL, "g");
	create("g", "p");
	write_pattern(in("p", "pf"), 0, 1 * MiB, 71);
	create("p", "c");
	write_pattern(in("c", "pf"), 1 * MiB, 4 * KiB, 71);
	ck_ret(bfs_ioc_commit(ctl("c")), 0);
	ck_ret(bfs_ioc_commit(ctl("p")), 0);
	/* g shows pf (1 MiB + 4 KiB); p's frozen layer with the first 1 MiB
	 * is kept. */
	ck_used(2 * MiB + 4 * KiB, "after committing p into g");
	before = used();
	bfs_mount_crash(&m);
	bfs_mount_start(&m, quota_args);
	ck_used(before, "after a crash and a remount");
	ck_pattern(in("g", "pf"), 0, 1 * MiB + 4 * KiB, 71);
}
END_TEST

START_TEST(main_writes_are_charged_while_branches_need_the_old_data)
{
	/* No branch: main writes the base directly and costs nothing. */
	write_pattern(in("main", "mainfile"), 0, 4 * KiB, 51);
	ck_used(0, "after a write through main with no branch");
	create(NULL, "b");
	/* Now b needs the old version: it is preserved and counted. */
	write_pattern(in("main", "mainfile"), 0, 4 * KiB, 52);
	ck_used(512 * KiB, "after a write through main that b must not see");
	ck_pattern(in("b", "mainfile"), 0, 4 * KiB, 51);
	ck_ret(bfs_ioc_abort(ctl("b")), 0);
	ck_used(0, "after aborting the only branch");
}
END_TEST

START_TEST(usage_is_the_same_after_kill_and_remount)
{
	long long before, after, bytes;
	int fd;

	create(NULL, "a");
	write_pattern(in("a", "f"), 0, 1 * MiB, 61);
	write_pattern(in("a", "h1"), 0, 256 * KiB, 62);
	ck_sys(link(in("a", "h1"), in("a", "h2")));
	fd = open(in("a", "sparse"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_sys(ftruncate(fd, 1 * MiB + 1));
	ck_sys(close(fd));
	create(NULL, "b");
	write_pattern(in("b", "big"), 0, 1, 1);
	create("b", "bc");
	write_pattern(in("bc", "deep"), 0, 64 * KiB, 63);
	write_pattern(in("main", "mainfile"), 0, 4 * KiB, 64);
	create(NULL, "gone");
	write_pattern(in("gone", "g"), 0, 1 * MiB, 65);
	ck_ret(bfs_ioc_abort(ctl("gone")), 0);
	/* a's files (the linked one once), b's copy of big, bc's file, and
	 * the old mainfile preserved for the branches. */
	bytes = 1 * MiB + 256 * KiB + (1 * MiB + 1) + 2 * MiB + 64 * KiB + 512 * KiB;
	before = used();
	ck_used(bytes, "before the crash");
	bfs_mount_crash(&m);
	bfs_mount_start(&m, quota_args);
	after = used();
	ck_assert_msg(after == before, "used %lld bytes before the crash, %lld after the remount",
		      before, after);
	/* The limit is enforced on the recomputed count, to the byte. */
	fd = open(in("a", "grow"), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_errno(ftruncate(fd, LIMIT - bytes + 1), ENOSPC);
	ck_sys(ftruncate(fd, LIMIT - bytes));
	ck_sys(close(fd));
	ck_used(LIMIT, "after growing a file to the limit");
	ck_pattern(in("a", "f"), 0, 1 * MiB, 61);
	ck_pattern(in("a", "h2"), 0, 256 * KiB, 62);
	ck_pattern(in("bc", "deep"), 0, 64 * KiB, 63);
	ck_pattern(in("b", "mainfile"), 0, 4 * KiB, 4);
}
END_TEST

/* Exit status of a daemon started with one bad limit (it must not mount). */
static int bad_limit_status(const char *opt, const char *val)
{
	const char *argv[] = { BFS_DAEMON_PATH, "-f", "--base", m.base, "--storage",
			       m.storage,	opt,  val,	m.mnt,	NULL };
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(limit_forms)
{
	static const char *const forms[][2] = {
		{ "--max-storage", "8192K" }, { "--max-storage", "8MiB" },
		{ "--max-storage", "8mb" },   { "--max-storage", "8388608" },
		{ "-o", "max_storage=8M" },   { "--max-storage", "0.0078125G" },
	};
	static const char *const bad[][2] = {
		{ "--max-storage", "12Q" },  { "--max-storage", "-1M" }, { "--max-storage", "0" },
		{ "--max-storage", "" },     { "--max-storage", "M" },	 { "-o", "max_storage=8X" },
		{ "--max-storage", "1e30" },
	};

	/* setup mounted with "8M": the others give the same limit. */
	ck_used(0, "with --max-storage 8M");
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *const args[] = { forms[i][0], forms[i][1], NULL };

		bfs_mount_stop(&m);
		bfs_mount_start(&m, args);
		ck_used(0, forms[i][1]);
	}
	bfs_mount_stop(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(bad_limit_status(bad[i][0], bad[i][1]) == 2,
			      "%s '%s' was not refused as a usage error", bad[i][0], bad[i][1]);
	bfs_mount_start(&m, quota_args);
}
END_TEST

/* ---- a full disk, without a limit ---- */

static char full_root[4096]; /* every tmpfs of this case is below it */

static void tmpfs_mount(const char *dir, const char *size)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0755", size);
	ck_assert_msg(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", dir,
		      strerror(errno));
	ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0, "mount tmpfs on %s: %s", dir,
		      strerror(errno));
}

/* Detach every mount below root, deepest first (FUSE mounts and tmpfs). */
static void sweep_mounts(const char *root)
{
	for (int pass = 0; pass < 8; pass++) {
		char line[8192], found[4096] = "";
		size_t len = strlen(root);
		FILE *f = fopen("/proc/self/mounts", "r");

		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			char dev[4096], dir[4096];

			if (sscanf(line, "%4095s %4095s", dev, dir) == 2 &&
			    !strncmp(dir, root, len) && strlen(dir) > strlen(found))
				snprintf(found, sizeof(found), "%s", dir);
		}
		fclose(f);
		if (!found[0])
			return;
		umount2(found, MNT_DETACH);
	}
}

static void full_case_setup(void)
{
	bfs_scratch(full_root, sizeof(full_root));
}

static void full_case_teardown(void)
{
	sweep_mounts(full_root);
	bfs_rm_rf(full_root);
}

/* A mount whose storage (and, with base_size, base) is a small tmpfs. */
static void full_setup_with(const char *storage_size, const char *base_size)
{
	char sfs[4096];

	memset(&m, 0, sizeof(m));
	snprintf(m.dir, sizeof(m.dir), "%s/t.XXXXXX", full_root);
	ck_assert(mkdtemp(m.dir) != NULL);
	bfs_path(m.base, m.dir, "base");
	bfs_path(m.mnt, m.dir, "mnt");
	bfs_path(sfs, m.dir, "sfs");
	tmpfs_mount(sfs, storage_size);
	bfs_path(m.storage, sfs, "st");
	if (base_size)
		tmpfs_mount(m.base, base_size);
	else
		ck_sys(mkdir(m.base, 0755));
	ck_sys(mkdir(m.mnt, 0755));
}

static void full_setup(void)
{
	full_setup_with("4m", NULL);
	write_pattern(at(m.base, "big"), 0, 2 * MiB, 1);
	write_pattern(at(m.base, "keep"), 0, 100, 2);
	bfs_mount_start(&m, NULL);
}

static void full_teardown(void)
{
	bfs_mount_stop(&m);
	sweep_mounts(m.dir);
}

/* Write pattern chunks to path until the disk refuses: the bytes the file
 * holds then (all acknowledged). */
static long long fill_up(const char *path, int seed)
{
	long long done = 0;
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	int ret;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ret = put_pattern(fd, 0, 64 * MiB, seed, &done);
	ck_assert_msg(ret == -ENOSPC, "filling %s: expected ENOSPC, got %s", path, strerror(-ret));
	ck_sys(close(fd));
	ck_assert_int_eq(size_of(path), done);
	return done;
}

/* Size and free space of the filesystem at path, in bytes. */
static void space_of(const char *path, long long *size, long long *avail)
{
	struct statvfs sv;

	ck_assert_msg(statvfs(path, &sv) == 0, "statvfs %s: %s", path, strerror(errno));
	*size = (long long)sv.f_blocks * (long long)sv.f_frsize;
	*avail = (long long)sv.f_bavail * (long long)sv.f_frsize;
}

/*
 * statfs of a view reports the filesystem its writes land on: the base's
 * disk for main, the storage (here a 4 MiB tmpfs) for a branch, through
 * /@b/ and through the mount root switched to b.
 */
START_TEST(statfs_of_a_branch_is_the_storage)
{
	long long size, avail, ssize, savail, bsize, bavail;

	create(NULL, "b");
	space_of(m.base, &bsize, &bavail);
	space_of(m.mnt, &size, &avail);
	ck_assert_int_eq(size, bsize);
	space_of(at(m.mnt, "@main"), &size, &avail);
	ck_assert_int_eq(size, bsize);
	space_of(m.storage, &ssize, &savail);
	ck_assert_int_eq(ssize, 4 * MiB);
	space_of(at(m.mnt, "@b"), &size, &avail);
	ck_assert_int_eq(size, 4 * MiB);
	ck_assert_int_eq(avail, savail);
	/* A branch's writes use the space it reports. */
	write_pattern(in("b", "one-mib"), 0, MiB, 9);
	space_of(m.storage, &ssize, &savail);
	space_of(at(m.mnt, "@b/one-mib"), &size, &avail);
	ck_assert_int_eq(avail, savail);
	ck_assert_msg(avail <= 3 * MiB, "%lld bytes free after 1 MiB of 4 MiB", avail);
	ck_assert_int_eq(bfs_ctl(ctl(NULL), "switch:b"), 0);
	space_of(m.mnt, &size, &avail);
	ck_assert_int_eq(size, 4 * MiB);
	ck_assert_int_eq(avail, savail);
}
END_TEST

START_TEST(full_storage_gives_enospc_and_keeps_serving)
{
	long long n, again;
	char *list, *after, *base_before = bfs_tree_dump(m.base, BFS_DUMP_ALL);

	create(NULL, "b");
	n = fill_up(in("b", "fill"), 71);
	ck_assert_msg(n > 3 * MiB && n <= 4 * MiB, "filled %lld bytes of a 4 MiB tmpfs", n);
	ck_pattern(in("b", "fill"), 0, n, 71);
	/* Leave 1 MiB: a 2 MiB copy-up starts, cannot finish, and fails
	 * whole; the branch still shows the base's file, no half copy shows
	 * anywhere, and none keeps the space. */
	ck_sys(truncate(in("b", "fill"), n - 1 * MiB));
	ck_errno(open(in("b", "big"), O_WRONLY), ENOSPC);
	ck_pattern(in("b", "big"), 0, 2 * MiB, 1);
	after = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_tree_eq(base_before, after);
	free(after);
	list = bfs_list_dir(at(m.mnt, "@b"), BFS_DUMP_NOCTL);
	ck_assert_str_eq(list, "big fill keep");
	free(list);
	/* The mount serves: reads, listings, main's view, control files. */
	ck_pattern(in("main", "big"), 0, 2 * MiB, 1);
	ck_pattern(in("b", "keep"), 0, 100, 2);
	ck_pattern(in("b", "fill"), 0, n - 1 * MiB, 71);
	create(NULL, "c");
	/* Space freed is all usable again: the failed copy left nothing. */
	ck_sys(unlink(in("b", "fill")));
	again = fill_up(in("c", "fill"), 72);
	ck_assert_msg(again >= n - 64 * KiB,
		      "after freeing everything only %lld of the %lld bytes fit again", again, n);
	ck_sys(unlink(in("c", "fill")));
	write_pattern(in("b", "big"), 0, 1, 1);
	ck_pattern(in("b", "big"), 0, 2 * MiB, 1);
	free(base_before);
}
END_TEST

START_TEST(commit_needs_no_room_for_the_old_versions)
{
	/* b rewrites a 2 MiB base file: 2 MiB of the 4 MiB storage.  Nobody
	 * but b sees the old version, so committing needs no room for it. */
	create(NULL, "b");
	write_pattern(in("b", "big"), 0, 4 * KiB, 73);
	write_pattern(in("b", "new"), 0, 100 * KiB, 74);
	ck_ret(bfs_ioc_commit(ctl("b")), 0);
	ck_pattern(at(m.base, "big"), 0, 4 * KiB, 73);
	ck_pattern(at(m.base, "big"), 4 * KiB, 2 * MiB - 4 * KiB, 1);
	ck_pattern(at(m.base, "new"), 0, 100 * KiB, 74);
}
END_TEST

START_TEST(full_storage_then_kill_loses_no_branch)
{
	char name[64];
	bool created[120] = { false };
	int ok = 0, ret;

	create(NULL, "before");
	write_pattern(in("before", "k"), 0, 1000, 81);
	create(NULL, "filler");
	fill_up(in("filler", "blob"), 82);
	/* Branch creations on a full disk, enough for the branch log to need
	 * a new block: each works or fails with ENOSPC. */
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		ret = bfs_branch_create(&m, NULL, name);
		ck_assert_msg(ret == 0 || ret == -ENOSPC, "create %s on a full disk: %s", name,
			      strerror(-ret));
		created[i] = ret == 0;
		ok += ret == 0;
	}
	ck_assert_msg(ok < 120, "no creation failed: the disk was not full");
	/* Space comes back; work goes on in a new branch. */
	ck_sys(unlink(in("filler", "blob")));
	create(NULL, "after");
	write_pattern(in("after", "a"), 0, 2000, 83);
	bfs_mount_crash(&m);
	bfs_mount_start(&m, NULL);
	/* Every branch the mount acknowledged is back, with its files. */
	ck_pattern(in("before", "k"), 0, 1000, 81);
	ck_assert_msg(bfs_exists(at(m.mnt, "@filler")), "@filler is gone after the remount");
	ck_assert_msg(bfs_exists(at(m.mnt, "@after")),
		      "@after (created once space came back) is gone after the remount");
	ck_pattern(in("after", "a"), 0, 2000, 83);
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof(name), "@x%d", i);
		if (created[i])
			ck_assert_msg(bfs_exists(at(m.mnt, name)), "%s is gone after the remount",
				      name);
	}
}
END_TEST

/* Base on its own small tmpfs: 2 MiB of ballast leaves too little room
 * for the branch's 3 MiB file. */
static void full_base_setup(void)
{
	full_setup_with("16m", "8m");
	write_pattern(at(m.base, "ballast"), 0, 5 * MiB, 91);
	write_pattern(at(m.base, "keep"), 0, 100, 2);
	bfs_mount_start(&m, NULL);
	create(NULL, "b");
	write_pattern(in("b", "keep"), 0, 200, 92);
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		write_pattern(in("b", name), 0, 10, 93 + i);
	}
	write_pattern(in("b", "zz"), 0, 3 * MiB + 4 * KiB, 99);
}

/* b's changes, as the base holds them once b is committed. */
static void ck_committed(const char *root)
{
	ck_pattern(at(root, "keep"), 0, 200, 92);
	ck_assert_int_eq(size_of(at(root, "keep")), 200);
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		ck_pattern(at(root, name), 0, 10, 93 + i);
	}
	ck_pattern(at(root, "zz"), 0, 3 * MiB + 4 * KiB, 99);
}

START_TEST(commit_into_a_full_base_changes_nothing)
{
	char *before = bfs_tree_dump(m.base, BFS_DUMP_ALL), *after;
	int ret;

	ret = bfs_ioc_commit(ctl("b"));
	if (ret == 0) {
		ck_committed(m.base);
		free(before);
		return;
	}
	/* It did not fit: all or nothing, and nothing is what happened. */
	ck_assert_msg(ret == -ENOSPC, "commit into a full base: %s", strerror(-ret));
	after = bfs_tree_dump(m.base, BFS_DUMP_ALL);
	ck_tree_eq(before, after);
	ck_committed(at(m.mnt, "@b"));
	free(before);
	free(after);
}
END_TEST

/*
 * A commit that stops part-way (here: the base fills up) is decided: it is
 * retried before every later branch operation, which fails with its error
 * until there is room, and then completes whole.  Meanwhile @b still shows
 * all of b's changes.
 */
START_TEST(a_commit_stopped_by_a_full_base_finishes_once_there_is_room)
{
	ck_ret(bfs_ioc_commit(ctl("b")), -ENOSPC);
	ck_committed(at(m.mnt, "@b"));
	ck_ret(bfs_ctl(ctl(NULL), "create:x"), -ENOSPC);
	ck_ret(bfs_ioc_abort(ctl("b")), -ENOSPC);
	ck_committed(at(m.mnt, "@b"));
	ck_sys(unlink(at(m.base, "ballast")));
	ck_ret(bfs_ctl(ctl(NULL), "create:x"), 0);
	ck_committed(m.base);
	ck_committed(m.mnt);
	ck_absent(at(m.mnt, "@b"));
	ck_assert(bfs_exists(at(m.mnt, "@x")));
}
END_TEST

static bool try_mount(void);

/* The same commit survives a clean unmount (which otherwise drops every
 * branch); a mount refuses to serve while it still cannot finish it, and
 * finishes it first once there is room. */
START_TEST(a_commit_stopped_by_a_full_base_survives_unmounts)
{
	ck_ret(bfs_ioc_commit(ctl("b")), -ENOSPC);
	bfs_mount_stop(&m);
	ck_assert_msg(!try_mount(), "a mount served before finishing its journal");
	ck_sys(unlink(at(m.base, "ballast")));
	bfs_mount_start(&m, NULL);
	ck_committed(m.base);
	ck_absent(at(m.mnt, "@b"));
}
END_TEST

/* Start the daemon on m; true when it mounted, false when it exited. */
static bool try_mount(void)
{
	const char *argv[] = { BFS_DAEMON_PATH, "-f",	   "--base", m.base,
			       "--storage",	m.storage, m.mnt,    NULL };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct statfs sf;
	int status;

	m.pid = fork();
	ck_assert_int_ge(m.pid, 0);
	if (m.pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		if (statfs(m.mnt, &sf) == 0 && sf.f_type == 0x65735546 &&
		    bfs_exists(at(m.mnt, ".branchfs_ctl")))
			return true;
		if (waitpid(m.pid, &status, WNOHANG) == m.pid) {
			m.pid = 0;
			return false;
		}
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("branchfsd neither mounted nor exited within 10 s");
	return false;
}

START_TEST(a_crash_after_a_failed_commit_loses_nothing)
{
	/* The commit may fail; whatever it did, a crash, a remount that may
	 * fail while the base is full, then room in the base and a remount
	 * must leave b's changes somewhere: in the base or still in @b. */
	bfs_ioc_commit(ctl("b"));
	bfs_mount_crash(&m);
	if (try_mount())
		bfs_mount_crash(&m);
	ck_sys(unlink(at(m.base, "ballast")));
	bfs_mount_start(&m, NULL);
	if (bfs_exists(at(m.mnt, "@b")))
		ck_committed(at(m.mnt, "@b"));
	else
		ck_committed(m.base);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tq = tcase_create("max-storage");
	TCase *tf = tcase_create("full storage");
	TCase *tb = tcase_create("full base");

	tcase_add_checked_fixture(tq, setup, teardown);
	tcase_set_timeout(tq, 20);
	tcase_add_test(tq, statfs_shows_the_limit);
	tcase_add_test(tq, limit_forms);
	tcase_add_test(tq, accounting_follows_every_change);
	tcase_add_test(tq, enospc_at_the_limit_loses_nothing);
	tcase_add_test(tq, commit_at_the_limit_succeeds);
	tcase_add_test(tq, commit_that_must_preserve_past_the_limit_is_all_or_nothing);
	tcase_add_test(tq, commit_and_abort_give_space_back);
	tcase_add_test(tq, commit_with_a_live_sibling_counts_the_preserved_files);
	tcase_add_test(tq, nested_commit_keeps_the_total);
	tcase_add_test(tq, a_layer_kept_by_a_nested_commit_counts_at_once);
	tcase_add_test(tq, main_writes_are_charged_while_branches_need_the_old_data);
	tcase_add_test(tq, usage_is_the_same_after_kill_and_remount);
	suite_add_tcase(s, tq);

	tcase_add_unchecked_fixture(tf, full_case_setup, full_case_teardown);
	tcase_add_checked_fixture(tf, full_setup, full_teardown);
	tcase_set_timeout(tf, 20);
	tcase_add_test(tf, statfs_of_a_branch_is_the_storage);
	tcase_add_test(tf, full_storage_gives_enospc_and_keeps_serving);
	tcase_add_test(tf, commit_needs_no_room_for_the_old_versions);
	tcase_add_test(tf, full_storage_then_kill_loses_no_branch);
	suite_add_tcase(s, tf);

	tcase_add_unchecked_fixture(tb, full_case_setup, full_case_teardown);
	tcase_add_checked_fixture(tb, full_base_setup, full_teardown);
	tcase_set_timeout(tb, 30);
	tcase_add_test(tb, commit_into_a_full_base_changes_nothing);
	tcase_add_test(tb, a_crash_after_a_failed_commit_loses_nothing);
	tcase_add_test(tb, a_commit_stopped_by_a_full_base_finishes_once_there_is_room);
	tcase_add_test(tb, a_commit_stopped_by_a_full_base_survives_unmounts);
	suite_add_tcase(s, tb);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
