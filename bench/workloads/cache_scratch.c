/*
 * cache-scratch: passive false sharing, modelled on the Hoard benchmark of
 * the same name.
 *
 * The main thread allocates one small object per worker, back to back (so
 * they share cache lines), and hands object i to worker i.  Each worker frees
 * the object it was given, then repeatedly allocates an object of the same
 * size, writes each of its bytes many times and frees it.  An allocator that
 * gives a thread back the block it just freed, although another thread
 * allocated it, keeps the workers writing into one shared cache line.
 *
 * Stresses: whether remotely freed blocks are reused by the freeing thread
 * (passive false sharing).  The writes dominate the run time.
 *
 * usage: cache_scratch [threads=2] [iterations=1000] [objsize=8]
 *                      [repetitions=20000]
 */
#include <pthread.h>
#include "wl.h"

static long nthreads, iterations, objsize, repetitions;
static pthread_barrier_t start;

static void *work(void *arg)
{
	pthread_barrier_wait(&start);
	free(arg);
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
		wl_die("cache_scratch: bad arguments");

	pthread_t *tids = wl_check(malloc(sizeof(*tids) * nthreads), 1);
	void **objs = wl_check(malloc(sizeof(*objs) * nthreads), 1);
	for (long i = 0; i < nthreads; i++) {
		objs[i] = wl_check(malloc(objsize), objsize);
		memset(objs[i], 0, objsize);
	}
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	double t0 = wl_now();
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, work, objs[i]))
			wl_die("cache_scratch: pthread_create failed");
	for (long i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	double secs = wl_now() - t0;
	free(objs);
	free(tids);
	double writes = (double)nthreads * iterations * repetitions * objsize;
	printf("cache_scratch: threads=%ld secs=%.3f writes_per_sec=%.0f\n",
	       nthreads, secs, writes / secs);
	return 0;
}
