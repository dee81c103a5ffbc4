/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: control-file text commands and branch name rules.
 * Every input is parsed as a command and checked as a name; a parse that
 * succeeds must yield a well-formed command (its name without whitespace at
 * either end) that prints back to itself, and a name accepted as valid
 * must obey every rule of the control ABI.
 */
#include "bfsd.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define require(cond)                     \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static const char *word(enum bfsd_cmd_op op)
{
	switch (op) {
	case BFSD_CMD_CREATE:
		return "create";
	case BFSD_CMD_COMMIT:
		return "commit";
	case BFSD_CMD_ABORT:
		return "abort";
	case BFSD_CMD_SWITCH:
		return "switch";
	}
	__builtin_trap();
}

static void check_name(const uint8_t *data, size_t size)
{
	char name[BFSD_NAME_MAX + 8];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	size_t len;

	memcpy(name, data, n);
	name[n] = '\0';
	if (bfsd_branch_name_valid(name))
		return;
	len = strlen(name);
	require(len >= 1 && len <= BFSD_NAME_MAX);
	require(!strchr(name, '/') && name[0] != '@');
	require(strcmp(name, ".") && strcmp(name, ".."));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bfsd_cmd cmd, again;
	char text[BFSD_NAME_MAX + 16];
	size_t alen;

	check_name(data, size);
	if (bfsd_cmd_parse((const char *)data, size, &cmd))
		return 0;
	require(cmd.op <= BFSD_CMD_SWITCH);
	require(cmd.has_arg || cmd.op != BFSD_CMD_SWITCH);
	require(cmd.has_arg || !cmd.arg[0]);
	if (cmd.has_arg) {
		alen = strlen(cmd.arg);
		require(alen >= 1 && alen <= BFSD_NAME_MAX);
		/* Whitespace around a name is refused, never dropped. */
		require(!isspace((unsigned char)cmd.arg[0]));
		require(!isspace((unsigned char)cmd.arg[alen - 1]));
		require(cmd.op == BFSD_CMD_CREATE || cmd.op == BFSD_CMD_SWITCH);
	}
	/* What was understood prints back to the same command. */
	snprintf(text, sizeof(text), "%s%s%s", word(cmd.op), cmd.has_arg ? ":" : "", cmd.arg);
	require(bfsd_cmd_parse(text, strlen(text), &again) == 0);
	require(again.op == cmd.op && again.has_arg == cmd.has_arg);
	require(!strcmp(again.arg, cmd.arg));
	return 0;
}
