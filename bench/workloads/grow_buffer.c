/*
 * grow_buffer: a buffer rebuilt a few bytes larger at every step, the way
 * string building, text processing and realloc-less vectors grow:
 *     q = malloc(n + step); memcpy(q, p, n); free(p); p = q;
 * from start bytes on, for a number of steps.  A page allocator that purges
 * on a miss, or cannot reuse the block just freed, pays a page fault and a
 * madvise call per step (count them: bench/run.py --syscalls).
 *
 * usage: grow_buffer [steps=20000] [start_kib=100] [step_bytes=8]
 */
#include "wl.h"

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[steps=20000] [start_kib=100] [step_bytes=8]");
	long steps = wl_arg(argc, argv, 1, 20000);
	size_t n = (size_t)wl_arg(argc, argv, 2, 100) << 10;
	size_t step = (size_t)wl_arg(argc, argv, 3, 8);
	unsigned char *p = malloc(n);
	if (!p)
		wl_die("grow_buffer: out of memory\n");
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)i;
	double t0 = wl_now();
	for (long s = 0; s < steps; s++) {
		unsigned char *q = malloc(n + step);
		if (!q)
			wl_die("grow_buffer: out of memory at %zu bytes\n", n + step);
		memcpy(q, p, n);
		for (size_t i = n; i < n + step; i++)
			q[i] = (unsigned char)i;
		free(p);
		p = q;
		n += step;
	}
	double t = wl_now() - t0;
	for (size_t i = 0; i < n; i += 4093)
		if (p[i] != (unsigned char)i) {
			fprintf(stderr, "grow_buffer: corrupted at %zu\n", i);
			return 2;
		}
	free(p);
	printf("grow_buffer: steps=%ld final_bytes=%zu steps_per_sec=%.6g\n", steps, n,
	       (double)steps / t);
	return 0;
}
