/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The commit intent journal: storage/journal holds the full plan of the
 * commit in flight, then one "done" line per applied op.
 *
 *   J <branch id> <nops>\n
 *   <kind> <layer> <stage> <atime> <mtime> <len>:<src> <len>:<dst>\n  (nops lines)
 *   E <xxh32 of everything above>\n
 *   D <i>\n                                              (appended)
 *
 * The file is kept and rewritten in place (making a file per commit costs
 * an inode allocation, slow on a filesystem that deletes a lot); it is
 * empty between commits.  A plan whose E line is missing or wrong (a crash
 * while writing it) is no plan: nothing had been applied.  At mount, a
 * plan whose branch is still in the tree is finished from the op after the
 * last done line (every op is idempotent on its own); one whose branch is
 * gone belonged to a commit that was already recorded.  Commits only roll
 * forward: once the whole plan is on disk, the commit happens.  One that
 * cannot finish yet (an op or its record fails: a full disk) stays here,
 * and the mount fails until it can; a running mount keeps it pending
 * (commit.c).  A journal that cannot be read (an I/O error, no memory)
 * fails the mount too, changing nothing: only a plan that is there and
 * torn means "not started".
 *
 * With durable, the plan is fsynced before the first op, and the storage
 * directory once per mount when the journal is first opened, so that the
 * journal's directory entry is on disk as well.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int add_path(struct bfsd_buf *b, const char *p)
{
	int ret = bfsd_buf_addf(b, " %zu:", strlen(p));

	return ret ? ret : bfsd_buf_add(b, p, strlen(p));
}

int bfsd_journal_begin(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_oplist *ops)
{
	struct bfsd_buf j = { 0 };
	int fd, ret;

	ret = bfsd_buf_addf(&j, "J %" PRIu64 " %zu\n", b->id, ops->n);
	for (size_t i = 0; i < ops->n && !ret; i++) {
		const struct bfsd_op *op = &ops->op[i];

		ret = bfsd_buf_addf(&j, "%c %" PRIu64 " %d %lld.%09ld %lld.%09ld", op->kind,
				    op->layer, op->stage, (long long)op->times[0].tv_sec,
				    op->times[0].tv_nsec, (long long)op->times[1].tv_sec,
				    op->times[1].tv_nsec);
		if (!ret)
			ret = add_path(&j, op->src);
		if (!ret)
			ret = add_path(&j, op->dst);
		if (!ret)
			ret = bfsd_buf_add(&j, "\n", 1);
	}
	if (!ret)
		ret = bfsd_buf_addf(&j, "E %08x\n", bfsd_store_sum(j.data, j.len));
	if (ret)
		goto out_free;
	if (fs->journal_fd < 0) {
		fs->journal_fd = openat(fs->storage_fd, "journal",
					O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fs->journal_fd < 0) {
			ret = -errno;
			goto out_free;
		}
		/* The file may be new: its name must survive a power loss
		 * as much as the plan written into it. */
		if (fs->durable && fsync(fs->storage_fd) < 0) {
			ret = -errno;
			close(fs->journal_fd);
			fs->journal_fd = -1;
			goto out_free;
		}
	}
	/* The plan's first half alone would be no plan: its checksum is last. */
	fd = fs->journal_fd;
	if (ftruncate(fd, 0) < 0)
		ret = -errno;
	if (!ret)
		ret = bfsd_write_all(fd, j.data, j.len / 2);
	bfsd_fault_point(fs, "journal-writing");
	if (!ret)
		ret = bfsd_write_all(fd, j.data + j.len / 2, j.len - j.len / 2);
	if (!ret && fs->durable && fsync(fd) < 0)
		ret = -errno;
	bfsd_fault_point(fs, "journal-written");
out_free:
	bfsd_buf_free(&j);
	return ret;
}

int bfsd_journal_done(void *arg, size_t i)
{
	struct bfsd_fs *fs = arg;
	char line[32];
	int n = snprintf(line, sizeof(line), "D %zu\n", i);

	bfsd_fault_point(fs, "op-applied");
	return bfsd_write_all(fs->journal_fd, line, n);
}

int bfsd_journal_end(struct bfsd_fs *fs)
{
	/* Empty: no commit in flight.  A stale plan whose branch is gone (the
	 * commit record came first) is ignored at the next mount anyway. */
	if (fs->journal_fd >= 0 && ftruncate(fs->journal_fd, 0) < 0)
		return -errno;
	return 0;
}

/* Read "<len>:<bytes>" at *p into a new string. */
static int take_path(char **p, const char *end, char **out)
{
	char *colon;
	size_t n = strtoull(*p, &colon, 10);

	if (colon == *p || *colon != ':' || colon + 1 + n > end)
		return -EINVAL;
	*out = strndup(colon + 1, n);
	if (!*out)
		return -ENOMEM;
	*p = colon + 1 + n;
	return 0;
}

static int parse(char *text, size_t len, uint64_t *id, struct bfsd_oplist *ops, size_t *next)
{
	char *p = text, *end = text + len, *e;
	size_t nops;
	unsigned int sum;
	int used = 0;

	if (sscanf(p, "J %" SCNu64 " %zu%n", id, &nops, &used) != 2)
		return -EINVAL;
	p += used + 1;
	for (size_t i = 0; i < nops; i++) {
		if (p >= end)
			return -EINVAL;
		struct bfsd_op op = { 0 };
		char kind;
		int ret;

		long long s0, s1;
		long n0, n1;

		if (sscanf(p, "%c %" SCNu64 " %d %lld.%ld %lld.%ld%n", &kind, &op.layer, &op.stage,
			   &s0, &n0, &s1, &n1, &used) != 7)
			return -EINVAL;
		op.times[0].tv_sec = s0;
		op.times[0].tv_nsec = n0;
		op.times[1].tv_sec = s1;
		op.times[1].tv_nsec = n1;
		p += used + 1;
		ret = p < end ? take_path(&p, end, &op.src) : -EINVAL;
		if (!ret) {
			p++;
			ret = p < end ? take_path(&p, end, &op.dst) : -EINVAL;
		}
		if (!ret)
			ret = bfsd_oplist_add(ops, kind, op.layer, op.src, op.dst, op.stage);
		if (!ret)
			memcpy(ops->op[ops->n - 1].times, op.times, sizeof(op.times));
		free(op.src);
		free(op.dst);
		if (ret)
			return ret;
		p++; /* newline */
	}
	if (p >= end || sscanf(p, "E %x", &sum) != 1 || bfsd_store_sum(text, p - text) != sum)
		return -EINVAL;
	e = memchr(p, '\n', end - p);
	*next = 0;
	for (p = e ? e + 1 : end; p < end;) {
		size_t i;

		if (sscanf(p, "D %zu", &i) == 1 && i + 1 > *next)
			*next = i + 1;
		e = memchr(p, '\n', end - p);
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

static int truncate_journal(struct bfsd_fs *fs)
{
	int fd = openat(fs->storage_fd, "journal", O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, 0) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int bfsd_journal_recover(struct bfsd_fs *fs)
{
	struct bfsd_oplist ops = { 0 };
	struct bfsd_buf text = { 0 };
	struct bfsd_branch *b;
	char chunk[65536];
	size_t next = 0;
	uint64_t id;
	ssize_t n = 0;
	int fd, ret = 0;

	unlinkat(fs->storage_fd, "journal.tmp", 0); /* from older versions */
	fd = openat(fs->storage_fd, "journal", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (!ret && (n = read(fd, chunk, sizeof(chunk))) > 0)
		ret = bfsd_buf_add(&text, chunk, n);
	if (!ret && n < 0)
		ret = -errno;
	close(fd);
	if (!ret && !text.len)
		goto out_free; /* no commit in flight */
	if (!ret) {
		ret = parse(text.data, text.len, &id, &ops, &next);
		if (ret == -EINVAL) {
			bfsd_warn("journal: incomplete plan; the commit had not started");
			ret = truncate_journal(fs);
			goto out_free;
		}
	}
	if (ret) {
		/* Not knowing is not "not started": the plan may be half
		 * applied, so nothing is decided and nothing is served. */
		bfsd_err("cannot read the commit journal %s/journal: %s; nothing was changed: "
			 "mount again once that is fixed",
			 fs->storage_path, bfsd_strerror(-ret));
		goto out_free;
	}
	/* Every live branch of the log is in the tree (the mount fails rather
	 * than drop one): a missing one was recorded gone with its commit. */
	b = bfsd_branch_find_id(fs, id);
	if (!b) {
		ret = truncate_journal(fs);
		goto out_free;
	}
	bfsd_warn("journal: finishing the commit of '%s' (%zu of %zu ops done)", b->name, next,
		  ops.n);
	fs->journal_fd = openat(fs->storage_fd, "journal", O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fs->journal_fd < 0) {
		ret = -errno;
		bfsd_err("cannot open the commit journal %s/journal: %s", fs->storage_path,
			 bfsd_strerror(-ret));
		goto out_free;
	}
	bfsd_commit_set_pending(fs, b, &ops, next);
	bfsd_commit_sweep_copies(fs);
	/* Nothing is served before it is done: still failing (a full disk,
	 * say), the mount fails and the journal stays. */
	ret = bfsd_commit_resume(fs, NULL);
	if (!ret) {
		/* The next commit opens it again (and, durable, syncs its
		 * directory entry, which the mount that made it may not have). */
		close(fs->journal_fd);
		fs->journal_fd = -1;
	} else {
		bfsd_err("cannot finish the commit of '%s' found in the journal (%zu of %zu ops "
			 "done): %s; the base stays partly changed until it does: make room and "
			 "mount again",
			 b->name, fs->pending_next, fs->pending_ops.n, bfsd_strerror(-ret));
	}
out_free:
	bfsd_oplist_free(&ops);
	bfsd_buf_free(&text);
	return ret;
}
