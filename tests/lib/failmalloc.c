/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation failure injection for daemons under test, by LD_PRELOAD.
 *
 * Once armed (SIGUSR1), every BFS_FAILMALLOC_EVERY-th small allocation
 * (malloc, calloc, realloc of less than 64 KiB; default every 5th) fails
 * with ENOMEM; SIGUSR2 disarms.  Large allocations are left alone so the
 * request buffers libfuse allocates once per thread always exist: the test
 * is about what the daemon does with a failed allocation, not about a
 * libfuse that cannot read requests at all.
 *
 * The allocations themselves are glibc's (__libc_malloc and friends), so
 * memory from either side may be freed by the other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define SMALL (64 * 1024)

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static atomic_bool armed;
static atomic_uint count;
static unsigned int every = 5;

static bool fail(size_t n)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed) || n >= SMALL)
		return false;
	if (atomic_fetch_add(&count, 1) % every)
		return false;
	errno = ENOMEM;
	return true;
}

void *malloc(size_t n)
{
	return fail(n) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	/* n * size may overflow: such requests are never failed. */
	if (size && n < SMALL / size && fail(n * size))
		return NULL;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	return fail(n) ? NULL : __libc_realloc(p, n);
}

static void on_signal(int sig)
{
	atomic_store(&armed, sig == SIGUSR1);
}

__attribute__((constructor)) static void failmalloc_init(void)
{
	const char *e = getenv("BFS_FAILMALLOC_EVERY");
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	if (e && atoi(e) > 0)
		every = (unsigned int)atoi(e);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}
