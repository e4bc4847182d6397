/*
 * alloc-test: random sizes with a power-law (Pareto-like) distribution and
 * random lifetimes, modelled on the alloc-test benchmark of OLSH (used as
 * alloc-test1 / alloc-testN in the mimalloc benchmark suite).
 *
 * Each thread runs a timing wheel.  At every step it allocates one object
 * whose size is drawn from a Pareto distribution (16 B upwards: most objects
 * are small, a few are large, up to 256 KiB) and whose lifetime, in steps, is
 * drawn from a heavy-tailed distribution too (half of the objects die within
 * ten steps, a few live for up to a million steps); then it frees every
 * object whose lifetime ends at that step.  Each thread keeps a few thousand
 * objects live at any time, of very mixed ages.
 *
 * Stresses: size-class coverage, reuse of memory freed in random order, and
 * fragmentation under mixed lifetimes.  The threads are independent, so a
 * second thread measures scaling without sharing.
 *
 * usage: alloc_test [threads=2] [steps=3000000] [maxsize=262144]
 *   steps is per thread.
 */
#include <pthread.h>
#include "wl.h"

#define WHEEL (1u << 20)
#define TABLE 65536

struct obj {
	struct obj *next;
	size_t size;
};

static long nthreads, nsteps, max_size;
static uint32_t size_table[TABLE], life_table[TABLE];

static void *work(void *arg)
{
	struct wl_rng rng = {(uint64_t)(uintptr_t)arg * 1000003 + 1};
	struct obj **wheel = wl_check(calloc(WHEEL, sizeof(*wheel)), 1);
	for (long step = 0; step < nsteps; step++) {
		size_t size = size_table[wl_below(&rng, TABLE)];
		uint32_t life = life_table[wl_below(&rng, TABLE)];
		struct obj *o = wl_check(malloc(size), size);
		o->size = size;
		if (size > sizeof(*o))
			((unsigned char *)o)[size - 1] =
				(unsigned char)(size ^ 0x5a);
		struct obj **b = &wheel[(step + life) & (WHEEL - 1)];
		o->next = *b;
		*b = o;

		struct obj **now = &wheel[step & (WHEEL - 1)];
		for (struct obj *d = *now, *next; d; d = next) {
			next = d->next;
			if (d->size > sizeof(*d) &&
			    ((unsigned char *)d)[d->size - 1] !=
				    (unsigned char)(d->size ^ 0x5a))
				wl_die("alloc_test: corrupted block %p", d);
			free(d);
		}
		*now = NULL;
	}
	for (uint32_t i = 0; i < WHEEL; i++)
		for (struct obj *d = wheel[i], *next; d; d = next) {
			next = d->next;
			free(d);
		}
	free(wheel);
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[threads=2] [steps=3000000] [maxsize=262144]");
	nthreads = wl_arg(argc, argv, 1, 2);
	nsteps = wl_arg(argc, argv, 2, 3000000);
	max_size = wl_arg(argc, argv, 3, 262144);
	if (nthreads < 1 || max_size < 16)
		wl_die("alloc_test: bad arguments");

	/* Inverse-CDF tables, so that a draw costs one random number. */
	for (int i = 0; i < TABLE; i++) {
		double u = 1.0 - (i + 0.5) / TABLE;
		double s = 16.0 * pow(u, -1.0 / 1.1);
		double l = 1.0 * pow(u, -1.0 / 0.3);
		size_table[i] = s >= (double)max_size ? (uint32_t)max_size
						      : (uint32_t)s;
		life_table[i] = l >= WHEEL - 1 ? WHEEL - 1 : (uint32_t)l;
		if (life_table[i] < 1)
			life_table[i] = 1;
	}

	pthread_t *tids = wl_check(malloc(sizeof(*tids) * nthreads), 1);
	double t0 = wl_now();
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, work, (void *)(uintptr_t)i))
			wl_die("alloc_test: pthread_create failed");
	for (long i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	double secs = wl_now() - t0;
	free(tids);
	double ops = (double)nthreads * nsteps;
	printf("alloc_test: threads=%ld ops=%.0f secs=%.3f ops_per_sec=%.0f\n",
	       nthreads, ops, secs, ops / secs);
	return 0;
}
