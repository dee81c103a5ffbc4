/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny JSON writer: values are written as they come; commas and nesting
 * are tracked per level.  Strings are escaped per RFC 8259; bytes that are
 * not valid UTF-8 (file names and program output may hold any byte) are
 * written as \u00XX, their Latin-1 reading, so the output is always valid
 * JSON.  The same writer as the branchfs command's, plus counted strings
 * (output may hold NUL bytes) and doubles.
 */
#include "cli.h"

#include <math.h>

#include <inttypes.h>
#include <string.h>

void json_begin(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Before a value or a key: a comma unless it is the first of its level. */
static void sep(struct json *j)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
}

static void open_level(struct json *j, char opener, char closer)
{
	sep(j);
	fputc(opener, j->f);
	if (j->depth < JSON_MAX_DEPTH) /* deeper documents are a caller bug */
		j->closer[j->depth++] = closer;
	j->need_comma[j->depth] = false;
}

void json_object(struct json *j)
{
	open_level(j, '{', '}');
}

void json_array(struct json *j)
{
	open_level(j, '[', ']');
}

void json_end(struct json *j)
{
	if (j->depth > 0)
		fputc(j->closer[--j->depth], j->f);
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned int cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void put_string(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;

	fputc('"', f);
	while (s < end) {
		size_t n = *s ? utf8_len(s) : 0;

		if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
		} else if (*s == '\t') {
			fputs("\\t", f);
		} else if (*s < 0x20 || !n || s + n > end) {
			fprintf(f, "\\u%04x", *s);
		} else {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	sep(j);
	put_string(j->f, key, strlen(key));
	fputc(':', j->f);
	/* The value belongs to this key: no comma before it. */
	j->need_comma[j->depth] = false;
}

void json_string(struct json *j, const char *s)
{
	sep(j);
	if (s)
		put_string(j->f, s, strlen(s));
	else
		fputs("null", j->f);
}

void json_stringn(struct json *j, const char *s, size_t len)
{
	sep(j);
	if (s)
		put_string(j->f, s, len);
	else
		fputs("null", j->f);
}

void json_double(struct json *j, double v)
{
	sep(j);
	if (isfinite(v))
		fprintf(j->f, "%.15g", v);
	else
		fputs("null", j->f);
}

void json_uint(struct json *j, uint64_t v)
{
	sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_int(struct json *j, int64_t v)
{
	sep(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	json_string(j, NULL);
}

void json_finish(struct json *j)
{
	while (j->depth > 0)
		json_end(j);
	fputc('\n', j->f);
}
