/* pcm-test: no-valgrind */
/* thp: below 16 MiB of slabs, the 2 MiB region at the heap's end, less than
 * 3/4 used, has no huge page (hinted at its first slab, it was resident
 * whole at its first touch: RSS grew in 2 MiB steps).  A dense heap of
 * small objects is backed by transparent huge pages, and stays so after
 * half of it is freed in alternate 3 MiB runs and allocated again (issue
 * 7).  4 Mi objects of 64 bytes (256 MiB); coverage
 * is AnonHugePages of /proc/self/smaps_rollup over the heap's resident
 * size (the process's RSS less what it had before and the pointer array).
 * Bounds are generous (the kernel may fail to find huge pages): at least
 * half the heap; after the refill, once the background worker has
 * collapsed the regions again.  Skipped where the kernel's THP mode is "never", and when
 * pcmalloc is not active or runs under a sanitizer.
 */
#include "pcm_test.h"

#define N (4L << 20)
static void *obj[N];

static void rollup(long *rss_kib, long *huge_kib)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	*rss_kib = *huge_kib = 0;
	while (f && fgets(line, sizeof line, f)) {
		sscanf(line, "Rss: %ld kB", rss_kib);
		sscanf(line, "AnonHugePages: %ld kB", huge_kib);
	}
	if (f)
		fclose(f);
}

/* AnonHugePages (KiB) of the mapping that holds p. */
static long huge_at(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long huge = -1, kib;
	int inside = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
			inside = (uintptr_t)p >= a && (uintptr_t)p < b;
		else if (inside && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			huge = kib;
	}
	if (f)
		fclose(f);
	return huge;
}

/* 64-byte objects, at least 4 MiB of them, until the last one lies between
 * 256 KiB and 1 MiB into its 2 MiB region (the heap's end, less than 3/4
 * used): its mapping has no huge page. */
static void small_heap(void)
{
	long n = 0, max = (12L << 20) / 64;
	uintptr_t off = 0;
	while (n < max) {
		obj[n] = malloc(64);
		REQUIRE(obj[n]);
		memset(obj[n], 3, 64);
		off = (uintptr_t)obj[n++] & ((2ul << 20) - 1);
		if (n * 64 >= (4L << 20) && off >= (256u << 10) && off < (1u << 20))
			break;
	}
	long huge = huge_at(obj[n - 1]);
	CHECKF(huge == 0, "a heap of %ld KiB, its last object %lu KiB into its "
	       "region: %ld KiB of huge pages there", n * 64 / 1024,
	       (unsigned long)(off >> 10), huge);
	pcm_note("thp: heap of %ld KiB, end region at %lu KiB: %ld KiB huge", n * 64 / 1024,
		 (unsigned long)(off >> 10), huge);
	for (long i = 0; i < n; i++) {
		free(obj[i]);
		obj[i] = NULL;
	}
}

static int thp_offered(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char buf[128] = "";
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
	}
	return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

static int covered(long base_kib, long *huge, long *heap)
{
	long rss;
	rollup(&rss, huge);
	*heap = rss - base_kib;
	return *heap > 0 && *huge * 2 >= *heap;
}

static void check_coverage(const char *when, long base_kib)
{
	long huge, heap;
	CHECKF(covered(base_kib, &huge, &heap),
	       "%s: %ld KiB of huge pages for a heap of %ld KiB resident", when, huge, heap);
	pcm_note("thp: %s: %ld of %ld KiB (%ld%%)", when, huge, heap,
		 heap > 0 ? huge * 100 / heap : 0);
}

static char json[1 << 20];

/* The background worker's state from the JSON report ("running",
 * "asleep", "not started", "off"). */
static int worker_exists(void)
{
	pcm_stats_json(json, sizeof json);
	const char *k = "\"background\": {\"state\": \"";
	const char *p = strstr(json, k);
	REQUIRE(p);
	p += strlen(k);
	return strncmp(p, "running", 7) == 0 || strncmp(p, "asleep", 6) == 0;
}

int main(void)
{
	pcm_test_begin("thp");
	if (!pcm_active() || pcm_quick() || !thp_offered()) {
		pcm_note("thp: skipped");
		return pcm_done("thp");
	}
	memset(obj, 0, sizeof obj); /* the array is resident before the base */
	small_heap();
	long base, huge0;
	rollup(&base, &huge0);
	for (long i = 0; i < N; i++) {
		obj[i] = malloc(64);
		REQUIRE(obj[i]);
		memset(obj[i], 1, 64);
	}
	check_coverage("dense heap", base);
	long per = (3L << 20) / 64;
	for (long i = 0; i < N; i++)
		if ((i / per) % 2 == 0) {
			free(obj[i]);
			obj[i] = NULL;
		}
	malloc_trim(0); /* purge what was freed: the worst case for huge pages */
	for (long i = 0; i < N; i++)
		if (!obj[i]) {
			obj[i] = malloc(64);
			REQUIRE(obj[i]);
			memset(obj[i], 2, 64);
		}
	/* The regions the purge broke are dense again: the background worker
	 * (started by the memory held) collapses them, not the mallocs that
	 * refilled them.  Until it has (only the test's timeout bounds the
	 * wait). */
	long huge, heap;
	struct timespec tick = {0, 20 * 1000 * 1000};
	while (!covered(base, &huge, &heap) && worker_exists())
		nanosleep(&tick, NULL);
	check_coverage("after half freed and refilled", base);
	for (long i = 0; i < N; i++)
		free(obj[i]);
	return pcm_done("thp");
}
