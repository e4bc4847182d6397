/*
 * mem_return: how much memory an allocator gives back to the system once a
 * program has freed a large heap and gone idle.
 *
 * The program allocates about 1 GiB in objects of power-law distributed
 * sizes (32 B to 256 KiB, most of them small), writes every byte of them,
 * frees them all in a scattered order, and then makes no further call into
 * the allocator: it only sleeps and reads its resident set size (through
 * system calls, not stdio) 0.1, 1 and 3 seconds after the last free.  The
 * pointer table lives in an anonymous mapping of its own, unmapped before
 * the samples, so it does not count.
 *
 * Reports retained_*_mib: RSS at each moment less the RSS before the heap
 * was built.  An allocator that purges only when it is called again (many
 * do, on a timer checked at allocation time) keeps its memory forever in a
 * process that goes idle; one that purges at free time, or from a
 * background thread, gives it back.
 *
 * usage: mem_return [heap_mib=1024]
 */
#include <sys/mman.h>
#include "wl.h"

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[heap_mib=1024]");
	long heap = wl_arg(argc, argv, 1, 1024) << 20;

	struct wl_rng rng = {5};
	/* mean object size is a few hundred bytes; this table is enough */
	size_t cap = (size_t)heap / 32 + 16;
	void **tab = mmap(NULL, cap * sizeof(void *), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tab == MAP_FAILED)
		wl_die("mem_return: mmap failed");
	long base = wl_rss_kib();

	double t0 = wl_now();
	size_t n = 0, bytes = 0;
	while (bytes < (size_t)heap && n < cap) {
		size_t size = wl_pareto(&rng, 32, 256 * 1024, 1.0);
		tab[n] = wl_check(malloc(size), size);
		memset(tab[n], (int)(n & 0xff), size);
		bytes += size;
		n++;
	}
	double t_alloc = wl_now() - t0;
	long peak = wl_rss_kib();

	/* free in a scattered order: a stride coprime with n */
	size_t stride = 7919;
	while (n % stride == 0)
		stride += 2;
	double t1 = wl_now();
	for (size_t i = 0, k = 0; i < n; i++, k = (k + stride) % n)
		free(tab[k]);
	double t_free = wl_now() - t1;
	munmap(tab, cap * sizeof(void *));

	double t_end = wl_now();
	const double when[3] = {0.1, 1.0, 3.0};
	long rss[3];
	for (int i = 0; i < 3; i++) {
		double left = t_end + when[i] - wl_now();
		if (left > 0)
			wl_sleep(left);
		rss[i] = wl_rss_kib();
	}
	printf("mem_return: objects=%zu heap_mib=%.1f alloc_secs=%.3f "
	       "free_secs=%.3f peak_mib=%.1f retained_100ms_mib=%.1f "
	       "retained_1s_mib=%.1f retained_3s_mib=%.1f\n",
	       n, bytes / 1048576.0, t_alloc, t_free, (peak - base) / 1024.0,
	       (rss[0] - base) / 1024.0, (rss[1] - base) / 1024.0,
	       (rss[2] - base) / 1024.0);
	return 0;
}
