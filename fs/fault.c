/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only crash injection (built with -DBFS_FAULT_INJECTION=ON).
 *
 * BRANCHFSD_FAULT=name:N kills the daemon with SIGKILL the Nth time it
 * passes the fault point called name, so tests can prove that a crash at
 * every step of a commit leaves it all applied or not at all.
 */
#include "bfsd.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bfsd_fault_point(struct bfsd_fs *fs, const char *name)
{
	static atomic_long hits;
	const char *spec = getenv("BRANCHFSD_FAULT");
	const char *colon;
	long n;

	(void)fs;
	if (!spec)
		return;
	colon = strchr(spec, ':');
	if (!colon || (size_t)(colon - spec) != strlen(name) || strncmp(spec, name, colon - spec))
		return;
	n = strtol(colon + 1, NULL, 10);
	if (atomic_fetch_add(&hits, 1) + 1 == n)
		kill(getpid(), SIGKILL);
}
