/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Result rows: samples per target, medians, speed ratios and the check of
 * each row against the performance issue's target.  Rows live in the shared
 * struct bench_results; only the running workload child appends to it.
 */
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_row *bench_row_add(struct bench_ctx *c, const char *label, const char *unit,
				bool higher_better, unsigned tables)
{
	struct bench_row *r;

	if (c->res->nrows >= BENCH_MAX_ROWS) {
		fprintf(stderr, "bench: too many result rows\n");
		abort();
	}
	r = &c->res->row[c->res->nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->workload, sizeof(r->workload), "%s", c->wl_name);
	snprintf(r->label, sizeof(r->label), "%s", label);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->higher_better = higher_better;
	r->tables = tables;
	return r;
}

void bench_row_check(struct bench_row *r, enum bench_check_kind kind, double limit)
{
	int i = r->check[0].kind == BC_NONE ? 0 : 1;

	r->check[i].kind = kind;
	r->check[i].limit = limit;
}

void bench_row_sample(struct bench_row *r, enum bench_target t, double v)
{
	if (r->n[t] < BENCH_MAX_SAMPLES)
		r->v[t][r->n[t]++] = v;
}

void bench_row_fail(struct bench_row *r, enum bench_target t, const char *fmt, ...)
{
	va_list ap;

	if (r->error[t][0])
		return; /* the first error is the interesting one */
	va_start(ap, fmt);
	vsnprintf(r->error[t], sizeof(r->error[t]), fmt, ap);
	va_end(ap);
}

void bench_row_note(struct bench_row *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}

void bench_row_env_errors(struct bench_row *r, const struct bench_env *envs)
{
	for (int t = 0; t < BT_COUNT; t++)
		if (!envs[t].ok && envs[t].error[0])
			bench_row_fail(r, t, "%s", envs[t].error);
}

struct bench_row *bench_row_quotient(struct bench_ctx *c, const char *label,
				     const struct bench_row *num, const struct bench_row *den,
				     double limit)
{
	struct bench_row *r = bench_row_add(c, label, "x", false, BTAB_MAIN);
	double a = bench_row_median(num, BT_BRANCHFS), b = bench_row_median(den, BT_BRANCHFS);

	if (limit > 0)
		bench_row_check(r, BC_MAX_VALUE, limit);
	if (a > 0 && b > 0)
		bench_row_sample(r, BT_BRANCHFS, a / b);
	else
		bench_row_fail(r, BT_BRANCHFS, "missing samples");
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_row_pct(const struct bench_row *r, enum bench_target t, double pct)
{
	double sorted[BENCH_MAX_SAMPLES];
	int n = r->n[t];
	double pos;
	int lo;

	if (n == 0)
		return NAN;
	memcpy(sorted, r->v[t], n * sizeof(double));
	qsort(sorted, n, sizeof(double), cmp_double);
	pos = pct / 100.0 * (n - 1);
	lo = (int)pos;
	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
}

double bench_row_median(const struct bench_row *r, enum bench_target t)
{
	return bench_row_pct(r, t, 50);
}

double bench_row_ratio(const struct bench_row *r, enum bench_target a, enum bench_target b)
{
	double x = bench_row_median(r, a), y = bench_row_median(r, b);

	if (isnan(x) || isnan(y) || x <= 0 || y <= 0)
		return NAN;
	return r->higher_better ? x / y : y / x;
}

static int check_one(const struct bench_row *r, const struct bench_check *c)
{
	double v;

	switch (c->kind) {
	case BC_NONE:
		return -1;
	case BC_MIN_VS_NATIVE:
		v = bench_row_ratio(r, BT_BRANCHFS, BT_NATIVE);
		return isnan(v) ? -1 : v >= c->limit;
	case BC_MIN_VS_OVERLAY:
		v = bench_row_ratio(r, BT_BRANCHFS, BT_OVERLAY);
		return isnan(v) ? -1 : v >= c->limit;
	case BC_MAX_VALUE:
		v = bench_row_median(r, BT_BRANCHFS);
		return isnan(v) ? -1 : v <= c->limit;
	case BC_OK:
		return r->n[BT_BRANCHFS] > 0 && !r->error[BT_BRANCHFS][0];
	}
	return -1;
}

int bench_row_verdict(const struct bench_row *r)
{
	int verdict = -1;

	if (r->error[BT_BRANCHFS][0] && r->check[0].kind != BC_NONE)
		return 0;
	for (int i = 0; i < 2; i++) {
		int v = check_one(r, &r->check[i]);

		if (v == 0)
			return 0;
		if (v == 1)
			verdict = 1;
	}
	return verdict;
}

void bench_wl_error(struct bench_ctx *c, const char *fmt, ...)
{
	char *buf = c->res->wl_error[c->wl];
	size_t len = strlen(buf), cap = sizeof(c->res->wl_error[0]);
	va_list ap;

	if (len && len + 2 < cap) {
		strcpy(buf + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}
