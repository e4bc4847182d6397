/*
 * glibc_bench: a fixed working set freed in FIFO or LIFO order, in the main
 * thread and in a second thread, modelled on glibc's benchtests
 * bench-malloc-simple.
 *
 * For each block size (16, 64, 256, 1024 and 4096 bytes) and each working
 * set (25, 100, 400, 1600 and 6400 blocks) the program allocates the whole
 * set, then frees it in allocation order (FIFO) or in reverse (LIFO), over
 * and over; every combination performs the same number of malloc/free
 * pairs.  The full matrix runs first in the main thread, then in a second
 * thread (which glibc serves from another arena, others from another thread
 * cache), and the program reports the mean cost of a pair for each of the
 * four (thread, order) cells.
 *
 * Stresses: the single-threaded fast path with working sets that do and do
 * not fit a thread cache; free-list order effects.
 *
 * usage: glibc_bench [pairs=200000]
 *   pairs is per (size, working set, order, thread) combination.
 */
#include <pthread.h>
#include "wl.h"

static const size_t sizes[] = {16, 64, 256, 1024, 4096};
static const long counts[] = {25, 100, 400, 1600, 6400};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))

static long npairs;
static void **blocks;

/* Runs one order over the whole matrix; returns seconds. */
static double matrix(int lifo)
{
	double secs = 0;
	for (size_t s = 0; s < NSIZES; s++) {
		for (size_t c = 0; c < NCOUNTS; c++) {
			long n = counts[c], iters = npairs / n;
			size_t size = sizes[s];
			double t0 = wl_now();
			for (long it = 0; it < iters; it++) {
				for (long i = 0; i < n; i++) {
					blocks[i] = wl_check(malloc(size), size);
					*(volatile char *)blocks[i] = (char)i;
				}
				if (lifo)
					for (long i = n - 1; i >= 0; i--)
						free(blocks[i]);
				else
					for (long i = 0; i < n; i++)
						free(blocks[i]);
			}
			secs += wl_now() - t0;
		}
	}
	return secs;
}

static double results[4];

static void *second(void *arg)
{
	(void)arg;
	results[2] = matrix(0);
	results[3] = matrix(1);
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[pairs=200000]");
	npairs = wl_arg(argc, argv, 1, 200000);
	blocks = wl_check(malloc(sizeof(*blocks) * counts[NCOUNTS - 1]), 1);

	double t0 = wl_now();
	results[0] = matrix(0);
	results[1] = matrix(1);
	pthread_t tid;
	if (pthread_create(&tid, NULL, second, NULL))
		wl_die("glibc_bench: pthread_create failed");
	pthread_join(tid, NULL);
	double secs = wl_now() - t0;
	free(blocks);

	double cell = 0; /* pairs per cell */
	for (size_t c = 0; c < NCOUNTS; c++)
		cell += (double)(npairs / counts[c]) * counts[c];
	cell *= NSIZES;
	printf("glibc_bench: secs=%.3f main_fifo_ns=%.2f main_lifo_ns=%.2f "
	       "thread_fifo_ns=%.2f thread_lifo_ns=%.2f ops_per_sec=%.0f\n",
	       secs, results[0] / cell * 1e9, results[1] / cell * 1e9,
	       results[2] / cell * 1e9, results[3] / cell * 1e9,
	       4 * cell / secs);
	return 0;
}
