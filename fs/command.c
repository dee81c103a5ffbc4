/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text commands written to a control file: one per write(2), surrounding
 * whitespace (and trailing NULs) ignored, command words case-insensitive:
 *   create | create:NAME | commit | abort | switch:NAME
 * Anything else is -EINVAL.  Trimming the command trims the end of NAME
 * ("create:x\n" is `echo create:x > ctl`), but whitespace between ':' and
 * NAME is -EINVAL rather than dropped: "create: x" names neither " x" nor,
 * safely, "x".  So no branch name starts or ends with whitespace.  Whether
 * NAME is otherwise valid is the branch tree's business
 * (bfsd_branch_name_valid).
 */
#include "bfsd.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static bool space(char c)
{
	return isspace((unsigned char)c) || c == '\0';
}

int bfsd_cmd_parse(const char *buf, size_t len, struct bfsd_cmd *out)
{
	static const struct {
		const char *word;
		enum bfsd_cmd_op op;
		bool arg;  /* takes ":NAME" */
		bool bare; /* valid without it */
	} table[] = {
		{ "create", BFSD_CMD_CREATE, true, true },
		{ "commit", BFSD_CMD_COMMIT, false, true },
		{ "abort", BFSD_CMD_ABORT, false, true },
		{ "switch", BFSD_CMD_SWITCH, true, false },
	};
	const char *s = buf, *e = buf + len, *colon;
	size_t wlen, alen;

	while (s < e && space(*s))
		s++;
	while (e > s && space(e[-1]))
		e--;
	if (memchr(s, '\0', e - s))
		return -EINVAL;
	colon = memchr(s, ':', e - s);
	wlen = (colon ? colon : e) - s;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (wlen != strlen(table[i].word) || strncasecmp(s, table[i].word, wlen))
			continue;
		out->op = table[i].op;
		out->arg[0] = '\0';
		out->has_arg = colon != NULL;
		if (!colon)
			return table[i].bare ? 0 : -EINVAL;
		if (!table[i].arg)
			return -EINVAL;
		s = colon + 1;
		alen = e - s;
		if (alen == 0 || alen > BFSD_NAME_MAX || space(*s))
			return -EINVAL;
		memcpy(out->arg, s, alen);
		out->arg[alen] = '\0';
		return 0;
	}
	return -EINVAL;
}
