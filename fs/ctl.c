/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control files: <mnt>/.branchfs_ctl acts on the mount's current branch,
 * <mnt>/@NAME/.branchfs_ctl on NAME.  Text commands (one per write) and
 * ioctls both end up in ctl_run(), which changes the tree under tree_lock
 * exclusive and then, with no lock held, invalidates every kernel cache the
 * change made wrong before the request is answered.
 */
#include "ll.h"

#include <branchfs/ioctl.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum ctl_op { CTL_CREATE, CTL_COMMIT, CTL_ABORT, CTL_SWITCH };

/* The branch a control node acts on (tree_lock held). */
static struct bfsd_branch *ctl_branch(struct bfsd_mount *m, struct bfsd_node *n)
{
	return n->branch ? n->branch : m->fs->current;
}

struct dead {
	struct bfsd_inval *iv;
	struct bfsd_branch *b[64];
	char *name[64];
	int n;
};

static void dead_roots(struct bfsd_node *n, const char *name, void *arg)
{
	struct dead *d = arg;

	if (n->kind != BFSD_NODE_BROOT || !n->branch->dead || d->n == 64)
		return;
	bfsd_inval_expire(d->iv, FUSE_ROOT_ID, name);
	d->b[d->n] = n->branch;
	d->name[d->n] = strdup(name);
	if (d->name[d->n])
		d->n++;
}

/*
 * Drop the @NAME entries of branches that went away from the kernel, and
 * from the name table: the kernel may keep such a node a while, and its
 * name must not be invalidated again at every later commit.
 */
static void forget_dead_roots(struct bfsd_mount *m, struct bfsd_inval *iv)
{
	struct dead d = { .iv = iv };

	do {
		d.n = 0;
		bfsd_node_root_children(m, dead_roots, &d);
		for (int i = 0; i < d.n; i++) {
			bfsd_node_unhash(m, &m->root, d.name[i], d.b[i]);
			free(d.name[i]);
		}
	} while (d.n == 64);
}

/* p's open files of a file a commit replaced follow it to the new object
 * (as they follow a copy-up): the kernel keeps one inode for the name,
 * whose pages and size must come from one object. */
static void follow_put(struct bfsd_mount *m, struct bfsd_branch *p, const char *path)
{
	struct bfsd_res *r;

	if (bfsd_resolve_existing(m->fs, p, path, &r))
		return;
	for (int via_root = 0; r->type == S_IFREG && via_root < 2; via_root++) {
		struct bfsd_node *n = bfsd_node_walk(m, p, via_root, path);

		if (n && S_ISREG(n->type))
			bfsd_node_repoint(m, n, r->loc[0].layer, r->loc[0].phys);
		bfsd_node_put(m, n);
	}
	bfsd_res_put(r);
}

/* The node table names only what is live (bfsd_node_known): a name a
 * commit staged out goes unless something took its place. */
static void forget_if_gone(struct bfsd_mount *m, struct bfsd_branch *p, const char *path)
{
	struct bfsd_res *r;

	if (bfsd_resolve_existing(m->fs, p, path, &r) == 0) {
		bfsd_res_put(r);
		return;
	}
	bfsd_node_unhash_path(m, p, path);
}

/* Caches made wrong by a commit of something into p, and the nodes of
 * what it replaced or removed (tree_lock held exclusive). */
static void inval_commit(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_branch *p,
			 const struct bfsd_oplist *ops)
{
	for (size_t i = 0; i < ops->n; i++) {
		const struct bfsd_op *op = &ops->op[i];
		const char *path = op->kind == BFSD_OP_STAGE_OUT ? op->src : op->dst;

		bfsd_inval_path(m, iv, p, path, true);
	}
	bfsd_inval_path(m, iv, p, "", false);
	for (size_t i = 0; i < ops->n; i++) {
		const struct bfsd_op *op = &ops->op[i];

		if (op->kind == BFSD_OP_PUT)
			follow_put(m, p, op->dst);
		else if (op->kind == BFSD_OP_DEL)
			bfsd_node_unhash_path(m, p, op->dst);
		else if (op->kind == BFSD_OP_STAGE_OUT)
			forget_if_gone(m, p, op->src);
	}
}

/*
 * Pages a process changed through a shared mapping of a branch's files
 * stay in the kernel until it writes them back (msync, the last close, or
 * half a minute later), yet readers through the branch already see them: a
 * commit of the branch must carry them, and a branch made from it must
 * start from them, as from every write made before.  Dropping a file's
 * pages makes the kernel write the changed ones back first (launder),
 * through the branch's open file, and that waits for those writes, so it
 * is done before the request takes a lock a write needs.  Only files open
 * for reading and writing can be mapped so; none is the common case and
 * costs one atomic load.
 */
static void flush_mappings(struct bfsd_mount *m, struct bfsd_node *ctl)
{
	struct bfsd_node **nodes = NULL;
	struct bfsd_branch *b;
	size_t n = 0;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	b = ctl_branch(m, ctl);
	if (m->se && atomic_load(&b->rdwr_files) > 0)
		nodes = bfsd_node_rdwr(m, b, &n);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	for (size_t i = 0; i < n; i++) {
		fuse_lowlevel_notify_inval_inode(m->se, bfsd_node_id(m, nodes[i]), 0, 0);
		bfsd_node_put(m, nodes[i]);
	}
	free(nodes);
}

/* Tries at marking what a commit changes before it applies regardless. */
#define COMMIT_MARKS 4

/*
 * Before a commit of n's branch (see pending.c), and return with tree_lock
 * held exclusive.  Names the branch gains while the commit waits for the
 * lock would be missing from the set: while the branch changed meanwhile,
 * mark again (the new set before the old one goes, so nothing marked is
 * ever unmarked before the commit).
 */
static struct bfsd_pending *commit_begin(struct bfsd_mount *m, struct bfsd_node *n)
{
	struct bfsd_pending *ps = NULL, *next;
	unsigned int changes;
	struct bfsd_branch *b;

	for (int i = 0;; i++) {
		pthread_rwlock_rdlock(&m->fs->tree_lock);
		b = bfsd_branch_get(ctl_branch(m, n));
		pthread_rwlock_unlock(&m->fs->tree_lock);
		next = bfsd_pending_begin(m, b, &changes);
		bfsd_pending_end(m, ps);
		ps = next;
		pthread_rwlock_wrlock(&m->fs->tree_lock);
		if (atomic_load(&b->changes) == changes || i + 1 == COMMIT_MARKS) {
			bfsd_branch_put(b);
			return ps;
		}
		pthread_rwlock_unlock(&m->fs->tree_lock);
		bfsd_branch_put(b);
	}
}

static int ctl_run(struct bfsd_mount *m, struct bfsd_node *n, enum ctl_op op, const char *name,
		   char *name_out)
{
	struct bfsd_fs *fs = m->fs;
	struct bfsd_oplist changed = { 0 };
	struct bfsd_inval iv = { 0 };
	struct bfsd_branch *b, *before, *parent = NULL, *pending;
	struct bfsd_pending *ps = NULL;
	int ret = -EINVAL;

	if (op == CTL_COMMIT || op == CTL_CREATE)
		flush_mappings(m, n);
	if (op == CTL_COMMIT)
		ps = commit_begin(m, n);
	else
		pthread_rwlock_wrlock(&fs->tree_lock);
	before = fs->current;
	b = ctl_branch(m, n);
	/* A commit that stopped part-way finishes first, or nothing else runs. */
	pending = fs->pending;
	if (pending) {
		parent = pending->parent;
		ret = bfsd_commit_resume(fs, &changed);
		if (ret)
			goto out_unlock;
		inval_commit(m, &iv, parent, &changed);
		bfsd_oplist_free(&changed);
		bfsd_ll_meta_changed(m);
		if (op == CTL_COMMIT && b == pending)
			goto out_done; /* what was asked is done */
	}
	if (b->dead) {
		ret = -ENOENT;
		goto out_unlock;
	}
	switch (op) {
	case CTL_CREATE:
		ret = bfsd_branch_create(fs, b, name, name_out);
		break;
	case CTL_COMMIT:
		parent = b->parent;
		ret = bfsd_commit(fs, b, &changed);
		if (!ret)
			inval_commit(m, &iv, parent, &changed);
		else if (fs->pending == b) /* part of it shows already */
			inval_commit(m, &iv, parent, &fs->pending_ops);
		break;
	case CTL_ABORT:
		ret = bfsd_branch_abort(fs, b);
		break;
	case CTL_SWITCH:
		if (n->branch) {
			ret = -EINVAL; /* only the root control file switches */
			break;
		}
		b = bfsd_branch_find(fs, name);
		ret = b ? bfsd_fs_switch(fs, b) : -ENOENT;
		break;
	}
out_done:
	/* Branches that went away, and the root when it shows another branch. */
	if (op != CTL_CREATE || pending) {
		forget_dead_roots(m, &iv);
		bfsd_ll_meta_changed(m);
	}
	if (fs->current != before)
		bfsd_inval_root(m, &iv);
	else if (atomic_exchange(&m->root_listed, false))
		bfsd_inval_inode(&iv, FUSE_ROOT_ID, 0, 0); /* its @NAME entries */
out_unlock:
	bfsd_pending_end(m, ps);
	pthread_rwlock_unlock(&fs->tree_lock);
	bfsd_inval_send(m, &iv);
	bfsd_oplist_free(&changed);
	return ret;
}

int bfsd_ctl_commit(struct bfsd_mount *m, struct bfsd_node *n)
{
	return ctl_run(m, n, CTL_COMMIT, NULL, NULL);
}

int bfsd_ctl_command(struct bfsd_mount *m, struct bfsd_node *n, const struct bfsd_cmd *cmd)
{
	static const enum ctl_op ops[] = {
		[BFSD_CMD_CREATE] = CTL_CREATE,
		[BFSD_CMD_COMMIT] = CTL_COMMIT,
		[BFSD_CMD_ABORT] = CTL_ABORT,
		[BFSD_CMD_SWITCH] = CTL_SWITCH,
	};
	return ctl_run(m, n, ops[cmd->op], cmd->has_arg ? cmd->arg : NULL, NULL);
}

static int ctl_info(struct bfsd_mount *m, struct bfsd_node *n, void *out, size_t *out_len)
{
	struct branchfs_ioc_info info = { 0 };

	if (*out_len < sizeof(info))
		return -EINVAL;
	info.version = BRANCHFS_INFO_VERSION;
	info.daemon_pid = (int)getpid();
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	info.keep = m->fs->keep;
	snprintf(info.branch, sizeof(info.branch), "%s", ctl_branch(m, n)->name);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	snprintf(info.storage, sizeof(info.storage), "%s", m->fs->storage_path);
	memcpy(out, &info, sizeof(info));
	*out_len = sizeof(info);
	return 0;
}

int bfsd_ctl_ioctl(struct bfsd_mount *m, struct bfsd_node *n, unsigned int cmd, const void *in,
		   size_t in_len, void *out, size_t *out_len)
{
	char name[BFSD_NAME_MAX + 1];
	int ret;

	switch (cmd) {
	case FS_IOC_BRANCH_CREATE:
		if (*out_len < BRANCHFS_NAME_BUF)
			return -EINVAL;
		ret = ctl_run(m, n, CTL_CREATE, NULL, name);
		if (ret)
			return ret;
		/* Generated names ("branch-" + UUID) always fit. */
		memset(out, 0, BRANCHFS_NAME_BUF);
		memcpy(out, name, strnlen(name, BRANCHFS_NAME_BUF - 1));
		*out_len = BRANCHFS_NAME_BUF;
		return 0;
	case FS_IOC_BRANCH_COMMIT:
		*out_len = 0;
		return ctl_run(m, n, CTL_COMMIT, NULL, NULL);
	case FS_IOC_BRANCH_ABORT:
		*out_len = 0;
		return ctl_run(m, n, CTL_ABORT, NULL, NULL);
	case FS_IOC_BRANCH_INFO:
		return ctl_info(m, n, out, out_len);
	case FS_IOC_BRANCH_SET_KEEP:
		if (in_len < sizeof(unsigned int))
			return -EINVAL;
		pthread_rwlock_wrlock(&m->fs->tree_lock);
		m->fs->keep = *(const unsigned int *)in != 0;
		pthread_rwlock_unlock(&m->fs->tree_lock);
		*out_len = 0;
		return 0;
	}
	return -ENOTTY;
}

int bfsd_ctl_read(struct bfsd_mount *m, struct bfsd_node *n, char *buf, size_t size)
{
	int len;

	pthread_rwlock_rdlock(&m->fs->tree_lock);
	len = snprintf(buf, size, "%s", ctl_branch(m, n)->name);
	pthread_rwlock_unlock(&m->fs->tree_lock);
	return len < (int)size ? len : (int)size - 1;
}
