/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The low-level operations table and the session setup callbacks.
 */
#include "ll.h"

void bfsd_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct bfsd_mount *m = userdata;

	/* Nanosecond timestamps, as the underlying filesystems keep them. */
	conn->time_gran = 1;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* ACLs are enforced by the kernel from the xattrs we pass through; the
	 * raw mode and umask come to us, and the filesystem below applies the
	 * umask or a default ACL, whichever POSIX says. */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	if (conn->capable & FUSE_CAP_DONT_MASK)
		conn->want |= FUSE_CAP_DONT_MASK;
	/* Main's base changes behind our back: drop pages when mtime moves. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	m->expire_ok = (conn->capable & FUSE_CAP_EXPIRE_ONLY) != 0;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		m->no_opendir = true;
	}
	/* Every write must reach us: copy-up and preservation happen there. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (m->debug)
		bfsd_info("FUSE protocol %u.%u", conn->proto_major, conn->proto_minor);
}

void bfsd_ll_destroy(void *userdata)
{
	(void)userdata;
}

const struct fuse_lowlevel_ops bfsd_ll_ops = {
	.init = bfsd_ll_init,
	.destroy = bfsd_ll_destroy,
	.lookup = bfsd_ll_lookup,
	.forget = bfsd_ll_forget,
	.forget_multi = bfsd_ll_forget_multi,
	.getattr = bfsd_ll_getattr,
	.setattr = bfsd_ll_setattr,
	.readlink = bfsd_ll_readlink,
	.mknod = bfsd_ll_mknod,
	.mkdir = bfsd_ll_mkdir,
	.unlink = bfsd_ll_unlink,
	.rmdir = bfsd_ll_rmdir,
	.symlink = bfsd_ll_symlink,
	.rename = bfsd_ll_rename,
	.link = bfsd_ll_link,
	.open = bfsd_ll_open,
	.read = bfsd_ll_read,
	.write = bfsd_ll_write,
	.flush = bfsd_ll_flush,
	.release = bfsd_ll_release,
	.fsync = bfsd_ll_fsync,
	.opendir = bfsd_ll_opendir,
	.readdir = bfsd_ll_readdir,
	.readdirplus = bfsd_ll_readdirplus,
	.releasedir = bfsd_ll_releasedir,
	.fsyncdir = bfsd_ll_fsyncdir,
	.statfs = bfsd_ll_statfs,
	.setxattr = bfsd_ll_setxattr,
	.getxattr = bfsd_ll_getxattr,
	.listxattr = bfsd_ll_listxattr,
	.removexattr = bfsd_ll_removexattr,
	.create = bfsd_ll_create,
	.ioctl = bfsd_ll_ioctl,
	.fallocate = bfsd_ll_fallocate,
	.lseek = bfsd_ll_lseek,
};
