/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openat2(2) for programs run under valgrind 3.19 (Debian 12), which does
 * not know the system call and fails it with ENOSYS.  Preloaded by
 * scripts/valgrind.sh only; never part of a build that ships.
 *
 * It interposes syscall(3) and answers SYS_openat2 itself, component by
 * component with O_NOFOLLOW, for the one use the daemon makes of it:
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (and NO_MAGICLINKS) on a relative
 * path.  A symlink anywhere fails with ELOOP, ".." or an absolute path with
 * EXDEV, as the kernel does.  Other resolve flags fail with EINVAL, so a new
 * use cannot pass unnoticed.  Every other system call goes to libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HANDLED (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* Open name below dir without following it; -errno on failure. */
static int step(int dir, const char *name, int flags, mode_t mode, bool last)
{
	struct stat st;
	int fd;

	if (!strcmp(name, ".."))
		return -EXDEV;
	fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
		close(fd);
		return S_ISLNK(st.st_mode) ? -ELOOP : -EIO;
	}
	if ((!last || (flags & O_DIRECTORY)) && !S_ISDIR(st.st_mode)) {
		close(fd);
		return -ENOTDIR;
	}
	if (!last || (flags & O_PATH))
		return fd;
	close(fd);
	fd = openat(dir, name, flags | O_NOFOLLOW, mode);
	return fd < 0 ? -errno : fd;
}

static long emul_openat2(int dirfd, const char *path, const struct open_how *how, size_t size)
{
	char buf[4096], *save = NULL, *name, *next;
	int dir, fd = -1;

	if (size < sizeof(*how) || (how->resolve & ~(unsigned long long)HANDLED))
		return -EINVAL;
	if (path[0] == '/')
		return -EXDEV;
	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	dir = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	name = strtok_r(buf, "/", &save);
	if (!name) {
		fd = step(dir, ".", (int)how->flags, (mode_t)how->mode, true);
		close(dir);
		return fd;
	}
	while (name) {
		next = strtok_r(NULL, "/", &save);
		if (!strcmp(name, ".") && next) {
			name = next;
			continue;
		}
		fd = step(dir, name, (int)how->flags, (mode_t)how->mode, next == NULL);
		close(dir);
		if (fd < 0)
			return fd;
		dir = fd;
		name = next;
	}
	return fd;
}

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_openat2) {
		long r = emul_openat2((int)a[0], (const char *)a[1], (const struct open_how *)a[2],
				      (size_t)a[3]);

		if (r < 0) {
			errno = (int)-r;
			return -1;
		}
		return r;
	}
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
