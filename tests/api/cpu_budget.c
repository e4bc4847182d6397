/*
 * What one CPU cache may hold (percpu.c, "Capacity"), one CPU, linked
 * builds (the internal pcm_percpu_fill counts the CPU caches alone):
 *
 *  1. The budget.  Three classes with a maximum of 512 KiB each (256 B,
 *     1 KiB and 4 KiB objects) each grow with a working set of 400 KiB;
 *     then all three working sets are live together and freed: the CPU
 *     cache keeps at most 1 MiB of them (room for one class at its maximum
 *     while every other is at its floor; the rest goes to the transfer
 *     cache and the slabs).  The old budget (every class's starting
 *     capacity, 2.8 MiB) kept all 1200 KiB, and with forty classes at work
 *     their random walks filled it: threads-rss, thread-churn.
 *  2. Growth on demand.  Two classes whose misses take turns (an object of
 *     each, 960 B and 1 KiB, allocated and freed in turn: both move
 *     batches of 8, so neither misses twice with nothing of the other
 *     between) keep their starting capacities: after the free phases the
 *     CPU cache holds at most 17 + 16 objects.  The old rule (one of the
 *     region's last two misses of the class) grew both to hold all 1024 of
 *     each.  A class missing alone grows as before (cpu_grow,
 *     cpu_capacity).
 *
 * Per-CPU mode only (passes trivially otherwise).
 */
#include "pcm_test.h"

extern unsigned pcm_percpu_fill(unsigned max, size_t *objs, size_t *bytes)
	__attribute__((weak));

#define MAXN 1600
static void *objs[3][MAXN];

/* Objects and bytes in the CPU caches (not the transfer caches). */
static void cpu_cached(size_t *objects, size_t *bytes)
{
	static size_t o[1024], b[1024];
	unsigned n = pcm_percpu_fill(1024, o, b);
	*objects = *bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		*objects += o[i];
		*bytes += b[i];
	}
}

static void fill(void **v, size_t size, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		v[i] = malloc(size);
		REQUIRE(v[i]);
		memset(v[i], (int)((i + seed) & 0xff), size);
	}
}

static void empty(void **v, size_t size, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b = v[i];
		CHECKF(b[0] == ((i + seed) & 0xff) && b[size - 1] == ((i + seed) & 0xff),
		       "object %zu of %zu bytes overwritten", i, size);
		free(v[i]);
	}
}

static void budget(void)
{
	static const size_t sizes[3] = { 256, 1024, 4096 };
	size_t n[3], o, b;
	malloc_trim(0);
	for (int k = 0; k < 3; k++) {
		n[k] = (400u << 10) / sizes[k];
		for (unsigned r = 0; r < 4; r++) {
			fill(objs[k], sizes[k], n[k], r);
			empty(objs[k], sizes[k], n[k], r);
		}
	}
	for (int k = 0; k < 3; k++)
		fill(objs[k], sizes[k], n[k], 7);
	for (int k = 0; k < 3; k++)
		empty(objs[k], sizes[k], n[k], 7);
	cpu_cached(&o, &b);
	CHECKF(b <= (1u << 20), "three working sets of 400 KiB freed: the CPU cache "
	       "holds %zu KiB (%zu objects), more than 1 MiB", b >> 10, o);
}

static void turns(void)
{
	enum { N = 1024 };
	size_t o, b;
	malloc_trim(0);
	for (unsigned r = 0; r < 4; r++) {
		for (size_t i = 0; i < N; i++) {
			REQUIRE(objs[0][i] = malloc(960));
			REQUIRE(objs[1][i] = malloc(1024));
			memset(objs[0][i], (int)((i + r) & 0xff), 960);
			memset(objs[1][i], (int)((i + r) & 0xff), 1024);
		}
		for (size_t i = 0; i < N; i++) {
			const unsigned char *x = objs[0][i], *y = objs[1][i];
			CHECKF(x[959] == ((i + r) & 0xff) && y[1023] == ((i + r) & 0xff),
			       "object %zu overwritten", i);
			free(objs[0][i]);
			free(objs[1][i]);
		}
	}
	cpu_cached(&o, &b);
	CHECKF(o <= 17 + 16, "%d objects of 960 B and of 1 KiB allocated and "
	       "freed in turn: the CPU cache holds %zu objects, more than the two "
	       "classes' starting capacities (33)", N, o);
}

int main(void)
{
	pcm_test_begin("cpu_budget");
	if (!pcm_percpu_fill || !pcm_percpu_pinned())
		return pcm_done("cpu_budget");
	turns(); /* first: budget() leaves other classes below their start */
	budget();
	return pcm_done("cpu_budget");
}
