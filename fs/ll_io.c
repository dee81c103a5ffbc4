/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session's reads and writes of /dev/fuse, to take what libfuse 3.14
 * does not pass on.
 *
 * Without FUSE_HANDLE_KILLPRIV_V2 the kernel asks getxattr
 * ("security.capability") before every write, a second round trip for each
 * one; libfuse 3.14 knows no such flag.  So the INIT reply is amended to
 * accept it when the kernel offers it, and the kernel then leaves dropping
 * setuid and setgid to us: it marks each write, truncate and O_TRUNC open
 * by a caller without CAP_FSETID, a mark libfuse drops, so it is read here
 * off the raw request.  A worker thread reads a request and then handles
 * it, so the mark lives in a thread-local variable until its next read.
 * Capabilities need nothing: the filesystem below drops them on our
 * write as it would for the caller.
 */
#include "ll.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

static __thread bool kill_suidgid;

bool bfsd_ll_kill_suidgid(void)
{
	return kill_suidgid;
}

static bool in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

mode_t bfsd_ll_killed_mode(fuse_req_t req, const struct stat *st)
{
	mode_t mode = st->st_mode;

	if (!S_ISREG(mode) || !(mode & (S_ISUID | S_ISGID)))
		return mode;
	mode &= ~S_ISUID;
	/* As the VFS does: setgid without group execute marks mandatory
	 * locking, and stays for a member of the file's group. */
	if ((mode & S_ISGID) && ((mode & S_IXGRP) || !in_group(req, st->st_gid)))
		mode &= ~S_ISGID;
	return mode;
}

static void seen(struct bfsd_mount *m, const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	const void *arg = in + 1;
	size_t have = len - sizeof(*in);

	switch (in->opcode) {
	case FUSE_INIT:
		if (have >= offsetof(struct fuse_init_in, flags) + sizeof(uint32_t)) {
			m->init_unique = in->unique;
			m->init_flags = ((const struct fuse_init_in *)arg)->flags;
		}
		break;
	case FUSE_WRITE:
		kill_suidgid = have >= sizeof(struct fuse_write_in) &&
			       (((const struct fuse_write_in *)arg)->write_flags &
				FUSE_WRITE_KILL_SUIDGID);
		break;
	case FUSE_SETATTR:
		kill_suidgid = have >= sizeof(struct fuse_setattr_in) &&
			       (((const struct fuse_setattr_in *)arg)->valid & FATTR_KILL_SUIDGID);
		break;
	case FUSE_OPEN:
		kill_suidgid =
			have >= sizeof(struct fuse_open_in) &&
			(((const struct fuse_open_in *)arg)->open_flags & FUSE_OPEN_KILL_SUIDGID);
		break;
	}
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t res = read(fd, buf, len);

	kill_suidgid = false;
	if (res >= (ssize_t)sizeof(struct fuse_in_header))
		seen(userdata, buf, res);
	return res;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct bfsd_mount *m = userdata;
	const struct fuse_out_header *out = iov[0].iov_base;

	if (m->init_unique && count >= 2 && out->unique == m->init_unique) {
		struct fuse_init_out *arg = iov[1].iov_base;

		m->init_unique = 0;
		if (!out->error &&
		    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t) &&
		    (m->init_flags & FUSE_HANDLE_KILLPRIV_V2)) {
			arg->flags |= FUSE_HANDLE_KILLPRIV_V2;
			m->killpriv_v2 = true;
		}
	}
	return writev(fd, iov, count);
}

int bfsd_ll_io_attach(struct bfsd_mount *m)
{
	static const struct fuse_custom_io io = { .read = io_read, .writev = io_writev };

	return fuse_session_custom_io(m->se, &io, fuse_session_fd(m->se));
}
