/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commit: land a branch's own changes in its parent.
 *
 * Plan.  The branch's own layers (the top nown of its stack) are walked as
 * one merged tree.  For every name the topmost own copy decides:
 *   whiteout               DEL     the name goes away in the parent
 *   non-directory          PUT     the stored object moves to the parent
 *   opaque directory       DEL + MKDIR, then its children
 *   redirected directory   STAGE_OUT (the parent's source dir, to a stage
 *                          name), STAGE_IN (stage to the new name), children
 *   other directory        MKDIR when the snapshot lacks it, children, ATTR
 * Stage-outs run first, deepest source first, so nested moves compose; the
 * rest run in walk order, each directory's ATTR after its children so the
 * committed times stick.
 *
 * Apply.  Every op is a view operation on the parent (bfsd_view_*), so main
 * gets preservation for its live branches and a parent branch gets copy-up
 * and whiteouts: one engine for both.  Ops are idempotent given the journal's
 * record of which are done, so a crash mid-commit is finished at the next
 * mount (journal.c).  The caller holds tree_lock exclusive: no request runs
 * while a commit applies, so readers see all of it or none of it.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bfsd_oplist_free(struct bfsd_oplist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->op[i].src);
		free(l->op[i].dst);
	}
	free(l->op);
	l->op = NULL;
	l->n = l->cap = 0;
}

int bfsd_oplist_add(struct bfsd_oplist *l, enum bfsd_op_kind kind, uint64_t layer, const char *src,
		    const char *dst, int stage)
{
	struct bfsd_op *op;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct bfsd_op *n = realloc(l->op, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->op = n;
		l->cap = cap;
	}
	op = &l->op[l->n];
	op->kind = kind;
	op->layer = layer;
	op->stage = stage;
	memset(op->times, 0, sizeof(op->times));
	op->src = strdup(src ? src : "");
	op->dst = strdup(dst ? dst : "");
	if (!op->src || !op->dst) {
		free(op->src);
		free(op->dst);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

struct plan {
	struct bfsd_fs *fs;
	struct bfsd_branch *b;
	struct bfsd_oplist stage; /* STAGE_OUT ops, sorted at the end */
	struct bfsd_oplist *ops;
	int nstage;
};

/*
 * Logical path of path (in the namespace of stack index from) as the layers
 * from index `to` on see it: apply the redirects of layers from..to-1.
 */
static int translate(struct bfsd_fs *fs, struct bfsd_branch *b, int from, const char *path, int to,
		     char *out)
{
	char cur[PATH_MAX], redirect[PATH_MAX], prefix[PATH_MAX];
	int ret;

	snprintf(cur, sizeof(cur), "%s", path);
	for (int idx = from; idx < to; idx++) {
		struct bfsd_layer *l = bfsd_stack_at(fs, b, idx);
		size_t best = 0;
		char target[PATH_MAX] = "";

		/* The deepest redirected ancestor-or-self wins. */
		for (size_t i = 1; i <= strlen(cur); i++) {
			bool opaque;
			uint64_t origin;

			if (cur[i] != '/' && cur[i] != '\0')
				continue;
			memcpy(prefix, cur, i);
			prefix[i] = '\0';
			ret = bfsd_marker_dir(l, prefix, &opaque, redirect, &origin);
			if (ret == -ENOENT || ret == -ENOTDIR)
				break;
			if (ret)
				return ret;
			if (redirect[0]) {
				best = i;
				snprintf(target, sizeof(target), "%s", redirect);
			}
		}
		if (best) {
			char next[PATH_MAX];

			if (snprintf(next, sizeof(next), "%s%s", target, cur + best) >= PATH_MAX)
				return -ENAMETOOLONG;
			memcpy(cur, next, sizeof(cur));
		}
	}
	memcpy(out, cur, PATH_MAX);
	return 0;
}

/* Where the redirect of dir r (if one of its own copies has it) points, in
 * the parent's namespace.  Empty when r is not redirected. */
static BFSD_NOINLINE int redirect_source(struct plan *p, const struct bfsd_res *r, char *out)
{
	char redirect[PATH_MAX];
	bool opaque;
	uint64_t origin;
	int ret;

	out[0] = '\0';
	for (int i = 0; i < r->nloc && r->loc[i].idx < p->b->nown; i++) {
		ret = bfsd_marker_dir(r->loc[i].layer, r->loc[i].phys, &opaque, redirect, &origin);
		if (ret)
			return ret;
		if (redirect[0])
			return translate(p->fs, p->b, r->loc[i].idx + 1, redirect, p->b->nown, out);
	}
	return 0;
}

/* Does dir r differ in its own attributes from the parent's copy at low? */
static bool attrs_changed(struct plan *p, const struct bfsd_res *r, const char *low)
{
	struct bfsd_res *snap;
	struct stat a, s;
	bool changed = true;

	if (bfsd_res_stat(r, &a))
		return true;
	if (bfsd_resolve_from(p->fs, p->b, p->b->nown, low, &snap))
		return true;
	if (snap->type == S_IFDIR && !bfsd_res_stat(snap, &s))
		changed =
			a.st_mode != s.st_mode || a.st_uid != s.st_uid || a.st_gid != s.st_gid ||
			a.st_mtim.tv_sec != s.st_mtim.tv_sec ||
			a.st_mtim.tv_nsec != s.st_mtim.tv_nsec ||
			!bfsd_xattrs_equal(p->fs, r->loc[r->attr].layer, r->loc[r->attr].phys,
					   snap->loc[snap->attr].layer, snap->loc[snap->attr].phys);
	bfsd_res_put(snap);
	return changed;
}

/* What the parent's snapshot has at low: its S_IFMT, 0 for nothing. */
static mode_t snapshot_type(struct plan *p, const char *low)
{
	struct bfsd_res *snap;
	mode_t type;

	if (bfsd_resolve_from(p->fs, p->b, p->b->nown, low, &snap))
		return 0;
	type = snap->type;
	bfsd_res_put(snap);
	return type;
}

/* Does some copy of dir r come from the parent's layers (below nown)? */
static bool reaches_parent(const struct plan *p, const struct bfsd_res *r)
{
	for (int i = 0; i < r->nloc; i++)
		if (r->loc[i].idx >= p->b->nown)
			return true;
	return false;
}

static int walk(struct plan *p, const struct bfsd_res *dir, const char *low);

/* Record r's times in the newest op: a commit reads them before its
 * own moves out of r change them. */
static int add_attr(struct plan *p, const struct bfsd_res *r)
{
	const struct bfsd_loc *own = &r->loc[r->attr > 0 ? r->attr : 0];
	struct bfsd_op *op;
	struct stat st;
	int ret = bfsd_res_stat(r, &st);

	if (!ret)
		ret = bfsd_oplist_add(p->ops, BFSD_OP_ATTR, own->layer->id, own->phys, r->path, 0);
	if (ret)
		return ret;
	op = &p->ops->op[p->ops->n - 1];
	op->times[0] = st.st_atim;
	op->times[1] = st.st_mtim;
	return 0;
}

static int plan_dir(struct plan *p, const struct bfsd_res *r, const char *low_parent)
{
	const struct bfsd_loc *own = &r->loc[0];
	char src[PATH_MAX], low[PATH_MAX];
	mode_t snap = 0;
	bool fresh;
	int ret;

	ret = redirect_source(p, r, src);
	if (ret)
		return ret;
	/*
	 * A directory renamed in the branch takes the parent's directory along
	 * (staged out from its old name, in at the new one) only when some of
	 * its content comes from the parent.  Made in the branch (an older own
	 * layer, frozen when a child was made), it is the branch's alone: the
	 * parent has nothing at the old name to move, and it is planned as a
	 * new directory.
	 */
	if (src[0] && reaches_parent(p, r)) {
		char stage[32];

		snprintf(stage, sizeof(stage), "%d", p->nstage);
		ret = bfsd_oplist_add(&p->stage, BFSD_OP_STAGE_OUT, own->layer->id, src, stage,
				      p->nstage);
		if (!ret)
			ret = bfsd_oplist_add(p->ops, BFSD_OP_STAGE_IN, own->layer->id, own->phys,
					      r->path, p->nstage);
		p->nstage++;
		if (!ret)
			ret = walk(p, r, src);
		return ret ? ret : add_attr(p, r);
	}
	ret = bfsd_path_join(low, low_parent ? low_parent : "",
			     strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path);
	if (ret)
		return ret;
	if (low_parent)
		snap = snapshot_type(p, low);
	/*
	 * A directory none of whose copies reaches the parent's layers (opaque,
	 * or made over a whiteout in an older own layer) replaces what the
	 * snapshot had at that name; a new one merges with whatever the parent
	 * has made there since.
	 */
	fresh = snap != S_IFDIR || !reaches_parent(p, r);
	if (snap && !reaches_parent(p, r))
		ret = bfsd_oplist_add(p->ops, BFSD_OP_DEL, 0, NULL, r->path, 0);
	if (!ret && fresh)
		ret = bfsd_oplist_add(p->ops, BFSD_OP_MKDIR, own->layer->id, own->phys, r->path, 0);
	if (!ret)
		ret = walk(p, r, fresh ? NULL : low);
	if (!ret && (fresh || attrs_changed(p, r, low)))
		ret = add_attr(p, r);
	return ret;
}

/* Plan the children of dir (in the branch), whose parent copy is at low
 * (NULL when the parent has no such directory). */
static int walk(struct plan *p, const struct bfsd_res *dir, const char *low)
{
	struct bfsd_dirlist list = { 0 };
	char path[PATH_MAX];
	int ret;

	ret = bfsd_dir_list(p->fs, p->b, dir, p->b->nown, BFSD_LIST_WHITEOUTS, &list);
	for (size_t i = 0; !ret && i < list.n; i++) {
		struct bfsd_res *r;

		ret = bfsd_path_join(path, dir->path, list.e[i].name);
		if (ret)
			break;
		if (!list.e[i].type) {
			ret = bfsd_oplist_add(p->ops, BFSD_OP_DEL, 0, NULL, path, 0);
			continue;
		}
		ret = bfsd_resolve(p->fs, p->b, path, &r);
		if (ret)
			break;
		if (r->type != S_IFDIR)
			ret = bfsd_oplist_add(p->ops, BFSD_OP_PUT, r->loc[0].layer->id,
					      r->loc[0].phys, path, 0);
		else
			ret = plan_dir(p, r, low);
		bfsd_res_put(r);
	}
	bfsd_dirlist_free(&list);
	return ret;
}

static int depth(const char *path)
{
	int d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static int stage_cmp(const void *a, const void *b)
{
	const struct bfsd_op *x = a, *y = b;

	return depth(y->src) - depth(x->src);
}

int bfsd_commit_plan(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_oplist *ops)
{
	struct plan p = { .fs = fs, .b = b, .ops = ops };
	struct bfsd_oplist walked = { 0 };
	struct bfsd_res *root;
	int ret;

	p.ops = &walked;
	ret = bfsd_resolve(fs, b, "", &root);
	if (ret)
		return ret;
	ret = walk(&p, root, "");
	/* The root's own attributes, when the branch changed them. */
	if (!ret && root->attr >= 0 && root->loc[root->attr].idx < b->nown &&
	    attrs_changed(&p, root, ""))
		ret = add_attr(&p, root);
	bfsd_res_put(root);
	if (!ret) {
		if (p.stage.n)
			qsort(p.stage.op, p.stage.n, sizeof(*p.stage.op), stage_cmp);
		for (size_t i = 0; !ret && i < p.stage.n; i++)
			ret = bfsd_oplist_add(ops, p.stage.op[i].kind, p.stage.op[i].layer,
					      p.stage.op[i].src, p.stage.op[i].dst,
					      p.stage.op[i].stage);
		for (size_t i = 0; !ret && i < walked.n; i++) {
			ret = bfsd_oplist_add(ops, walked.op[i].kind, walked.op[i].layer,
					      walked.op[i].src, walked.op[i].dst,
					      walked.op[i].stage);
			if (!ret)
				memcpy(ops->op[ops->n - 1].times, walked.op[i].times,
				       sizeof(walked.op[i].times));
		}
	}
	bfsd_oplist_free(&p.stage);
	bfsd_oplist_free(&walked);
	if (ret)
		bfsd_oplist_free(ops);
	return ret;
}

/* ---- apply ---- */

static struct bfsd_layer *own_layer(struct bfsd_branch *b, uint64_t id)
{
	for (int i = 0; i < b->nown; i++)
		if (b->layers[i]->id == id)
			return b->layers[i];
	return NULL;
}

static void stage_name(struct bfsd_branch *b, int stage, char *out)
{
	snprintf(out, NAME_MAX + 1, "%s%llu-%d", BFSD_STAGE_PREFIX, (unsigned long long)b->id,
		 stage);
}

/* What p shows at path: its S_IFMT, 0 for nothing. */
static mode_t type_in(struct bfsd_fs *fs, struct bfsd_branch *p, const char *path)
{
	struct bfsd_res *r;
	mode_t type;

	if (bfsd_resolve(fs, p, path, &r))
		return 0;
	type = r->type;
	bfsd_res_put(r);
	return type;
}

static bool exists(struct bfsd_fs *fs, struct bfsd_branch *p, const char *path)
{
	return type_in(fs, p, path) != 0;
}

/* Where main's lost source of a rename is rebuilt before it becomes stage:
 * a directory of the base's root holding the tree being built. */
static int part_name(const char *stage, char *out)
{
	if (snprintf(out, NAME_MAX + 1, "%s%s", stage, BFSD_PART_SUFFIX) > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Rebuild main's lost source of a rename at stage.  It is built in the base
 * as part/tree (the copies' temporary names land in part too) and renamed to
 * stage only when complete: a stage that exists is whole, and a crash leaves
 * only part, which the redone op (the next mount's recovery) removes and
 * builds again.  Live branches never had the stage name: it is preserved as
 * absent first, or the move to the new name would preserve the stage itself
 * for them.
 */
static int rebuild_in_base(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_op *op,
			   const char *stage)
{
	char part[NAME_MAX + 1], tree[PATH_MAX];
	int dirfd = fs->base->dirfd;
	int ret = part_name(stage, part);

	if (ret)
		return ret;
	ret = bfsd_preserve(fs, stage, BFSD_CH_CREATE);
	if (ret < 0)
		return ret;
	bfsd_rm_rf_at(dirfd, part); /* what a crash left */
	if (mkdirat(dirfd, part, 0700) < 0)
		return -errno;
	snprintf(tree, sizeof(tree), "%s/tree", part);
	ret = bfsd_copy_tree(fs, b, b->nown, op->src, fs->base, tree);
	if (ret)
		goto out_remove_part;
	bfsd_fault_point(fs, "stage-rebuilt");
	if (renameat(dirfd, tree, dirfd, stage) < 0) {
		ret = -errno;
		goto out_remove_part;
	}
	bfsd_fault_point(fs, "stage-placed");
out_remove_part:
	bfsd_rm_rf_at(dirfd, part);
	return ret;
}

static int apply_stage_out(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_branch *p,
			   const struct bfsd_op *op)
{
	char stage[NAME_MAX + 1];
	int ret;

	stage_name(b, op->stage, stage);
	if (exists(fs, p, stage)) {
		/* Killed inside the rename, after the stage was placed (whole,
		 * rename.c) and before the source was hidden: hide it.  Or,
		 * in main, after a rebuilt stage was placed: its part goes. */
		if (p == fs->main) {
			char part[NAME_MAX + 1];

			if (!part_name(stage, part))
				bfsd_rm_rf_at(fs->base->dirfd, part);
			return 0;
		}
		if (!exists(fs, p, op->src))
			return 0;
		ret = bfsd_copyup_parents(fs, p, op->src);
		if (!ret)
			ret = bfsd_marker_whiteout_make(p->layers[0], op->src);
		bfsd_cache_flush(p);
		return ret;
	}
	if (exists(fs, p, op->src))
		return bfsd_view_rename(fs, p, op->src, stage, 0);
	/* The parent lost the source since: rebuild it from the snapshot. */
	if (p == fs->main)
		return rebuild_in_base(fs, b, op, stage);
	ret = bfsd_copyup_parents(fs, p, stage);
	if (!ret)
		ret = bfsd_copy_tree(fs, b, b->nown, op->src, p->layers[0], stage);
	bfsd_cache_flush(p);
	return ret;
}

/*
 * dst's parent directory in p, as b shows it when p has since removed it
 * (or put something else there): b moved something into it.
 */
static int parent_as_in(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_branch *p,
			const char *dst)
{
	char parent[PATH_MAX];
	struct bfsd_res *r = NULL;
	int ret;

	bfsd_path_split(dst, parent);
	if (!parent[0] || type_in(fs, p, parent) == S_IFDIR)
		return 0;
	ret = bfsd_resolve_existing(fs, b, parent, &r);
	if (!ret && r->type != S_IFDIR)
		ret = -ENOTDIR;
	if (!ret)
		ret = bfsd_view_ensure_dir(fs, p, parent, r->loc[0].layer, r->loc[0].phys);
	if (!ret) /* for the caller's invalidations */
		ret = bfsd_oplist_add(&fs->remade, BFSD_OP_MKDIR, 0, NULL, parent, 0);
	bfsd_res_put(r);
	return ret;
}

static int apply_stage_in(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_branch *p,
			  const struct bfsd_op *op)
{
	char stage[NAME_MAX + 1];
	int ret;

	stage_name(b, op->stage, stage);
	if (!exists(fs, p, stage))
		return 0; /* done before a crash */
	ret = parent_as_in(fs, b, p, op->dst);
	if (!ret)
		ret = bfsd_view_remove_tree(fs, p, op->dst);
	bfsd_fault_point(fs, "stage-in-cleared");
	if (!ret)
		ret = bfsd_view_rename(fs, p, stage, op->dst, 0);
	return ret;
}

static int apply_one(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_branch *p,
		     const struct bfsd_op *op)
{
	struct bfsd_layer *l = op->layer ? own_layer(b, op->layer) : NULL;

	if (op->layer && !l && op->kind != BFSD_OP_STAGE_OUT && op->kind != BFSD_OP_STAGE_IN)
		return -EIO;
	switch (op->kind) {
	case BFSD_OP_STAGE_OUT:
		return apply_stage_out(fs, b, p, op);
	case BFSD_OP_STAGE_IN:
		return apply_stage_in(fs, b, p, op);
	case BFSD_OP_DEL:
		return bfsd_view_remove_tree(fs, p, op->dst);
	case BFSD_OP_MKDIR:
		return bfsd_view_ensure_dir(fs, p, op->dst, l, op->src);
	case BFSD_OP_PUT:
		return bfsd_view_put(fs, p, op->dst, l, op->src);
	case BFSD_OP_ATTR:
		/* Gone, or no directory any more: nothing to give them to. */
		if (type_in(fs, p, op->dst) != S_IFDIR)
			return 0;
		return bfsd_view_copy_dir_attrs(fs, p, op->dst, l, op->src, op->times);
	}
	return -EINVAL;
}

int bfsd_commit_apply(struct bfsd_fs *fs, struct bfsd_branch *b, const struct bfsd_oplist *ops,
		      size_t *next, int (*done)(void *, size_t), void *arg)
{
	struct bfsd_branch *p = b->parent;
	int ret = 0;

	bfsd_quota_force(true);
	fs->committing = b;
	for (; *next < ops->n; ++*next) {
		const struct bfsd_op *op = &ops->op[*next];

		ret = apply_one(fs, b, p, op);
		if (ret) {
			bfsd_err("commit of '%s': %c %s failed: %s", b->name, op->kind,
				 op->dst[0] ? op->dst : op->src, bfsd_strerror(-ret));
			break;
		}
		if (done) {
			ret = done(arg, *next);
			if (ret)
				break;
		}
	}
	fs->committing = NULL;
	bfsd_quota_force(false);
	if (p != fs->main)
		bfsd_cache_flush(p);
	return ret;
}

void bfsd_commit_set_pending(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_oplist *ops,
			     size_t next)
{
	fs->pending = b;
	fs->pending_ops = *ops;
	fs->pending_next = next;
	*ops = (struct bfsd_oplist){ 0 };
}

/* The applied ops, and the directories made again above them, to changed
 * (or freed). */
static void hand_over(struct bfsd_fs *fs, struct bfsd_oplist *ops, struct bfsd_oplist *changed)
{
	for (size_t i = 0; changed && i < fs->remade.n; i++)
		bfsd_oplist_add(ops, BFSD_OP_MKDIR, 0, NULL, fs->remade.op[i].dst, 0);
	bfsd_oplist_free(&fs->remade);
	if (changed)
		*changed = *ops;
	else
		bfsd_oplist_free(ops);
	*ops = (struct bfsd_oplist){ 0 };
}

/* Remove the names in the base directory dir ("" for its root) that start
 * with prefix. */
static void remove_copies(struct bfsd_fs *fs, const char *dir, const char *prefix)
{
	int fd = bfsd_layer_openat(fs->base, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY);
	DIR *d = bfsd_fdopendir(fd);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			bfsd_warn("journal: removing %s%s%s, a copy the crash cut short", dir,
				  dir[0] ? "/" : "", de->d_name);
			bfsd_rm_rf_at(fd, de->d_name);
		}
	if (d)
		closedir(d);
}

/*
 * A commit into main builds each copy into the base (storage on another
 * filesystem) beside its target, under a name of the commit's
 * (bfsd_fs_copyname), and renames it over: only the op a crash stopped can
 * have left one, beside its target or beside a directory above it that
 * the op made again.  (A stage rebuilt in the base has its copies in its
 * .part directory, which the op removes.)
 */
void bfsd_commit_sweep_copies(struct bfsd_fs *fs)
{
	struct bfsd_branch *b = fs->pending;
	const struct bfsd_op *op;
	char prefix[NAME_MAX + 1], dir[PATH_MAX];
	size_t len = 0;

	if (!b || b->parent != fs->main || fs->pending_next >= fs->pending_ops.n)
		return;
	op = &fs->pending_ops.op[fs->pending_next];
	if (op->kind == BFSD_OP_STAGE_OUT || strlen(op->dst) >= sizeof(dir))
		return;
	snprintf(prefix, sizeof(prefix), "%s%llu-", BFSD_COPY_PREFIX, (unsigned long long)b->id);
	for (;;) {
		const char *slash;

		memcpy(dir, op->dst, len);
		dir[len] = '\0';
		remove_copies(fs, dir, prefix);
		slash = strchr(op->dst + len + (len > 0), '/');
		if (!slash)
			break;
		len = (size_t)(slash - op->dst);
	}
}

int bfsd_commit_resume(struct bfsd_fs *fs, struct bfsd_oplist *changed)
{
	struct bfsd_branch *b = fs->pending;
	int ret;

	if (!b)
		return 0;
	ret = bfsd_commit_apply(fs, b, &fs->pending_ops, &fs->pending_next, bfsd_journal_done, fs);
	if (ret)
		return ret;
	bfsd_info("commit of '%s' applied; recording it", b->name);
	ret = bfsd_commit_finish(fs, b); /* b is gone once it succeeds */
	if (ret)
		return ret;
	fs->pending = NULL;
	hand_over(fs, &fs->pending_ops, changed);
	return 0;
}

int bfsd_commit(struct bfsd_fs *fs, struct bfsd_branch *b, struct bfsd_oplist *changed)
{
	struct bfsd_oplist ops = { 0 };
	struct bfsd_branch *p = b->parent;
	size_t next = 0;
	int ret;

	if (b == fs->main || !p)
		return -EPERM;
	if (b->parent_gen != p->gen)
		return -ESTALE;
	ret = bfsd_branch_prune_children(fs, b);
	if (ret)
		return ret;
	ret = bfsd_commit_plan(fs, b, &ops);
	if (ret)
		return ret;
	ret = bfsd_journal_begin(fs, b, &ops);
	if (ret)
		goto out_free;
	ret = bfsd_commit_apply(fs, b, &ops, &next, bfsd_journal_done, fs);
	if (!ret)
		ret = bfsd_commit_finish(fs, b);
	if (ret) {
		/* Decided: it only rolls forward, before anything else. */
		if (next < ops.n)
			bfsd_err("commit of '%s' stopped at op %zu of %zu; it is retried before "
				 "the next branch operation and at the next mount",
				 b->name, next + 1, ops.n);
		else
			bfsd_err("commit of '%s' is applied but not recorded; recording is retried "
				 "before the next branch operation and at the next mount",
				 b->name);
		bfsd_commit_set_pending(fs, b, &ops, next);
		return ret;
	}
	hand_over(fs, &ops, changed);
	return 0;
out_free:
	bfsd_oplist_free(&ops);
	return ret;
}

/*
 * With durable, what the ops moved must be on disk before the record that
 * makes the journal obsolete: the base's filesystem (a commit into main
 * renames or, across filesystems, copies into it) and the storage's (a
 * nested commit moves between layers; main preserves old versions there).
 */
static int sync_targets(struct bfsd_fs *fs)
{
	if (syncfs(fs->base->dirfd) < 0)
		return -errno;
	if (fs->storage_dev != fs->base_dev && syncfs(fs->storage_fd) < 0)
		return -errno;
	return 0;
}

/*
 * An object b made has its inode number as identity, and b's copies of it
 * carry that number (origin): once such a copy moved into a parent branch,
 * the original must keep the number taken, or a new file would be given it
 * and show the same st_ino.  A copy and its original lie in two layers of
 * b's own, so the original is in one of b's own frozen layers, or in what a
 * layer of b's holds (a fold's leftovers, a committed child's layers):
 * those go into the parent's top's held directory, not to the trash, and
 * their bytes count as its own.  They go now, open files of b's or not (a
 * layer is reached through its descriptor, not its name), so that only a
 * crash in the next microseconds leaves them to the next mount's sweep.
 * Into main no number is kept: the base shows its own.
 */
static void keep_numbers(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	struct bfsd_layer *keeper;
	char held[48];

	if (b->parent == fs->main)
		return;
	keeper = b->parent->layers[0];
	for (int i = 0; i < b->nown; i++) {
		struct bfsd_layer *l = b->layers[i];
		int ret;

		bfsd_layer_held_name(l->id, held);
		if (!i && faccessat(fs->layers_fd, held, F_OK, AT_SYMLINK_NOFOLLOW))
			continue; /* a top holding nothing: its copies moved on */
		ret = bfsd_store_hold_layer(fs, l->id, keeper->id);
		if (ret) {
			bfsd_warn("cannot keep layer %llu in layer %llu: %s; it goes to the trash",
				  (unsigned long long)l->id, (unsigned long long)keeper->id,
				  bfsd_strerror(-ret));
			continue;
		}
		l->held_away = true;
		bfsd_quota_fold(fs, l, keeper);
	}
}

int bfsd_commit_finish(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	struct bfsd_branch *p = b->parent;
	int ret;

	bfsd_fault_point(fs, "commit-applied");
	ret = fs->durable ? sync_targets(fs) : 0;
	if (!ret)
		ret = bfsd_fault_fail(fs, "commit-recording");
	if (!ret) {
		p->gen++;
		ret = bfsd_store_save_commit(fs, b);
		if (ret)
			p->gen--;
	}
	if (ret) {
		/* Unrecorded, a crash would bring b back with the parent's
		 * old generation: the journal stays and so does b, and the
		 * commit stays pending until its record is written. */
		bfsd_err("cannot record the commit of '%s': %s", b->name, bfsd_strerror(-ret));
		return ret;
	}
	bfsd_fault_point(fs, "commit-recorded");
	bfsd_journal_end(fs);
	bfsd_quota_moves_done(fs);
	keep_numbers(fs, b);
	bfsd_branch_discard(fs, b);
	bfsd_epoch_release(fs);
	if (p != fs->main)
		bfsd_cache_flush(p);
	return 0;
}
