/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage directory: layout, lock, the branch-tree log and the trash.
 *
 *   storage/lock      flock()ed by the daemon that uses this storage
 *   storage/base      the base directory this storage belongs to
 *   storage/state     the log of the branch tree (below)
 *   storage/journal   the intent journal of a commit in flight (journal.c)
 *   storage/layers/N  layer N
 *   storage/work/     copies under construction (emptied at mount)
 *   storage/trash/    trees waiting for the reclaimer thread
 *
 * The state log is a sequence of transactions, each written by one write(2)
 * so a killed daemon leaves whole transactions only:
 *   T <nlines> <xxh32 of the lines>\n  followed by the lines
 * Lines (names hex-encoded, so any byte but '/' and NUL survives):
 *   B id gen parent_gen parent_id epoch created_ns nown nlayers layer... name
 *   G id                                 branch gone
 *   C id                                 current branch
 *   F next_branch next_layer next_epoch pres_first npres layer...
 * Replaying the log rebuilds the tree; a torn or corrupt tail is dropped.  At
 * every mount the log is rewritten as one snapshot (compaction).
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

uint32_t bfsd_store_sum(const char *p, size_t n)
{
	return XXH32(p, n, 0x62667364);
}

static int hex_name(struct bfsd_buf *b, const char *name)
{
	int ret = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p && !ret; p++)
		ret = bfsd_buf_addf(b, "%02x", *p);
	return ret;
}

static int add_branch(struct bfsd_buf *b, const struct bfsd_branch *br)
{
	int ret = bfsd_buf_addf(b,
				"B %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
				" %" PRIu64 " %d %d",
				br->id, br->gen, br->parent_gen, br->parent ? br->parent->id : 0,
				br->epoch, br->created_ns, br->nown, br->nlayers);

	for (int i = 0; i < br->nlayers && !ret; i++)
		ret = bfsd_buf_addf(b, " %" PRIu64, br->layers[i]->id);
	if (!ret)
		ret = bfsd_buf_add(b, " ", 1);
	if (!ret)
		ret = hex_name(b, br->name);
	return ret ? ret : bfsd_buf_add(b, "\n", 1);
}

/* The F line, without the oldest skip layers of the preservation chain. */
static int add_fs(struct bfsd_buf *b, struct bfsd_fs *fs, size_t skip)
{
	uint64_t next_layer;
	int ret;

	pthread_mutex_lock(&fs->spare_lock);
	next_layer = fs->next_layer_id;
	pthread_mutex_unlock(&fs->spare_lock);
	ret = bfsd_buf_addf(b, "F %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu",
			    fs->next_branch_id, next_layer, fs->next_epoch, fs->pres_first + skip,
			    fs->npres - skip);

	for (size_t i = skip; i < fs->npres && !ret; i++)
		ret = bfsd_buf_addf(b, " %" PRIu64, fs->pres[i]->id);
	return ret ? ret : bfsd_buf_add(b, "\n", 1);
}

/*
 * Append an entry to the log (opened O_APPEND; every append holds tree_lock
 * exclusive).  A torn entry would end the log for every later one at the
 * next mount: a failed write's part is cut back off.
 */
static int write_entry(int fd, const char *p, size_t n)
{
	size_t done;
	int ret = bfsd_write_all_n(fd, p, n, &done);
	off_t end;

	if (!ret || !done)
		return ret;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0 || ftruncate(fd, end - done) < 0)
		bfsd_err("cannot cut a torn entry off the branch log: %s", bfsd_strerror(errno));
	return ret;
}

/* Write the lines in body as one transaction. */
static int append(struct bfsd_fs *fs, const struct bfsd_buf *body, bool sync)
{
	struct bfsd_buf tx = { 0 };
	size_t lines = 0;
	int ret;

	if (fs->log_fd < 0)
		return 0;
	for (size_t i = 0; i < body->len; i++)
		lines += body->data[i] == '\n';
	ret = bfsd_buf_addf(&tx, "T %zu %08x\n", lines, bfsd_store_sum(body->data, body->len));
	if (!ret)
		ret = bfsd_buf_add(&tx, body->data, body->len);
	if (!ret)
		ret = write_entry(fs->log_fd, tx.data, tx.len);
	if (!ret && sync && fdatasync(fs->log_fd) < 0)
		ret = -errno;
	bfsd_buf_free(&tx);
	if (ret)
		bfsd_err("cannot write the branch log: %s", bfsd_strerror(-ret));
	return ret;
}

int bfsd_store_save_create(struct bfsd_fs *fs, struct bfsd_branch *parent,
			   struct bfsd_branch *child)
{
	struct bfsd_buf b = { 0 };
	int ret = parent == fs->main ? 0 : add_branch(&b, parent);

	if (!ret)
		ret = add_branch(&b, child);
	if (!ret)
		ret = add_fs(&b, fs, 0);
	if (!ret)
		ret = append(fs, &b, false);
	bfsd_buf_free(&b);
	return ret;
}

int bfsd_store_save_branches(struct bfsd_fs *fs, struct bfsd_branch *const *v, int n)
{
	struct bfsd_buf b = { 0 };
	int ret = 0;

	for (int i = 0; i < n && !ret; i++)
		ret = add_branch(&b, v[i]);
	if (!ret)
		ret = append(fs, &b, fs->durable);
	bfsd_buf_free(&b);
	return ret;
}

int bfsd_store_save_gone(struct bfsd_fs *fs, struct bfsd_branch *br)
{
	struct bfsd_buf b = { 0 };
	int ret = bfsd_buf_addf(&b, "G %" PRIu64 "\n", br->id);

	if (!ret)
		ret = add_fs(&b, fs, 0);
	if (!ret && fs->current)
		ret = bfsd_buf_addf(&b, "C %" PRIu64 "\n", fs->current->id);
	if (!ret)
		ret = append(fs, &b, false);
	bfsd_buf_free(&b);
	return ret;
}

int bfsd_store_save_commit(struct bfsd_fs *fs, struct bfsd_branch *br)
{
	struct bfsd_buf b = { 0 };
	int ret = add_branch(&b, br->parent);

	if (!ret)
		ret = bfsd_buf_addf(&b, "G %" PRIu64 "\n", br->id);
	if (!ret)
		ret = append(fs, &b, fs->durable);
	bfsd_buf_free(&b);
	return ret;
}

int bfsd_store_save_fs(struct bfsd_fs *fs)
{
	struct bfsd_buf b = { 0 };
	int ret = add_fs(&b, fs, 0);

	if (!ret && fs->current)
		ret = bfsd_buf_addf(&b, "C %" PRIu64 "\n", fs->current->id);
	if (!ret)
		ret = append(fs, &b, false);
	bfsd_buf_free(&b);
	return ret;
}

int bfsd_store_save_pres(struct bfsd_fs *fs, size_t drop)
{
	struct bfsd_buf b = { 0 };
	int ret = add_fs(&b, fs, drop);

	if (!ret)
		ret = append(fs, &b, false);
	bfsd_buf_free(&b);
	return ret;
}

static void snapshot_branch(struct bfsd_branch *br, void *arg)
{
	add_branch(arg, br);
}

int bfsd_store_compact(struct bfsd_fs *fs)
{
	struct bfsd_buf body = { 0 }, tx = { 0 };
	size_t lines = 0;
	int fd, ret;

	ret = add_branch(&body, fs->main);
	bfsd_branch_each(fs, snapshot_branch, &body);
	if (!ret)
		ret = add_fs(&body, fs, 0);
	if (!ret && fs->current)
		ret = bfsd_buf_addf(&body, "C %" PRIu64 "\n", fs->current->id);
	for (size_t i = 0; i < body.len; i++)
		lines += body.data[i] == '\n';
	if (!ret)
		ret = bfsd_buf_addf(&tx, "T %zu %08x\n", lines,
				    bfsd_store_sum(body.data, body.len));
	if (!ret)
		ret = bfsd_buf_add(&tx, body.data, body.len);
	if (ret)
		goto out_free;
	fd = openat(fs->storage_fd, "state.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	ret = bfsd_write_all(fd, tx.data, tx.len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (!ret && renameat(fs->storage_fd, "state.tmp", fs->storage_fd, "state") < 0)
		ret = -errno;
	if (!ret) {
		if (fs->log_fd >= 0)
			close(fs->log_fd);
		fs->log_fd = openat(fs->storage_fd, "state", O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fs->log_fd < 0)
			ret = -errno;
		fsync(fs->storage_fd);
	}
out_free:
	bfsd_buf_free(&body);
	bfsd_buf_free(&tx);
	return ret;
}
