/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branching run [-b NAME] [--on-error abort|none] [--ask] -- CMD [ARGS...]
 *
 * Run one command in a new branch with the terminal (it is the foreground
 * job when stdin is a terminal), then commit the branch when it exits 0 and
 * abort it otherwise; exit with the command's status.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <branchfs/runner.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_ON_ERROR = 300, OPT_ASK };

struct args {
	const struct cli_cmd *cmd;
	const char *branch;
	bool keep, ask;
};

static int opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	switch (c) {
	case 'b':
		a->branch = arg;
		return 0;
	case OPT_ON_ERROR:
		if (strcmp(arg, "abort") && strcmp(arg, "none"))
			return cli_usage(a->cmd, "--on-error takes abort or none, not '%s'", arg);
		a->keep = !strcmp(arg, "none");
		return 0;
	case OPT_ASK:
		a->ask = true;
		return 0;
	}
	return CLI_USAGE;
}

/* The exit status a shell would report for the command. */
static int status_of(const struct bfs_proc_result *r)
{
	if (r->error)
		return r->error == -ENOENT ? 127 : 126;
	if (r->timed_out)
		return 124;
	if (r->signal)
		return 128 + r->signal;
	return r->exit_code;
}

/*
 * Ask on the terminal whether to commit: 1 yes, 0 no, -EINTR when a signal
 * the runner r catches came first (before or during the question).  The
 * handlers are installed with SA_RESTART, so a plain read() would sit on
 * through a signal: the signals are blocked except inside ppoll(), which a
 * signal always interrupts, and r is asked before every wait.
 */
static int ask(int tty, const struct bfs_runner *r, const char *branch, const char *parent,
	       int status)
{
	struct pollfd pfd = { .fd = tty, .events = POLLIN };
	sigset_t caught, saved, waiting;
	char answer[16] = "";
	ssize_t n = 0;
	int ret = 0;

	sigemptyset(&caught);
	sigaddset(&caught, SIGINT);
	sigaddset(&caught, SIGTERM);
	sigaddset(&caught, SIGHUP);
	sigprocmask(SIG_BLOCK, &caught, &saved);
	waiting = saved;
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGHUP);
	dprintf(tty, "branching: commit '%s' into '%s' (the command exited with status %d)? [y/N] ",
		branch, parent, status);
	for (;;) {
		if (bfs_runner_signal(r)) {
			ret = -EINTR;
			dprintf(tty, "\n");
			break;
		}
		if (ppoll(&pfd, 1, NULL, &waiting) < 0) {
			if (errno == EINTR)
				continue;
			break; /* no answer: no */
		}
		n = read(tty, answer, sizeof(answer) - 1);
		answer[n > 0 ? n : 0] = '\0';
		ret = answer[0] == 'y' || answer[0] == 'Y';
		break;
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return ret;
}

struct verdict {
	const char *name, *path, *parent, *action;
	const struct bfs_proc_result *res;
	int status, err;
};

static void report(const struct cli_opts *o, const struct cli_ws *ws, const struct verdict *v)
{
	struct json j;

	if (!o->json) {
		if (!strcmp(v->action, "committed"))
			printf("committed '%s' into '%s'\n", v->name, v->parent);
		else if (!strcmp(v->action, "kept"))
			printf("kept '%s' at %s (status %d)\n", v->name, v->path, v->status);
		else
			printf("aborted '%s' (status %d)\n", v->name, v->status);
		return;
	}
	json_begin(&j, stdout);
	json_object(&j);
	json_key(&j, "command");
	json_string(&j, "run");
	json_key(&j, "workspace");
	json_string(&j, bfs_mount_root(ws->m));
	json_key(&j, "parent");
	json_string(&j, v->parent);
	json_key(&j, "branch");
	json_string(&j, v->name);
	json_key(&j, "path");
	json_string(&j, v->path);
	json_key(&j, "exit_code");
	json_int(&j, v->status);
	json_key(&j, "signal");
	json_string(&j, v->res && v->res->signal ? sigabbrev_np(v->res->signal) : NULL);
	json_key(&j, "timed_out");
	json_bool(&j, v->res && v->res->timed_out);
	json_key(&j, "action");
	json_string(&j, v->action);
	json_key(&j, "committed");
	json_bool(&j, !strcmp(v->action, "committed"));
	json_key(&j, "error");
	json_string(&j, v->err ? bfs_strerror(v->err) : NULL);
	json_end(&j);
	json_finish(&j);
}

/* Run the command in branch v->name under runner r; fill v.  -EINTR with
 * *sig set when a signal stopped it (the command is killed and reaped). */
static int execute(struct verdict *v, struct bfs_runner *r, const struct cli_opts *o,
		   const struct bfs_task *task, struct bfs_proc_result **res, int *sig)
{
	struct bfs_start s = BFS_START_INIT;
	int ret;

	s.task = task;
	s.info.branch = v->name;
	s.info.path = v->path;
	s.timeout_ms = o->timeout_ms ? o->timeout_ms : o->task_timeout_ms;
	s.flags = BFS_START_INHERIT_OUTPUT | BFS_START_INHERIT_STDIN | BFS_START_FOREGROUND;
	if (o->json)
		s.flags |= BFS_START_OUT_TO_ERR;
	ret = bfs_runner_start(r, &s);
	if (ret < 0)
		return ret;
	ret = bfs_runner_wait(res, r, -1);
	if (ret == -EINTR) {
		*sig = bfs_runner_signal(r);
		bfs_runner_kill_all(r);
		if (bfs_runner_wait(res, r, -1))
			*res = NULL;
	}
	v->res = *res;
	if (*res)
		v->status = status_of(*res);
	if (*res && (*res)->error)
		cli_error("cannot %s '%s': %s",
			  strcmp((*res)->error_what, "chdir") ? "run" : "enter the branch of",
			  task->argv ? task->argv[0] : task->shell, bfs_syserr(-(*res)->error));
	return ret;
}

/* A caught signal sig stopped the run: abort the branch; 128 + sig. */
static int interrupted(struct verdict *v, struct cli_ws *ws, int sig)
{
	v->action = "aborted";
	v->err = bfs_abort(ws->m, v->name);
	if (v->err)
		cli_error("cannot abort '%s': %s", v->name, bfs_strerror(v->err));
	cli_error("interrupted by SIG%s", sigabbrev_np(sig));
	return 128 + sig;
}

/* Commit, abort or keep the branch; returns the exit code.  Nothing is
 * committed once r caught a signal, also when the answer was yes. */
static int decide(struct verdict *v, const struct args *a, struct cli_ws *ws,
		  const struct bfs_runner *r, int tty)
{
	bool commit = v->status == 0;

	if (tty >= 0) {
		int yes = ask(tty, r, v->name, v->parent, v->status);

		if (yes < 0)
			return interrupted(v, ws, bfs_runner_signal(r));
		commit = yes;
	}
	if (bfs_runner_signal(r))
		return interrupted(v, ws, bfs_runner_signal(r));
	if (!commit && a->keep && tty < 0) {
		v->action = "kept";
		return v->status;
	}
	v->action = commit ? "committed" : "aborted";
	v->err = commit ? bfs_commit(ws->m, v->name) : bfs_abort(ws->m, v->name);
	if (v->err && commit) {
		cli_error("cannot commit '%s' into '%s': %s", v->name, v->parent,
			  bfs_strerror(v->err));
		v->action = "aborted";
		bfs_abort(ws->m, v->name);
		return cli_exit_code(v->err);
	}
	if (v->err)
		cli_error("cannot abort '%s': %s", v->name, bfs_strerror(v->err));
	return v->err ? CLI_FAILURE : v->status;
}

static int create(struct verdict *v, const struct args *a, struct cli_ws *ws, char **name,
		  char **path, char **parent)
{
	const char *why;
	int ret;

	if (a->branch && bfs_name_check(&why, a->branch)) {
		cli_error("cannot create '%s': %s", a->branch, why);
		return CLI_FAILURE;
	}
	ret = ws->parent ? ((*parent = strdup(ws->parent)) ? 0 : -ENOMEM)
			 : bfs_current(parent, ws->m);
	if (!ret)
		ret = bfs_create(name, path, ws->m, *parent, a->branch);
	if (ret == -EEXIST)
		cli_error("branch '%s' already exists", a->branch);
	else if (ret)
		cli_error("cannot create a branch of '%s': %s", *parent ? *parent : "?",
			  bfs_strerror(ret));
	v->name = *name;
	v->path = *path;
	v->parent = *parent;
	return ret ? cli_exit_code(ret) : CLI_OK;
}

/*
 * Signals are caught (the runner lives) from before the branch is created
 * until it is decided: a signal at any point aborts it and exits 128 + the
 * signal.
 */
static int run_in_branch(struct args *a, struct cli_opts *o, const struct bfs_task *task, int tty)
{
	struct bfs_runner_opts ro = { .version = BFS_RUNNER_OPTS_VERSION,
				      .grace_ms = o->grace_ms,
				      .flags = BFS_RUNNER_CATCH_SIGNALS };
	char *name = NULL, *path = NULL, *parent = NULL;
	struct bfs_proc_result *res = NULL;
	struct bfs_runner *r = NULL;
	struct verdict v = { 0 };
	int ret, sig = 0;
	struct cli_ws ws;

	ret = cli_ws_open(&ws, o);
	if (ret)
		return ret;
	ret = bfs_runner_new(&r, &ro);
	if (ret) {
		cli_error("cannot run the command: %s", bfs_syserr(-ret));
		cli_ws_close(&ws);
		return CLI_FAILURE;
	}
	ret = create(&v, a, &ws, &name, &path, &parent);
	if (ret) {
		if (name)
			bfs_abort(ws.m, name);
		goto out_free;
	}
	if ((sig = bfs_runner_signal(r))) {
		ret = interrupted(&v, &ws, sig); /* it came while the branch was created */
	} else {
		ret = execute(&v, r, o, task, &res, &sig);
		if (!ret && (sig = bfs_runner_signal(r)))
			ret = -EINTR; /* it came after the command ended */
		if (ret == -EINTR) {
			ret = interrupted(&v, &ws, sig);
		} else if (ret < 0) {
			v.action = "aborted";
			v.err = bfs_abort(ws.m, name);
			cli_error("cannot run the command: %s", bfs_syserr(-ret));
			ret = CLI_FAILURE;
		} else {
			ret = decide(&v, a, &ws, r, tty);
		}
	}
	report(o, &ws, &v);
	ret = cli_finish(ret);
out_free:
	bfs_runner_free(r);
	bfs_proc_result_free(res);
	free(name);
	free(path);
	free(parent);
	cli_ws_close(&ws);
	return ret;
}

static int run(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "on-error", required_argument, NULL, OPT_ON_ERROR },
		{ "ask", no_argument, NULL, OPT_ASK },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { cmd, NULL, false, false };
	struct bfs_task *tasks = NULL;
	struct cli_opts o = { 0 };
	int ret, tty = -1;
	size_t n;

	ret = cli_parse(cmd, argc, argv, CLI_O_TIMEOUTS, "b:", longopts, opt, &a, &o);
	if (ret < 0)
		ret = cli_tasks(&tasks, &n, cmd, &o);
	if (ret < 0 && a.ask && (tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		ret = cli_usage(cmd, "--ask needs a terminal");
	if (ret < 0)
		ret = run_in_branch(&a, &o, tasks, tty);
	if (tty >= 0)
		close(tty);
	free(tasks);
	cli_opts_free(&o);
	return ret;
}

const struct cli_cmd cli_run = {
	.name = "run",
	.summary = "run a command in a new branch, commit on success, abort on failure",
	.usage = "branching run [-b NAME] [--on-error abort|none] [--ask] [--timeout S] "
		 "[-w PATH] [--json] -- CMD [ARGS...]",
	.help = "Create a branch (a child of the parent branch), run CMD in it with the\n"
		"terminal (cwd: the branch directory), then commit the branch when CMD\n"
		"exits 0 and abort it otherwise.  Exits with CMD's status (128 + N when a\n"
		"signal N ended it, 124 when the timeout did, 127 when it cannot be run),\n"
		"or 3 when the commit lost the race to a sibling's.\n"
		"\n"
		"  -b, --branch NAME     name the branch (default: a generated name)\n"
		"  --on-error abort|none abort the branch when CMD fails (default), or keep\n"
		"                        it for inspection\n"
		"  --ask                 ask on the terminal whether to commit\n"
		"  --timeout S           kill CMD after S seconds\n"
		"  --grace S             from SIGTERM to SIGKILL (default 2)\n" CLI_HELP_WORKSPACE,
	.run = run,
};
