/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages for the errnos the branch operations give, and the version.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define STR2(x) #x
#define STR(x)	STR2(x)

const char *bfs_version(void)
{
	return STR(BFS_VERSION_MAJOR) "." STR(BFS_VERSION_MINOR) "." STR(BFS_VERSION_PATCH);
}

/*
 * strerror() in the words of our messages (lowercase, DESIGN.md section 7):
 * "Input/output error" becomes "input/output error"; an acronym ("RPC
 * struct is bad") is left as it is.  The one copy for the library and the
 * commands; the daemon, which does not link the library, has its own.
 */
const char *bfs_syserr(int err)
{
	static _Thread_local char buf[256];
	const char *s = strerror_r(err < 0 ? -err : err, buf, sizeof(buf));

	if (s != buf)
		snprintf(buf, sizeof(buf), "%s", s);
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] += 'a' - 'A';
	return buf;
}

const char *bfs_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case ESTALE:
		return "a sibling committed first";
	case ENOTEMPTY:
		return "the branch has live children";
	case EPERM:
		return "main cannot be committed or aborted";
	case EEXIST:
		return "a branch with that name already exists";
	case ENOENT:
		return "no such branch";
	case EINVAL:
		return "invalid branch name or request";
	case EMEDIUMTYPE:
		return "not a branchfs mount";
	case ENOTTY:
		return "not a branchfs control file";
	case ENOSPC:
		return "no space left: the storage limit, the storage disk or the base disk is "
		       "full";
	case ENODATA:
		return "not a branchfs storage directory";
	case ENOTCONN:
		return "the daemon serving the mount is gone";
	case EBUSY:
		return "the mount is busy";
	case EISCONN:
		return "the daemon serving the mount still runs";
	case ETIMEDOUT:
		return "timed out waiting for the daemon";
	case ENOTSUP:
		return "the daemon does not tell where its storage is";
	}
	return bfs_syserr(err);
}
