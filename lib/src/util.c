/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers: strings and paths.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *bfs__strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int bfs__join(char *out, const char *a, const char *b)
{
	int n;

	if (!b[0] || !a[0])
		n = snprintf(out, PATH_MAX, "%s", a[0] ? a : b);
	else
		n = snprintf(out, PATH_MAX, "%s/%s", a, b);
	return n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

int bfs__absolute(char **out, const char *path)
{
	char cwd[PATH_MAX], buf[PATH_MAX];

	if (path[0] == '/') {
		*out = strdup(path);
		return *out ? 0 : -ENOMEM;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (snprintf(buf, sizeof(buf), "%s/%s", strcmp(cwd, "/") ? cwd : "", path) >=
	    (int)sizeof(buf))
		return -ENAMETOOLONG;
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}
