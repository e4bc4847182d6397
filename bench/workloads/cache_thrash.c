/*
 * cache-thrash: active false sharing, modelled on the Hoard benchmark of the
 * same name.
 *
 * Every thread repeatedly allocates a small object, writes each of its bytes
 * many times, and frees it.  Nothing is shared by the program itself.  An
 * allocator that carves the objects of different threads out of the same
 * cache line (one shared heap, no per-thread or per-CPU separation) makes the
 * cores fight over that line: the run gets much slower as threads are added.
 *
 * Stresses: whether concurrently allocating threads get cache-line-disjoint
 * memory.  Allocation speed hardly matters here; the writes dominate.
 *
 * usage: cache_thrash [threads=2] [iterations=1000] [objsize=8]
 *                     [repetitions=20000]
 */
#include <pthread.h>
#include "wl.h"

static long nthreads, iterations, objsize, repetitions;
static pthread_barrier_t start;

static void *work(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	for (long i = 0; i < iterations; i++) {
		volatile char *p = wl_check(malloc(objsize), objsize);
		for (long r = 0; r < repetitions; r++)
			for (long b = 0; b < objsize; b++)
				p[b] = (char)(p[b] + r);
		free((void *)p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv,
		 "[threads=2] [iterations=1000] [objsize=8] [repetitions=20000]");
	nthreads = wl_arg(argc, argv, 1, 2);
	iterations = wl_arg(argc, argv, 2, 1000);
	objsize = wl_arg(argc, argv, 3, 8);
	repetitions = wl_arg(argc, argv, 4, 20000);
	if (nthreads < 1 || objsize < 1)
		wl_die("cache_thrash: bad arguments");

	pthread_t *tids = wl_check(malloc(sizeof(*tids) * nthreads), 1);
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	double t0 = wl_now();
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, work, NULL))
			wl_die("cache_thrash: pthread_create failed");
	for (long i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	double secs = wl_now() - t0;
	free(tids);
	double writes = (double)nthreads * iterations * repetitions * objsize;
	printf("cache_thrash: threads=%ld secs=%.3f writes_per_sec=%.0f\n",
	       nthreads, secs, writes / secs);
	return 0;
}
