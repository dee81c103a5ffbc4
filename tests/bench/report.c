/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Output: the summary table (medians per target, speed ratios, the issue's
 * target and the verdict), the latency tables of branch operations, the
 * errors and notes, as text or Markdown on stdout, and the JSON file.
 *
 * A speed ratio above 1 means branchfs is faster: for throughputs it is
 * branchfs/other, for times other/branchfs.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

static const char *fmt_val(char *buf, double v)
{
	if (isnan(v))
		return "-";
	if (fabs(v) >= 1000)
		snprintf(buf, 32, "%.0f", v);
	else if (fabs(v) >= 100)
		snprintf(buf, 32, "%.1f", v);
	else if (fabs(v) >= 1)
		snprintf(buf, 32, "%.2f", v);
	else
		snprintf(buf, 32, "%.3g", v);
	return buf;
}

static const char *fmt_ratio(char *buf, double v)
{
	if (isnan(v))
		return "-";
	snprintf(buf, 32, "%.2fx", v);
	return buf;
}

static const char *fmt_cell(char *buf, const struct bench_row *r, int t)
{
	if (r->n[t] == 0 && r->error[t][0])
		return "ERR";
	return fmt_val(buf, bench_row_median(r, t));
}

static const char *target_text(char *buf, const struct bench_row *r)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < 2; i++) {
		const struct bench_check *c = &r->check[i];
		const char *sep = len ? ", " : "";

		switch (c->kind) {
		case BC_NONE:
			break;
		case BC_MIN_VS_NATIVE:
			len += snprintf(buf + len, 64 - len, "%s>=%gx native", sep, c->limit);
			break;
		case BC_MIN_VS_OVERLAY:
			len += snprintf(buf + len, 64 - len, "%s>=%gx overlay", sep, c->limit);
			break;
		case BC_MAX_VALUE:
			len += snprintf(buf + len, 64 - len, "%s<=%g %s", sep, c->limit, r->unit);
			break;
		case BC_OK:
			len += snprintf(buf + len, 64 - len, "%scompletes", sep);
			break;
		}
	}
	return buf;
}

static const char *verdict_text(const struct bench_row *r)
{
	switch (bench_row_verdict(r)) {
	case 1:
		return "pass";
	case 0:
		return "FAIL";
	default:
		return "-";
	}
}

/* One table line: Markdown cells, or columns padded to width (negative:
 * left-aligned). */
static void print_cells(bool md, int n, const char *const *cell, const int *width)
{
	for (int i = 0; i < n; i++) {
		if (md)
			printf("| %s ", cell[i]);
		else
			printf("%s%*s", i ? " " : "", width[i], cell[i]);
	}
	printf(md ? "|\n" : "\n");
}

static void print_main(const struct bench_results *res, bool md)
{
	static const char *const head[] = { "workload", "measure",   "unit",   "native",
					    "branchfs", "overlay",   "floor",  "bfs/nat",
					    "bfs/ovl",	"floor/nat", "target", "result" };
	static const int width[] = { -11, -42, -5, 9, 9, 9, 9, 7, 7, 9, -27, -6 };
	char b[7][32], tgt[64];

	print_cells(md, 12, head, width);
	if (md)
		printf("|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|\n");
	for (int i = 0; i < res->nrows; i++) {
		const struct bench_row *r = &res->row[i];
		const char *cell[12];

		if (!(r->tables & BTAB_MAIN))
			continue;
		cell[0] = r->workload;
		cell[1] = r->label;
		cell[2] = r->unit;
		for (int t = 0; t < BT_COUNT; t++)
			cell[3 + t] = fmt_cell(b[t], r, t);
		cell[7] = fmt_ratio(b[4], bench_row_ratio(r, BT_BRANCHFS, BT_NATIVE));
		cell[8] = fmt_ratio(b[5], bench_row_ratio(r, BT_BRANCHFS, BT_OVERLAY));
		cell[9] = fmt_ratio(b[6], bench_row_ratio(r, BT_FLOOR, BT_NATIVE));
		cell[10] = target_text(tgt, r);
		cell[11] = verdict_text(r);
		print_cells(md, 12, cell, width);
	}
}

static void print_table(const struct bench_results *res, unsigned table, const char *title, bool md)
{
	static const char *const head[] = { "case", "median", "p10", "p90", "n" };
	static const int width[] = { -44, 10, 10, 10, 6 };
	char b[4][32];
	bool any = false;

	for (int i = 0; i < res->nrows; i++)
		any |= (res->row[i].tables & table) != 0;
	if (!any)
		return;
	printf(md ? "\n**%s**\n\n" : "\n%s\n", title);
	print_cells(md, 5, head, width);
	if (md)
		printf("|---|--:|--:|--:|--:|\n");
	for (int i = 0; i < res->nrows; i++) {
		const struct bench_row *r = &res->row[i];
		const char *cell[5];

		if (!(r->tables & table))
			continue;
		snprintf(b[3], sizeof(b[3]), "%d", r->n[BT_BRANCHFS]);
		cell[0] = r->label;
		cell[1] = fmt_cell(b[0], r, BT_BRANCHFS);
		cell[2] = fmt_val(b[1], bench_row_pct(r, BT_BRANCHFS, 10));
		cell[3] = fmt_val(b[2], bench_row_pct(r, BT_BRANCHFS, 90));
		cell[4] = b[3];
		print_cells(md, 5, cell, width);
	}
}

static void print_notes(const struct bench_results *res, const char *const *wl_names, int nwl,
			bool md)
{
	const char *bullet = md ? "- " : "  ";
	bool head = false;

	for (int i = 0; i < nwl; i++) {
		if (!res->wl_error[i][0])
			continue;
		if (!head)
			printf("\nErrors\n%s", md ? "\n" : "");
		head = true;
		printf("%s%s: %s\n", bullet, wl_names[i], res->wl_error[i]);
	}
	for (int i = 0; i < res->nrows; i++)
		for (int t = 0; t < BT_COUNT; t++) {
			const struct bench_row *r = &res->row[i];

			if (!r->error[t][0])
				continue;
			if (!head)
				printf("\nErrors\n%s", md ? "\n" : "");
			head = true;
			printf("%s%s / %s on %s: %s\n", bullet, r->workload, r->label,
			       bench_target_name[t], r->error[t]);
		}
	head = false;
	for (int i = 0; i < res->nrows; i++) {
		if (!res->row[i].note[0])
			continue;
		if (!head)
			printf("\nNotes\n%s", md ? "\n" : "");
		head = true;
		printf("%s%s / %s: %s\n", bullet, res->row[i].workload, res->row[i].label,
		       res->row[i].note);
	}
}

void bench_report_print(const struct bench_results *res, const struct bench_opts *o,
			const char *const *wl_names, int nwl)
{
	bool md = o->markdown;

	printf("branchfs benchmark: %s sizes, %d repetitions, medians; ratios are speed "
	       "ratios (>1: branchfs faster); cold runs %s\n\n",
	       o->quick ? "quick" : "full", o->repeat,
	       res->cold_fadvised  ? "use posix_fadvise(DONTNEED) only (no drop_caches)"
	       : res->cold_dropped ? "drop the page, dentry and inode caches"
				   : "none");
	if (o->floor_opts)
		printf("floor run with -o %s\n\n", o->floor_opts);
	print_main(res, md);
	print_table(res, BTAB_CREATE, "Branch creation latency (FS_IOC_BRANCH_CREATE, us)", md);
	print_table(res, BTAB_COMMIT, "Commit latency (FS_IOC_BRANCH_COMMIT, us)", md);
	print_table(res, BTAB_ABORT, "Abort latency (FS_IOC_BRANCH_ABORT, us)", md);
	print_table(res, BTAB_DEPTH,
		    "First read of a base file against nesting depth and rounds (us)", md);
	print_notes(res, wl_names, nwl, md);
	printf("\n");
	for (int i = 0; i < nwl; i++)
		if (res->wl_ran[i])
			printf("%s%s: %.1f s\n", md ? "- " : "  ", wl_names[i], res->wl_seconds[i]);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

static void json_row(FILE *f, const struct bench_row *r)
{
	char tgt[64];
	int verdict = bench_row_verdict(r);

	fprintf(f, "    {\"workload\": ");
	json_str(f, r->workload);
	fprintf(f, ", \"measure\": ");
	json_str(f, r->label);
	fprintf(f, ", \"unit\": ");
	json_str(f, r->unit);
	fprintf(f, ", \"higher_is_better\": %s, \"target\": ", r->higher_better ? "true" : "false");
	json_str(f, target_text(tgt, r));
	fprintf(f, ", \"pass\": %s,\n     \"ratio_vs_native\": ",
		verdict < 0 ? "null"
		: verdict   ? "true"
			    : "false");
	json_num(f, bench_row_ratio(r, BT_BRANCHFS, BT_NATIVE));
	fprintf(f, ", \"ratio_vs_overlay\": ");
	json_num(f, bench_row_ratio(r, BT_BRANCHFS, BT_OVERLAY));
	fprintf(f, ", \"floor_vs_native\": ");
	json_num(f, bench_row_ratio(r, BT_FLOOR, BT_NATIVE));
	fprintf(f, ", \"note\": ");
	json_str(f, r->note);
	fprintf(f, ",\n     \"targets\": {");
	for (int t = 0, first = 1; t < BT_COUNT; t++) {
		if (!r->n[t] && !r->error[t][0])
			continue;
		fprintf(f, "%s\n       \"%s\": {\"median\": ", first ? "" : ",",
			bench_target_name[t]);
		first = 0;
		json_num(f, bench_row_median(r, t));
		fprintf(f, ", \"p10\": ");
		json_num(f, bench_row_pct(r, t, 10));
		fprintf(f, ", \"p90\": ");
		json_num(f, bench_row_pct(r, t, 90));
		fprintf(f, ", \"n\": %d, \"error\": ", r->n[t]);
		if (r->error[t][0])
			json_str(f, r->error[t]);
		else
			fprintf(f, "null");
		fprintf(f, "}");
	}
	fprintf(f, "}}");
}

int bench_report_json(const struct bench_results *res, const struct bench_opts *o,
		      const char *const *wl_names, int nwl, const char *path)
{
	FILE *f = fopen(path, "w");
	struct utsname u;
	time_t now = time(NULL);
	char date[64];

	if (!f)
		return -1;
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f, "{\n  \"date\": \"%s\", \"kernel\": ", date);
	json_str(f, u.release);
	fprintf(f, ", \"quick\": %s, \"repeat\": %d, \"cold\": \"%s\",\n  \"daemon\": ",
		o->quick ? "true" : "false", o->repeat,
		res->cold_fadvised ? "fadvise" : "drop_caches");
	json_str(f, o->daemon);
	fprintf(f, ", \"floor_opts\": ");
	json_str(f, o->floor_opts ? o->floor_opts : "");
	fprintf(f, ",\n  \"workloads\": {");
	for (int i = 0, first = 1; i < nwl; i++) {
		if (!res->wl_ran[i])
			continue;
		fprintf(f, "%s\n    ", first ? "" : ",");
		first = 0;
		json_str(f, wl_names[i]);
		fprintf(f, ": {\"seconds\": ");
		json_num(f, res->wl_seconds[i]);
		fprintf(f, ", \"error\": ");
		if (res->wl_error[i][0])
			json_str(f, res->wl_error[i]);
		else
			fprintf(f, "null");
		fprintf(f, "}");
	}
	fprintf(f, "},\n  \"rows\": [\n");
	for (int i = 0; i < res->nrows; i++) {
		json_row(f, &res->row[i]);
		fprintf(f, "%s\n", i + 1 < res->nrows ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	return fclose(f) ? -1 : 0;
}
