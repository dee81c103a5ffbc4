/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-file failures for the branchfs command under test, by LD_PRELOAD:
 * with BFS_FAIL_SWITCH set, a write(2) of a "switch:" command fails with
 * EIO; with BFS_FAIL_ABORT set, FS_IOC_BRANCH_ABORT fails with EIO; with
 * BFS_FAIL_INFO set, FS_IOC_BRANCH_INFO fails with ENOTTY, as on a BranchFS
 * daemon that does not have it.  This reaches what no real mount does on
 * demand: the second step of a two-step command (create, then switch)
 * failing, and an older daemon.
 */
#define _GNU_SOURCE
#include <branchfs/ioctl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*next)(int, const void *, size_t);

	if (getenv("BFS_FAIL_SWITCH") && n >= 7 && !memcmp(buf, "switch:", 7)) {
		errno = EIO;
		return -1;
	}
	if (!next)
		next = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	return next(fd, buf, n);
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*next)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (getenv("BFS_FAIL_ABORT") && req == FS_IOC_BRANCH_ABORT) {
		errno = EIO;
		return -1;
	}
	if (getenv("BFS_FAIL_INFO") && req == FS_IOC_BRANCH_INFO) {
		errno = ENOTTY;
		return -1;
	}
	if (!next)
		next = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	return next(fd, req, arg);
}
