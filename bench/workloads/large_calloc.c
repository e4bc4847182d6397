/*
 * large_calloc: large zeroed allocations of 5 to 25 MiB, modelled on the
 * malloc-large test of the mimalloc benchmark suite, with calloc in place of
 * malloc.
 *
 * The program keeps a small ring of live blocks.  At each step it frees the
 * oldest block when the ring is full, callocs a new block of a random size
 * between 5 and 25 MiB, checks that sampled bytes are zero, and writes one
 * byte in every 4 KiB page, as a program that fills its buffer would.
 *
 * Stresses: the large-object path (fresh mappings against reuse of cached
 * memory), the cost of zeroing (fresh mappings are zero for free, reused
 * memory has to be cleared), page faults, and how much freed large memory
 * the allocator keeps around (peak RSS).
 *
 * usage: large_calloc [steps=300] [live=4]
 */
#include "wl.h"

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[steps=300] [live=4]");
	long steps = wl_arg(argc, argv, 1, 300);
	long live = wl_arg(argc, argv, 2, 4);
	if (live < 1)
		wl_die("large_calloc: bad arguments");

	struct wl_rng rng = {99};
	unsigned char **ring = wl_check(calloc(live, sizeof(*ring)), 1);
	double bytes = 0;
	double t0 = wl_now();
	for (long s = 0; s < steps; s++) {
		long k = s % live;
		free(ring[k]);
		size_t size = wl_range(&rng, 5u << 20, 25u << 20);
		unsigned char *p = wl_check(calloc(1, size), size);
		for (size_t off = 0; off < size; off += 64 * 1024 - 8)
			if (p[off])
				wl_die("large_calloc: calloc memory not zero");
		if (p[size - 1])
			wl_die("large_calloc: calloc memory not zero");
		for (size_t off = 0; off < size; off += 4096)
			p[off] = (unsigned char)off | 1;
		ring[k] = p;
		bytes += (double)size;
	}
	for (long k = 0; k < live; k++)
		free(ring[k]);
	double secs = wl_now() - t0;
	free(ring);
	printf("large_calloc: steps=%ld secs=%.3f mib_per_sec=%.1f "
	       "ops_per_sec=%.1f\n",
	       steps, secs, bytes / (1 << 20) / secs, steps / secs);
	return 0;
}
