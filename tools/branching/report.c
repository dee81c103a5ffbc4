/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outcome of a pattern as the user sees it: a short text report (the
 * verdict, then one line per candidate, then the matches of a tournament),
 * or one JSON object (schema in docs/patterns.md), then a diagnostic line
 * on stderr when nothing was committed, and the exit code.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

/* One word for what became of r. */
static const char *state(const struct bfs_result *r)
{
	if (r->committed)
		return "committed";
	if (r->success)
		return "ok";
	if (!r->started)
		return "skipped";
	if (r->timed_out)
		return "timeout";
	if (r->reason && !strncmp(r->reason, "stopped", 7))
		return "stopped";
	return "failed";
}

static void print_result(const struct bfs_result *r, bool levels)
{
	printf("  [%u]", r->index);
	if (levels)
		printf(" L%u", r->level);
	printf(" %-9s", state(r));
	if (r->success && r->has_score)
		printf(" score %g", r->score);
	else if (!r->success && r->reason)
		printf(" %s", r->reason);
	if (r->started)
		printf(" (%.2f s)", r->elapsed_ms / 1000.0);
	putchar('\n');
}

static void print_text(const struct bfs_outcome *out, int ret)
{
	const struct bfs_result *w = bfs_outcome_winner(out);
	bool levels = false;

	for (size_t i = 0; i < bfs_outcome_count(out); i++)
		levels |= bfs_outcome_get(out, i)->level > 0;
	if (w && bfs_outcome_committed(out))
		printf("committed candidate %u into '%s'\n", w->index, bfs_outcome_parent(out));
	else if (w)
		printf("best: candidate %u (score %g), nothing committed (rollout)\n", w->index,
		       w->score);
	else
		printf("nothing committed\n");
	for (size_t i = 0; i < bfs_outcome_count(out); i++)
		print_result(bfs_outcome_get(out, i), levels);
	for (size_t i = 0; i < bfs_outcome_match_count(out); i++) {
		const struct bfs_match *m = bfs_outcome_match(out, i);

		if (m->winner >= 0)
			printf("  match %u: %u vs %u: %d wins\n", m->round, m->a, m->b, m->winner);
		else
			printf("  match %u: %u vs %u: judge failed: %s\n", m->round, m->a, m->b,
			       m->error);
	}
	(void)ret;
}

static void json_result(struct json *j, const struct bfs_result *r)
{
	json_object(j);
	json_key(j, "index");
	json_uint(j, r->index);
	json_key(j, "level");
	json_uint(j, r->level);
	json_key(j, "group");
	if (r->group >= 0)
		json_int(j, r->group);
	else
		json_null(j);
	json_key(j, "branch");
	json_string(j, r->branch);
	json_key(j, "path");
	json_string(j, r->path);
	json_key(j, "started");
	json_bool(j, r->started);
	json_key(j, "success");
	json_bool(j, r->success);
	json_key(j, "committed");
	json_bool(j, r->committed);
	json_key(j, "score");
	if (r->has_score)
		json_double(j, r->score);
	else
		json_null(j);
	json_key(j, "exit_code");
	if (r->started && r->exit_code >= 0)
		json_int(j, r->exit_code);
	else
		json_null(j);
	json_key(j, "signal");
	if (r->signal)
		json_string(j, sigabbrev_np(r->signal));
	else
		json_null(j);
	json_key(j, "timed_out");
	json_bool(j, r->timed_out);
	json_key(j, "error");
	json_string(j, r->success ? NULL : r->reason);
	json_key(j, "elapsed_ms");
	json_int(j, r->elapsed_ms);
	json_key(j, "feedback");
	json_string(j, r->feedback);
	json_key(j, "stdout");
	json_stringn(j, r->out, r->out_len);
	json_key(j, "stderr");
	json_stringn(j, r->err, r->err_len);
	json_end(j);
}

static void json_winner(struct json *j, const struct bfs_outcome *out, const struct cli_report *x)
{
	const struct bfs_result *w = bfs_outcome_winner(out);

	json_key(j, "winner");
	if (!w) {
		json_null(j);
	} else if (x && x->winner_object) {
		json_object(j);
		json_key(j, "index");
		json_uint(j, w->index);
		json_key(j, "score");
		json_double(j, w->score);
		json_end(j);
	} else {
		json_uint(j, w->index);
	}
}

static void json_matches(struct json *j, const struct bfs_outcome *out)
{
	json_key(j, "matches");
	json_array(j);
	for (size_t i = 0; i < bfs_outcome_match_count(out); i++) {
		const struct bfs_match *m = bfs_outcome_match(out, i);

		json_object(j);
		json_key(j, "round");
		json_uint(j, m->round);
		json_key(j, "a");
		json_uint(j, m->a);
		json_key(j, "b");
		json_uint(j, m->b);
		json_key(j, "winner");
		if (m->winner >= 0)
			json_int(j, m->winner);
		else
			json_null(j);
		json_key(j, "error");
		json_string(j, m->error);
		json_end(j);
	}
	json_end(j);
}

static void print_json(const struct cli_cmd *cmd, const struct cli_ws *ws,
		       const struct bfs_outcome *out, const struct cli_report *x)
{
	struct json j;

	json_begin(&j, stdout);
	json_object(&j);
	json_key(&j, "command");
	json_string(&j, cmd->name);
	json_key(&j, "workspace");
	json_string(&j, bfs_mount_root(ws->m));
	json_key(&j, "parent");
	json_string(&j, bfs_outcome_parent(out));
	json_key(&j, "committed");
	json_bool(&j, bfs_outcome_committed(out));
	json_winner(&j, out, x);
	if (x && x->count_key) {
		json_key(&j, x->count_key);
		json_uint(&j, x->count);
	}
	json_key(&j, "interrupted");
	json_string(&j, bfs_outcome_signal(out) ? sigabbrev_np(bfs_outcome_signal(out)) : NULL);
	json_key(&j, "error");
	json_string(&j, bfs_outcome_message(out));
	json_key(&j, "elapsed_ms");
	json_int(&j, bfs_outcome_elapsed_ms(out));
	json_key(&j, "results");
	json_array(&j);
	for (size_t i = 0; i < bfs_outcome_count(out); i++)
		json_result(&j, bfs_outcome_get(out, i));
	json_end(&j);
	if (!strcmp(cmd->name, "tournament"))
		json_matches(&j, out);
	json_end(&j);
	json_finish(&j);
}

int cli_report(const struct cli_cmd *cmd, const struct cli_opts *o, const struct cli_ws *ws,
	       const struct bfs_outcome *out, int ret, const struct cli_report *x)
{
	int code;

	if (!out) {
		cli_error("%s: %s", cmd->name, bfs_strerror(ret));
		return cli_exit_code(ret);
	}
	if (o->json)
		print_json(cmd, ws, out, x);
	else
		print_text(out, ret);
	code = cli_finish(CLI_OK);
	if (bfs_outcome_signal(out)) {
		cli_error("interrupted by SIG%s", sigabbrev_np(bfs_outcome_signal(out)));
		return 128 + bfs_outcome_signal(out);
	}
	if (ret) {
		cli_error("%s",
			  bfs_outcome_message(out) ? bfs_outcome_message(out) : bfs_strerror(ret));
		return cli_exit_code(ret);
	}
	if (code)
		return code;
	if (bfs_outcome_committed(out))
		return CLI_OK;
	if (bfs_outcome_winner(out))
		cli_error("nothing committed (rollout): the best is candidate %u",
			  bfs_outcome_winner(out)->index);
	else
		cli_error("nothing committed: no candidate succeeded");
	return CLI_FAILURE;
}
