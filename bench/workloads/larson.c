/*
 * larson: a server simulation, modelled on the Larson & Krishnan benchmark
 * (and its use in the Hoard and mimalloc benchmark suites).
 *
 * Each worker thread owns a table of slots, each holding a live object of a
 * random size.  An operation picks a random slot, frees the object there and
 * allocates a new one of a random size.  Work proceeds in epochs: in every
 * epoch a fresh set of threads is created and thread i works on table
 * (i + epoch) mod T, so nearly every free releases an object that another,
 * by then exited, thread allocated.  The tables start out filled by the main
 * thread.
 *
 * Stresses: the small-object fast path under a steady live set, frees of
 * remote objects (allocated by another thread), and the memory that dead
 * threads leave behind in their caches.
 *
 * usage: larson [threads=2] [slots=5000] [min=8] [max=1000] [ops=200000]
 *               [epochs=10]
 *   ops is per thread and per epoch.
 */
#include <pthread.h>
#include "wl.h"

struct slot {
	void *p;
	size_t size;
};

static long nthreads, nslots, min_size, max_size, nops, nepochs;
static struct slot **tables;

struct worker {
	pthread_t tid;
	struct slot *table;
	struct wl_rng rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct slot *t = w->table;
	for (long i = 0; i < nops; i++) {
		long k = (long)wl_below(&w->rng, (uint64_t)nslots);
		wl_verify(t[k].p, t[k].size, (uint64_t)k ^ t[k].size);
		free(t[k].p);
		size_t size = wl_range(&w->rng, min_size, max_size);
		t[k].p = wl_check(malloc(size), size);
		t[k].size = size;
		wl_stamp(t[k].p, size, (uint64_t)k ^ size);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv,
		 "[threads=2] [slots=5000] [min=8] [max=1000] [ops=200000] "
		 "[epochs=10]");
	nthreads = wl_arg(argc, argv, 1, 2);
	nslots = wl_arg(argc, argv, 2, 5000);
	min_size = wl_arg(argc, argv, 3, 8);
	max_size = wl_arg(argc, argv, 4, 1000);
	nops = wl_arg(argc, argv, 5, 200000);
	nepochs = wl_arg(argc, argv, 6, 10);
	if (nthreads < 1 || nslots < 1 || min_size < 1 || max_size < min_size)
		wl_die("larson: bad arguments");

	struct wl_rng rng = {42};
	tables = wl_check(malloc(sizeof(*tables) * nthreads), 1);
	for (long i = 0; i < nthreads; i++) {
		tables[i] = wl_check(malloc(sizeof(struct slot) * nslots), 1);
		for (long k = 0; k < nslots; k++) {
			size_t size = wl_range(&rng, min_size, max_size);
			tables[i][k].p = wl_check(malloc(size), size);
			tables[i][k].size = size;
			wl_stamp(tables[i][k].p, size, (uint64_t)k ^ size);
		}
	}

	struct worker *ws = wl_check(calloc(nthreads, sizeof(*ws)), 1);
	double t0 = wl_now();
	for (long e = 0; e < nepochs; e++) {
		for (long i = 0; i < nthreads; i++) {
			ws[i].table = tables[(i + e) % nthreads];
			ws[i].rng.s = (uint64_t)(e * 1000 + i + 1);
			if (pthread_create(&ws[i].tid, NULL, work, &ws[i]))
				wl_die("larson: pthread_create failed");
		}
		for (long i = 0; i < nthreads; i++)
			pthread_join(ws[i].tid, NULL);
	}
	double secs = wl_now() - t0;

	for (long i = 0; i < nthreads; i++) {
		for (long k = 0; k < nslots; k++) {
			struct slot *s = &tables[i][k];
			wl_verify(s->p, s->size, (uint64_t)k ^ s->size);
			free(s->p);
		}
		free(tables[i]);
	}
	free(tables);
	free(ws);
	double ops = (double)nthreads * nops * nepochs;
	printf("larson: threads=%ld ops=%.0f secs=%.3f ops_per_sec=%.0f\n",
	       nthreads, ops, secs, ops / secs);
	return 0;
}
