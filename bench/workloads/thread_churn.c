/*
 * thread_churn: thousands of short-lived threads.
 *
 * The main thread creates threads in waves (a few at a time, all alive
 * together) and joins them.  Each thread makes a handful of allocations of
 * 16 B to 2 KiB, frees all but one, and returns the last one to the main
 * thread, which checks and frees it after the thread is gone.
 *
 * Stresses: the cost of a thread's first allocation (creating a thread cache
 * or heap, or binding to an arena) and of thread exit (flushing or
 * abandoning it), and frees of objects whose allocating thread has exited.
 * Programs that use a thread per request or short-lived worker pools pay
 * this on every thread.
 *
 * usage: thread_churn [threads=20000] [wave=4] [allocs=64]
 */
#include <pthread.h>
#include "wl.h"

static long nallocs;

static void *work(void *arg)
{
	struct wl_rng rng = {(uint64_t)(uintptr_t)arg};
	void *keep = NULL;
	size_t keep_size = 0;
	void *objs[256];
	size_t sizes[256];
	long n = nallocs < 256 ? nallocs : 256;
	for (long i = 0; i < n; i++) {
		sizes[i] = wl_range(&rng, 16, 2048);
		objs[i] = wl_check(malloc(sizes[i]), sizes[i]);
		wl_stamp(objs[i], sizes[i], sizes[i]);
	}
	for (long i = 0; i < n; i++) {
		wl_verify(objs[i], sizes[i], sizes[i]);
		if (i == n / 2) {
			keep = objs[i];
			keep_size = sizes[i];
		} else {
			free(objs[i]);
		}
	}
	if (keep) /* hand the size over in the block itself */
		memcpy(keep, &keep_size, sizeof(keep_size));
	return keep;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[threads=20000] [wave=4] [allocs=64]");
	long nthreads = wl_arg(argc, argv, 1, 20000);
	long wave = wl_arg(argc, argv, 2, 4);
	nallocs = wl_arg(argc, argv, 3, 64);
	if (wave < 1 || wave > 1024)
		wl_die("thread_churn: bad arguments");

	pthread_t tids[1024];
	double t0 = wl_now();
	for (long done = 0; done < nthreads; done += wave) {
		long n = nthreads - done < wave ? nthreads - done : wave;
		for (long i = 0; i < n; i++)
			if (pthread_create(&tids[i], NULL, work,
					   (void *)(uintptr_t)(done + i + 1)))
				wl_die("thread_churn: pthread_create failed");
		for (long i = 0; i < n; i++) {
			void *keep;
			pthread_join(tids[i], &keep);
			if (keep) {
				size_t size;
				memcpy(&size, keep, sizeof(size));
				if (size < 16 || size > 2048)
					wl_die("thread_churn: corrupted block");
				free(keep);
			}
		}
	}
	double secs = wl_now() - t0;
	printf("thread_churn: threads=%ld secs=%.3f threads_per_sec=%.0f\n",
	       nthreads, secs, nthreads / secs);
	return 0;
}
