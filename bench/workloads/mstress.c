/*
 * mstress: thread churn with realloc and objects that outlive their threads,
 * modelled on the mstress test of the mimalloc benchmark suite.
 *
 * The program runs in rounds; each round creates a fresh set of threads and
 * joins them.  A thread works on a local table of objects: it allocates new
 * ones (mostly small, some medium, 1% up to 512 KiB), frees random ones,
 * grows or shrinks random ones with realloc, and swaps objects with a global
 * transfer table that all threads share, so it ends up owning objects that
 * other threads, live or already exited, allocated.  At exit a thread frees
 * half of what it holds and leaves the rest behind; a thread of the next
 * round adopts it.  Every object carries its size in its first word and a
 * check byte in its last, verified before each free or realloc.
 *
 * Stresses: thread creation and exit with live objects (abandoned memory),
 * realloc in place and by copy across size classes, cross-thread frees.
 *
 * usage: mstress [threads=4] [rounds=20] [steps=50000]
 *   steps is per thread and per round.
 */
#include <pthread.h>
#include <stdatomic.h>
#include "wl.h"

#define TRANSFER 1024
#define LOCAL 2048

static long nthreads, nrounds, nsteps;
static _Atomic(uint64_t *) transfer[TRANSFER];
static uint64_t ***left_behind; /* per thread slot: table of LOCAL objects */

static uint64_t *obj_new(size_t size)
{
	uint64_t *p = wl_check(malloc(size), size);
	p[0] = size;
	((unsigned char *)p)[size - 1] = (unsigned char)(size * 31 + 7);
	return p;
}

static void obj_check(uint64_t *p)
{
	size_t size = p[0];
	if (size < 16 || size > (1 << 20) ||
	    ((unsigned char *)p)[size - 1] != (unsigned char)(size * 31 + 7))
		wl_die("mstress: corrupted block %p", (void *)p);
}

static size_t draw_size(struct wl_rng *r)
{
	uint64_t c = wl_below(r, 100);
	if (c < 90)
		return wl_range(r, 16, 512);
	if (c < 99)
		return wl_range(r, 512, 8192);
	return wl_range(r, 8192, 512 * 1024);
}

struct arg {
	long round, id;
	uint64_t **adopt;
};

static void *work(void *varg)
{
	struct arg *a = varg;
	struct wl_rng rng = {(uint64_t)(a->round * 7919 + a->id + 1)};
	/* adopt what a thread of the previous round left behind */
	uint64_t **local = a->adopt;
	if (!local)
		local = wl_check(calloc(LOCAL, sizeof(*local)), 1);

	for (long s = 0; s < nsteps; s++) {
		long k = (long)wl_below(&rng, LOCAL);
		uint64_t c = wl_below(&rng, 100);
		if (c < 50) { /* allocate, replacing what was there */
			if (local[k]) {
				obj_check(local[k]);
				free(local[k]);
			}
			local[k] = obj_new(draw_size(&rng));
		} else if (c < 65) { /* realloc: grow or shrink */
			if (!local[k])
				continue;
			obj_check(local[k]);
			size_t old = local[k][0];
			size_t size = wl_below(&rng, 2) ? old * 2 : old / 2;
			if (size < 16)
				size = 16;
			if (size > (1 << 20))
				size = 1 << 20;
			uint64_t *p = wl_check(realloc(local[k], size), size);
			if (p[0] != old)
				wl_die("mstress: realloc lost the contents");
			p[0] = size;
			((unsigned char *)p)[size - 1] =
				(unsigned char)(size * 31 + 7);
			local[k] = p;
		} else if (c < 85) { /* free */
			if (local[k]) {
				obj_check(local[k]);
				free(local[k]);
				local[k] = NULL;
			}
		} else { /* swap with the shared transfer table */
			long t = (long)wl_below(&rng, TRANSFER);
			local[k] = atomic_exchange(&transfer[t], local[k]);
		}
	}

	/* free half, leave the other half behind for the next round */
	for (long k = 0; k < LOCAL; k++)
		if (local[k] && (k & 1)) {
			obj_check(local[k]);
			free(local[k]);
			local[k] = NULL;
		}
	left_behind[a->id] = local;
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[threads=4] [rounds=20] [steps=50000]");
	nthreads = wl_arg(argc, argv, 1, 4);
	nrounds = wl_arg(argc, argv, 2, 20);
	nsteps = wl_arg(argc, argv, 3, 50000);
	if (nthreads < 1)
		wl_die("mstress: bad arguments");

	left_behind = wl_check(calloc(nthreads, sizeof(*left_behind)), 1);
	pthread_t *tids = wl_check(malloc(sizeof(*tids) * nthreads), 1);
	struct arg *args = wl_check(malloc(sizeof(*args) * nthreads), 1);
	double t0 = wl_now();
	for (long r = 0; r < nrounds; r++) {
		for (long i = 0; i < nthreads; i++) {
			args[i].round = r;
			args[i].id = i;
			args[i].adopt = left_behind[(i + 1) % nthreads];
		}
		for (long i = 0; i < nthreads; i++) {
			left_behind[i] = NULL;
			if (pthread_create(&tids[i], NULL, work, &args[i]))
				wl_die("mstress: pthread_create failed");
		}
		for (long i = 0; i < nthreads; i++)
			pthread_join(tids[i], NULL);
	}
	for (long i = 0; i < nthreads; i++) {
		if (!left_behind[i])
			continue;
		for (long k = 0; k < LOCAL; k++)
			if (left_behind[i][k]) {
				obj_check(left_behind[i][k]);
				free(left_behind[i][k]);
			}
		free(left_behind[i]);
	}
	for (long t = 0; t < TRANSFER; t++) {
		uint64_t *p = atomic_load(&transfer[t]);
		if (p) {
			obj_check(p);
			free(p);
		}
	}
	double secs = wl_now() - t0;
	free(args);
	free(tids);
	free(left_behind);
	double ops = (double)nthreads * nrounds * nsteps;
	printf("mstress: threads=%ld rounds=%ld ops=%.0f secs=%.3f "
	       "ops_per_sec=%.0f\n",
	       nthreads, nrounds, ops, secs, ops / secs);
	return 0;
}
