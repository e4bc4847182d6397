/*
 * The microbenchmark workloads (see micro.h and bench/README.md).
 *
 * Every block that is allocated is written once, so that the allocation
 * cannot be optimised away and the first touch of the memory is part of the
 * cost, as it is in a program.  wl_escape() keeps the compiler from pairing
 * and deleting malloc/free.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "micro.h"

static inline void escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static void oom(void)
{
	abort();
}

static inline void touch(void *p)
{
	if (!p)
		oom();
	*(volatile char *)p = 1;
	escape(p);
}

/* ---- context with a copy of the case and a pointer table ---- */

struct ctx {
	const struct micro_case *c;
	void **ptrs;
	uint32_t *order;
	size_t *sizes;
	uint64_t rng;
};

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void *plain_setup(const struct micro_case *c)
{
	struct ctx *x = calloc(1, sizeof(*x));
	if (!x)
		oom();
	x->c = c;
	x->rng = 12345;
	return x;
}

static void plain_teardown(void *ctx)
{
	struct ctx *x = ctx;
	free(x->ptrs);
	free(x->order);
	free(x->sizes);
	free(x);
}

/* ---- malloc/free pairs ---- */

static void pair_run(void *ctx, uint64_t n)
{
	size_t size = ((struct ctx *)ctx)->c->size;
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(size);
		touch(p);
		free(p);
	}
}

static void calloc_run(void *ctx, uint64_t n)
{
	size_t size = ((struct ctx *)ctx)->c->size;
	for (uint64_t i = 0; i < n; i++) {
		void *p = calloc(1, size);
		touch(p);
		free(p);
	}
}

static void aligned_run(void *ctx, uint64_t n)
{
	const struct micro_case *c = ((struct ctx *)ctx)->c;
	size_t size = c->size, align = c->param;
	for (uint64_t i = 0; i < n; i++) {
		void *p = aligned_alloc(align, size);
		touch(p);
		if ((uintptr_t)p & (align - 1))
			abort();
		free(p);
	}
}

/* ---- batches freed in LIFO, FIFO or random order ---- */

enum { ORDER_LIFO, ORDER_FIFO, ORDER_RANDOM };

static void *batch_setup(const struct micro_case *c)
{
	struct ctx *x = plain_setup(c);
	size_t n = c->param;
	x->ptrs = malloc(n * sizeof(*x->ptrs));
	x->order = malloc(n * sizeof(*x->order));
	x->sizes = malloc(n * sizeof(*x->sizes));
	if (!x->ptrs || !x->order || !x->sizes)
		oom();
	for (size_t i = 0; i < n; i++) {
		x->order[i] = (uint32_t)i;
		/* size 0 in the table means "mixed": 16..size, fixed draw */
		x->sizes[i] = c->size ? c->size : 16 + next_rand(&x->rng) % 1009;
	}
	for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = next_rand(&x->rng) % (i + 1);
		uint32_t t = x->order[i];
		x->order[i] = x->order[j];
		x->order[j] = t;
	}
	return x;
}

static inline void batch_once(struct ctx *x, int order)
{
	size_t n = x->c->param;
	for (size_t i = 0; i < n; i++) {
		x->ptrs[i] = malloc(x->sizes[i]);
		touch(x->ptrs[i]);
	}
	if (order == ORDER_LIFO)
		for (size_t i = n; i-- > 0;)
			free(x->ptrs[i]);
	else if (order == ORDER_FIFO)
		for (size_t i = 0; i < n; i++)
			free(x->ptrs[i]);
	else
		for (size_t i = 0; i < n; i++)
			free(x->ptrs[x->order[i]]);
}

#define BATCH_RUN(name, order)                                                 \
	static void name(void *ctx, uint64_t n)                               \
	{                                                                      \
		struct ctx *x = ctx;                                           \
		for (uint64_t done = 0; done < n; done += x->c->param)        \
			batch_once(x, order);                                  \
	}
BATCH_RUN(lifo_run, ORDER_LIFO)
BATCH_RUN(fifo_run, ORDER_FIFO)
BATCH_RUN(random_run, ORDER_RANDOM)

/* ---- realloc ---- */

/* One operation: a vector that starts at 16 bytes and doubles up to
 * c->size, writing one byte in every page of each new half. */
static void grow_run(void *ctx, uint64_t n)
{
	size_t limit = ((struct ctx *)ctx)->c->size;
	for (uint64_t i = 0; i < n; i++) {
		size_t size = 16;
		char *p = malloc(size);
		touch(p);
		while (size < limit) {
			size_t old = size;
			size *= 2;
			p = realloc(p, size);
			if (!p)
				oom();
			for (size_t off = old; off < size; off += 4096)
				p[off] = 1;
			p[size - 1] = 1;
			escape(p);
		}
		free(p);
	}
}

/* One operation is one realloc: a string growing by c->param bytes at a
 * time from 16 bytes to c->size, then freed (batch = number of steps). */
static void append_run(void *ctx, uint64_t n)
{
	const struct micro_case *c = ((struct ctx *)ctx)->c;
	for (uint64_t done = 0; done < n; done += c->batch) {
		size_t size = 16;
		char *p = malloc(size);
		touch(p);
		for (uint64_t k = 0; k < c->batch; k++) {
			size += c->param;
			p = realloc(p, size);
			if (!p)
				oom();
			p[size - 1] = 1;
			escape(p);
		}
		free(p);
	}
}

/* ---- cross-thread free: this thread allocates, a consumer frees ---- */

#define RING 1024

struct xctx {
	const struct micro_case *c;
	pthread_t consumer;
	_Atomic uint64_t head; /* written by the producer */
	char pad1[64];
	_Atomic uint64_t tail; /* written by the consumer */
	char pad2[64];
	void *_Atomic slot[RING];
};

static void *consumer(void *arg)
{
	struct xctx *x = arg;
	uint64_t tail = 0;
	unsigned spins = 0;
	for (;;) {
		uint64_t head = atomic_load_explicit(&x->head,
						     memory_order_acquire);
		if (tail == head) {
			if (++spins > 64) {
				sched_yield();
				spins = 0;
			}
			continue;
		}
		while (tail != head) {
			void *p = atomic_load_explicit(&x->slot[tail % RING],
						       memory_order_relaxed);
			if (!p)
				return NULL; /* the stop signal */
			free(p);
			tail++;
		}
		atomic_store_explicit(&x->tail, tail, memory_order_release);
	}
}

static void *xthread_setup(const struct micro_case *c)
{
	struct xctx *x = calloc(1, sizeof(*x));
	if (!x)
		oom();
	x->c = c;
	if (pthread_create(&x->consumer, NULL, consumer, x))
		abort();
	return x;
}

static void push(struct xctx *x, void *p)
{
	uint64_t head = atomic_load_explicit(&x->head, memory_order_relaxed);
	unsigned spins = 0;
	while (head - atomic_load_explicit(&x->tail, memory_order_acquire) >=
	       RING) {
		if (++spins > 64) {
			sched_yield();
			spins = 0;
		}
	}
	atomic_store_explicit(&x->slot[head % RING], p, memory_order_relaxed);
	atomic_store_explicit(&x->head, head + 1, memory_order_release);
}

static void xthread_run(void *ctx, uint64_t n)
{
	struct xctx *x = ctx;
	size_t size = x->c->size;
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(size);
		touch(p);
		push(x, p);
	}
}

static void xthread_teardown(void *ctx)
{
	struct xctx *x = ctx;
	push(x, NULL);
	pthread_join(x->consumer, NULL);
	free(x);
}

/* ---- per-thread mixed workload for the scaling runs ---- */

/* Pairs with sizes cycling through 16..527 bytes. */
static void mixed_pair_run(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(16 + (i * 37 & 511));
		touch(p);
		free(p);
	}
}

/* ---- baseline: the harness loop alone ---- */

static void noop_run(void *ctx, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		escape(ctx);
}

void __attribute__((noinline)) micro_measure(const struct micro_case *c,
					     void *ctx, uint64_t n)
{
	c->run(ctx, n);
	escape(ctx);
}

#define PAIR(sz) {"pair/" #sz, plain_setup, pair_run, plain_teardown, sz, 0, \
		  64, 1, 1, "malloc+free"}
/* Threaded cases: Google Benchmark appends "/threads:N" to the name. */
#define SCALE(t) {"scale/pair-mixed", plain_setup, mixed_pair_run,             \
		   plain_teardown, 512, 0, 64, t, 0, "malloc+free"},          \
		 {"scale/batch-random", batch_setup, random_run,              \
		  plain_teardown, 0, 100, 100, t, 0, "malloc+free"}

const struct micro_case micro_cases[] = {
	{"baseline/noop", plain_setup, noop_run, plain_teardown, 0, 0, 64, 1,
	 1, "loop"},
	PAIR(16),
	PAIR(32),
	PAIR(64),
	PAIR(128),
	PAIR(256),
	PAIR(512),
	PAIR(1024),
	PAIR(4096),
	PAIR(8192),
	PAIR(16384),
	PAIR(65536),
	PAIR(262144),
	PAIR(1048576),
	{"batch/lifo/64", batch_setup, lifo_run, plain_teardown, 64, 1000, 1000,
	 1, 1, "malloc+free"},
	{"batch/fifo/64", batch_setup, fifo_run, plain_teardown, 64, 1000, 1000,
	 1, 1, "malloc+free"},
	{"batch/random/64", batch_setup, random_run, plain_teardown, 64, 1000,
	 1000, 1, 1, "malloc+free"},
	{"batch/random/mixed", batch_setup, random_run, plain_teardown, 0, 1000,
	 1000, 1, 1, "malloc+free"},
	{"calloc/64", plain_setup, calloc_run, plain_teardown, 64, 0, 64, 1, 1,
	 "calloc+free"},
	{"calloc/65536", plain_setup, calloc_run, plain_teardown, 65536, 0, 64,
	 1, 1, "calloc+free"},
	{"realloc/append-64", plain_setup, append_run, plain_teardown, 0, 64,
	 256, 1, 1, "realloc"},
	{"realloc/double-to-64MiB", plain_setup, grow_run, plain_teardown,
	 64u << 20, 0, 1, 1, 0, "growth 16 B..64 MiB"},
	{"aligned_alloc/64x100", plain_setup, aligned_run, plain_teardown, 100,
	 64, 64, 1, 1, "aligned_alloc+free"},
	{"aligned_alloc/4096x4096", plain_setup, aligned_run, plain_teardown,
	 4096, 4096, 64, 1, 1, "aligned_alloc+free"},
	{"aligned_alloc/65536x65536", plain_setup, aligned_run, plain_teardown,
	 65536, 65536, 64, 1, 1, "aligned_alloc+free"},
	{"xthread/64", xthread_setup, xthread_run, xthread_teardown, 64, 0, 64,
	 1, 0, "malloc, remote free"},
	{"xthread/1024", xthread_setup, xthread_run, xthread_teardown, 1024, 0,
	 64, 1, 0, "malloc, remote free"},
	SCALE(1),
	SCALE(2),
	SCALE(4),
	SCALE(8),
};

const size_t micro_ncases = sizeof(micro_cases) / sizeof(micro_cases[0]);
