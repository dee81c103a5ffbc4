/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE handlers for extended attributes.  Control files have none; the
 * mount root and @NAME directories are the root directory of their view.
 */
#include "ll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Resolve n for an xattr request and lock its branch; tree_lock taken. */
static int xattr_begin(struct bfsd_mount *m, struct bfsd_node *n, bool excl, struct bfsd_branch **b,
		       char *path)
{
	int ret;

	if (n->kind == BFSD_NODE_CTL)
		return -ENOTSUP;
	pthread_rwlock_rdlock(&m->fs->tree_lock);
	ret = bfsd_node_target(m, n, b, path);
	if (ret) {
		pthread_rwlock_unlock(&m->fs->tree_lock);
		return ret;
	}
	bfsd_lock_ns(m->fs, *b, excl);
	return 0;
}

static void xattr_end(struct bfsd_mount *m, struct bfsd_branch *b)
{
	bfsd_unlock_ns(m->fs, b);
	pthread_rwlock_unlock(&m->fs->tree_lock);
}

/*
 * The kernel asks for security.capability before a write to a file (to drop
 * it): before every write without FUSE_HANDLE_KILLPRIV_V2 (ll_io.c), before
 * the first one with it.  Once a file is known to have none (found so, or
 * created here: bfsd_ll_create), answer from the node until something that
 * could add one bumps xattr_gen.
 */
static bool is_caps(const char *name)
{
	return !strcmp(name, "security.capability");
}

void bfsd_ll_meta_changed(struct bfsd_mount *m)
{
	__atomic_add_fetch(&m->xattr_gen, 1, __ATOMIC_RELEASE);
}

void bfsd_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	uint64_t gen = __atomic_load_n(&m->xattr_gen, __ATOMIC_ACQUIRE);
	struct bfsd_branch *b;
	char path[PATH_MAX];
	char *buf = NULL;
	ssize_t len;
	int ret;

	if (is_caps(name) && __atomic_load_n(&n->nocap_gen, __ATOMIC_RELAXED) == gen) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	ret = xattr_begin(m, n, false, &b, path);
	if (ret) {
		fuse_reply_err(req, ret == -ENOTSUP ? ENODATA : -ret);
		return;
	}
	if (size && !(buf = malloc(size))) {
		len = -ENOMEM;
	} else {
		len = bfsd_view_getxattr(m->fs, b, path, name, buf, size);
	}
	if (len == -ENODATA && is_caps(name) && S_ISREG(n->type))
		__atomic_store_n(&n->nocap_gen, gen, __ATOMIC_RELAXED);
	xattr_end(m, b);
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (!size)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

void bfsd_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct bfsd_branch *b;
	char path[PATH_MAX];
	char *buf = NULL;
	ssize_t len;
	int ret;

	ret = xattr_begin(m, n, false, &b, path);
	if (ret == -ENOTSUP) {
		if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (size && !(buf = malloc(size)))
		len = -ENOMEM;
	else
		len = bfsd_view_listxattr(m->fs, b, path, buf, size);
	xattr_end(m, b);
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (!size)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void change(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		   int flags, bool remove)
{
	struct bfsd_mount *m = bfsd_ll_mount(req);
	struct bfsd_node *n = bfsd_node_of(m, ino);
	struct bfsd_inval iv = { 0 };
	struct bfsd_branch *b;
	char path[PATH_MAX];
	int ret;

	ret = xattr_begin(m, n, true, &b, path);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (remove)
		ret = bfsd_view_removexattr(m->fs, b, path, name);
	else
		ret = bfsd_view_setxattr(m->fs, b, path, name, value, size, flags);
	bfsd_unlock_ns(m->fs, b);
	if (!ret) {
		bfsd_ll_meta_changed(m);
		bfsd_inval_twin(m, &iv, n, b, path, false);
	}
	pthread_rwlock_unlock(&m->fs->tree_lock);
	bfsd_inval_reply_err(req, m, &iv, -ret);
}

void bfsd_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		      size_t size, int flags)
{
	change(req, ino, name, value, size, flags, false);
}

void bfsd_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	change(req, ino, name, NULL, 0, 0, true);
}
