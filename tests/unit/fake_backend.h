/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake branch backend for the pattern unit tests: branches are plain
 * directories under a scratch directory, and the file system's rules are
 * enforced in memory: first-winner-commit (ESTALE for a branch whose
 * parent moved), ENOTEMPTY for a branch with live children (stale children
 * are discarded first), EPERM for main, ENOENT for unknown or gone
 * branches.  Every call is appended to a log the tests compare:
 *
 *   +b3<b1   created b3 as a child of b1
 *   =b3      committed b3          !=b3   a commit of b3 that failed
 *   -b3      aborted b3            !-b3   an abort of b3 that failed
 */
#ifndef FAKE_BACKEND_H
#define FAKE_BACKEND_H

#include "pattern.h"

#define FAKE_MAX 128

struct fake_branch {
	char name[32];
	char path[4200];
	int parent; /* index, -1 for main */
	unsigned int gen, parent_gen;
	bool live;
};

struct fake {
	char dir[4096];
	struct fake_branch b[FAKE_MAX]; /* b[0] is main */
	int n;
	char log[16384];
	int fail_create_at; /* the n-th create (1-based) fails with -ENOSPC; 0: never */
	int creates;
	const char *fail_commit; /* commits of this branch fail with fail_commit_err */
	int fail_commit_err;
};

void fake_init(struct fake *f, const char *dir);
void fake_backend(struct bfs__backend *be, struct fake *f);
/* Live branches other than main. */
int fake_live(const struct fake *f);
/* The log without the creations (commits and aborts only). */
const char *fake_decisions(const struct fake *f);

#endif
