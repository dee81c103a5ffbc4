/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only crash and error injection (built with -DBFS_FAULT_INJECTION=ON).
 *
 * BRANCHFSD_FAULT=name:N kills the daemon with SIGKILL the Nth time it
 * passes the fault point called name, so tests can prove that a crash at
 * every step of a commit leaves it all applied or not at all.
 * BRANCHFSD_FAULT=name:N:ERR (ERR an errno name such as ENOSPC, or a
 * number) makes the Nth pass of a point that can fail (bfsd_fault_fail)
 * fail with that error instead, once, so tests can reach error paths a
 * real disk only takes at random.  With BRANCHFSD_FAULT_COUNT=file, the
 * number of passes of the named point so far is kept in file ("name:0"
 * only counts), so a test knows how many steps there are to sweep.
 */
#include "bfsd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "ENOSPC", ENOSPC }, { "ENOMEM", ENOMEM }, { "EIO", EIO },
	{ "EMFILE", EMFILE }, { "EACCES", EACCES }, { "EDQUOT", EDQUOT },
};

/* The errno of an error spec ("ENOSPC" or "28"), 0 when there is none. */
static int spec_errno(const char *s)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (!strcmp(s, errnos[i].name))
			return errnos[i].err;
	return atoi(s);
}

static void count_pass(long hit)
{
	const char *path = getenv("BRANCHFSD_FAULT_COUNT");
	char text[32];
	int fd, len;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	len = snprintf(text, sizeof(text), "%ld\n", hit);
	if (write(fd, text, len) != len)
		bfsd_warn("fault injection: cannot count in %s", path);
	close(fd);
}

/* 0 when this pass of name is not the one BRANCHFSD_FAULT names; else -1
 * for a kill, or the positive errno to fail with. */
static int fault_hit(const char *name)
{
	static atomic_long hits;
	const char *spec = getenv("BRANCHFSD_FAULT");
	const char *colon, *err;
	long n, hit;

	if (!spec)
		return 0;
	colon = strchr(spec, ':');
	if (!colon || (size_t)(colon - spec) != strlen(name) || strncmp(spec, name, colon - spec))
		return 0;
	n = strtol(colon + 1, NULL, 10);
	hit = atomic_fetch_add(&hits, 1) + 1;
	count_pass(hit);
	if (hit != n)
		return 0;
	err = strchr(colon + 1, ':');
	return err ? spec_errno(err + 1) : -1;
}

void bfsd_fault_point(struct bfsd_fs *fs, const char *name)
{
	(void)fs;
	if (fault_hit(name) == -1)
		kill(getpid(), SIGKILL);
}

int bfsd_fault_fail(struct bfsd_fs *fs, const char *name)
{
	int hit = fault_hit(name);

	(void)fs;
	if (hit == -1)
		kill(getpid(), SIGKILL);
	if (hit > 0)
		bfsd_warn("fault injection: %s fails with %s", name, bfsd_strerror(hit));
	return hit > 0 ? -hit : 0;
}
