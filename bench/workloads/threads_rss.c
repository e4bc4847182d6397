/*
 * threads_rss: many threads, each keeping a small working set, on a machine
 * with few CPUs: the case per-CPU caches exist for.  An allocator with a
 * cache per thread holds one cache's worth of idle memory for every thread;
 * per-CPU caches hold one per CPU, however many threads there are.
 *
 * Each thread keeps `objects` live blocks of mixed small sizes (16 B to
 * 2 KiB) and replaces a random one at every step, verifying its contents,
 * for `steps` steps; the threads then wait at a barrier (still alive, caches
 * intact) while RSS is measured, and are released and joined.
 *
 * Stresses: memory held in caches as the thread count grows; throughput of
 * oversubscribed threads (preemption in the middle of malloc and free).
 *
 * usage: threads_rss [threads=64] [objects=200] [steps=200000]
 * prints: threads_rss: ops_per_sec=... rss_kib=... rss_per_thread_kib=...
 *         live_kib=...
 */
#include <pthread.h>
#include "wl.h"

static long nthreads, nobjects, nsteps;
static pthread_barrier_t done, release;
static long live_bytes_total;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	struct wl_rng r = { (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1 };
	void **obj = calloc((size_t)nobjects, sizeof *obj);
	size_t *size = calloc((size_t)nobjects, sizeof *size);
	wl_check(obj, 1);
	wl_check(size, 1);
	for (long i = 0; i < nobjects; i++) {
		size[i] = wl_range(&r, 16, 2048);
		obj[i] = wl_check(malloc(size[i]), size[i]);
		wl_stamp(obj[i], size[i], (uint64_t)(uintptr_t)obj[i]);
	}
	for (long s = 0; s < nsteps; s++) {
		long i = (long)wl_below(&r, (uint64_t)nobjects);
		wl_verify(obj[i], size[i], (uint64_t)(uintptr_t)obj[i]);
		free(obj[i]);
		size[i] = wl_below(&r, 4) ? wl_range(&r, 16, 256) : wl_range(&r, 256, 2048);
		obj[i] = wl_check(malloc(size[i]), size[i]);
		wl_stamp(obj[i], size[i], (uint64_t)(uintptr_t)obj[i]);
	}
	long live = 0;
	for (long i = 0; i < nobjects; i++)
		live += (long)size[i];
	pthread_mutex_lock(&live_lock);
	live_bytes_total += live;
	pthread_mutex_unlock(&live_lock);
	pthread_barrier_wait(&done);    /* main measures RSS now */
	pthread_barrier_wait(&release);
	for (long i = 0; i < nobjects; i++) {
		wl_verify(obj[i], size[i], (uint64_t)(uintptr_t)obj[i]);
		free(obj[i]);
	}
	free(obj);
	free(size);
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[threads=64] [objects=200] [steps=200000]");
	nthreads = wl_arg(argc, argv, 1, 64);
	nobjects = wl_arg(argc, argv, 2, 200);
	nsteps = wl_arg(argc, argv, 3, 200000);
	if (nthreads < 1 || nobjects < 1)
		wl_die("threads and objects must be positive");
	pthread_t *t = calloc((size_t)nthreads, sizeof *t);
	wl_check(t, 1);
	pthread_barrier_init(&done, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&release, NULL, (unsigned)nthreads + 1);
	long rss0 = wl_rss_kib();
	double t0 = wl_now();
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)))
			wl_die("pthread_create failed");
	pthread_barrier_wait(&done);
	double secs = wl_now() - t0;
	long rss = wl_rss_kib() - rss0;
	pthread_barrier_wait(&release);
	for (long i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	free(t);
	printf("threads_rss: ops_per_sec=%.0f rss_kib=%ld rss_per_thread_kib=%.1f "
	       "live_kib=%ld\n", (double)nthreads * (double)nsteps / secs, rss,
	       (double)rss / (double)nthreads, live_bytes_total / 1024);
	return 0;
}
