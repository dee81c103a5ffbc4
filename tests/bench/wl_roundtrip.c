/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The floor under every latency of the other workloads, per target:
 *   ioctl    an ioctl no filesystem knows, shaped like FS_IOC_BRANCH_CREATE
 *            (128 bytes out), on an open regular file: native refuses it in
 *            the kernel; on a FUSE mount it is one request to the daemon and
 *            its ENOTTY reply, nothing else
 *   wake-up  a one-byte ping-pong through two pipes between two processes
 *            (native only): two wake-ups of a sleeping process, which the
 *            scheduler charges every FUSE request on this machine as well
 * Samples of the targets take turns one by one.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNKNOWN_IOC _IOR('z', 0x7f, char[128])

static void ioctl_sample(struct bench_row *row, const struct bench_env *e, int fd)
{
	char buf[128];
	double t0 = bench_now();
	int ret = ioctl(fd, UNKNOWN_IOC, buf);
	double us = (bench_now() - t0) * 1e6;

	if (ret < 0 && errno != ENOTTY && errno != ENOSYS && errno != EINVAL)
		bench_row_fail(row, e->t, "ioctl: %s", strerror(errno));
	else
		bench_row_sample(row, e->t, us);
}

/* Echo bytes from in to out until EOF (the child of the ping-pong). */
static void echo(int in, int out)
{
	char ch;

	while (read(in, &ch, 1) == 1)
		if (write(out, &ch, 1) != 1)
			break;
	_exit(0);
}

static void pingpong(struct bench_row *row, int samples)
{
	int ping[2], pong[2];
	pid_t pid;
	char ch = 'x';

	if (pipe(ping) || pipe(pong)) {
		bench_row_fail(row, BT_NATIVE, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(ping[1]);
		close(pong[0]);
		echo(ping[0], pong[1]);
	}
	close(ping[0]);
	close(pong[1]);
	for (int i = 0; pid > 0 && i < samples; i++) {
		double t0 = bench_now();

		if (write(ping[1], &ch, 1) != 1 || read(pong[0], &ch, 1) != 1) {
			bench_row_fail(row, BT_NATIVE, "ping-pong: %s", strerror(errno));
			break;
		}
		bench_row_sample(row, BT_NATIVE, (bench_now() - t0) * 1e6);
	}
	close(ping[1]);
	close(pong[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void bench_wl_roundtrip(struct bench_ctx *c)
{
	struct bench_tree t = { .files = 1, .size = 4096 };
	int samples = c->o->quick ? 200 : 2000, fd[BT_COUNT];
	struct bench_env envs[BT_COUNT];
	struct bench_row *ioc, *wake;
	char rel[PATH_MAX], path[2 * PATH_MAX];

	ioc = bench_row_add(c, "unknown ioctl on a file (one request)", "us", false, BTAB_MAIN);
	wake = bench_row_add(c, "pipe ping-pong between two processes", "us", false, BTAB_MAIN);
	bench_envs_setup(c, "rt", bench_tree_fill, &t, false, envs);
	bench_row_env_errors(ioc, envs);
	for (int i = 0; i < BT_COUNT; i++) {
		fd[i] = -1;
		if (!envs[i].ok)
			continue;
		snprintf(path, sizeof(path), "%s/%s", envs[i].dir, bench_tree_path(rel, &t, 0));
		fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fd[i] < 0)
			bench_row_fail(ioc, i, "open: %s", strerror(errno));
	}
	for (int s = 0; s < samples; s++)
		for (int i = 0; i < BT_COUNT; i++) {
			int k = bench_order(s, i);

			if (fd[k] >= 0)
				ioctl_sample(ioc, &envs[k], fd[k]);
		}
	for (int i = 0; i < BT_COUNT; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	bench_envs_teardown(envs);
	pingpong(wake, samples);
}
