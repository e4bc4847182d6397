/*
 * A per-CPU class that grows beyond its starting array moves to a larger
 * array of its region (percpu.c, "---- capacity ----"), by the drain
 * protocol on its one header.  This test checks that the move keeps every
 * object, and that it is what keeps a region's pages few:
 *
 *  1. Pages (linked builds only: it reads the region through the library's
 *     internal pcm_percpu_base).  With every small class holding a few
 *     objects, each region has at most 16 pages resident (64 KiB, the size
 *     regions had before capacity was adaptive: the starting arrays are
 *     packed); the old layout, an array of each class's maximum capacity,
 *     touched a page or more a class (60 and more).  Then one class (64
 *     bytes) grows to its maximum, 2048 objects: the regions gain at most
 *     the 5 pages its array of 16 KiB can touch.
 *  2. Exact counts, one CPU.  n objects of a class (n beyond its starting
 *     array), all caches drained (malloc_trim), then freed: the first
 *     overflow finds the class full in its starting array, moves it with
 *     its objects, and it grows to hold all n.  Then exactly n objects are
 *     cached, the objects out of slabs are exactly the live ones plus
 *     those n, and n mallocs give back exactly the n pointers freed.
 *  3. Threads, two a class, that migrate between CPUs and drain every
 *     cache (malloc_trim) now and then between their malloc and free
 *     phases, while a trimmer drains them over and over: a class goes back
 *     to its starting array, and the next overflow moves it, objects and
 *     all, while the other thread of the class may run on the same CPU.
 *     Every object's contents are verified (one handed out twice would be
 *     overwritten by its second owner), and at the end the objects out of
 *     slabs are back to the baseline.
 *
 * Per-CPU mode only (passes trivially otherwise).
 */
#include "pcm_test.h"

/* Internal to pcmalloc; resolved when linked with libpcmalloc.a only. */
extern char *pcm_percpu_base __attribute__((weak));
extern unsigned pcm_os_possible_cpus(void) __attribute__((weak));

#define REGION ((size_t)1 << 19)
#define PAGE 4096u

static void *objs[2048], *again[2048];

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static struct pcmalloc_stats stats(void)
{
	struct pcmalloc_stats st;
	REQUIRE(pcm_stats(&st));
	return st;
}

static unsigned resident(const char *p, size_t len)
{
	static unsigned char vec[REGION / PAGE];
	REQUIRE(len <= REGION);
	REQUIRE(mincore((void *)p, len, vec) == 0);
	unsigned n = 0;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

static int thp_always(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "[always]") != NULL;
}

/* Resident pages of each region (and of the null region below them), the
 * most of one region and the total. */
static unsigned region_pages(unsigned *most)
{
	char *base = pcm_percpu_base;
	unsigned nr = pcm_os_possible_cpus(), total = resident(base - REGION, REGION);
	CHECKF(total <= 1, "the null region has %u pages resident", total);
	*most = 0;
	for (unsigned i = 0; i < nr; i++) {
		unsigned k = resident(base + i * REGION, REGION);
		*most = k > *most ? k : *most;
		total += k;
	}
	return total;
}

static void pages(void)
{
	if (!&pcm_percpu_base || !pcm_percpu_base || !pcm_os_possible_cpus) {
		pcm_note("not linked with libpcmalloc.a: region pages not checked");
		return;
	}
	if (thp_always()) {
		pcm_note("THP always: a touched page may bring its 2 MiB: not checked");
		return;
	}
	for (size_t size = 16; size <= 32768; size += size < 128 ? 16 : size / 8) {
		for (int i = 0; i < 4; i++) {
			objs[i] = malloc(size);
			REQUIRE(objs[i]);
			memset(objs[i], i, size);
		}
		for (int i = 0; i < 4; i++)
			free(objs[i]);
	}
	unsigned most, before = region_pages(&most);
	CHECKF(most <= 16, "every class holding a few objects: a region has %u "
	       "pages resident (at most 16: packed starting arrays)", most);
	for (int r = 0; r < 8; r++) {
		for (int i = 0; i < 2048; i++) {
			objs[i] = malloc(64);
			REQUIRE(objs[i]);
		}
		for (int i = 0; i < 2048; i++)
			free(objs[i]);
	}
	unsigned after = region_pages(&most);
	CHECKF(after <= before + 5, "a class grown to 2048 objects: %u pages "
	       "resident in the regions, %u before (at most 5 more)", after, before);
	pcm_note("region pages: %u, then %u after one class grew (most in one "
		 "region: %u)", before, after, most);
}

/* Part 2 for one class: see the top. */
static void exact(size_t size, size_t n)
{
	for (int rep = 0; rep < 3; rep++) {
		for (size_t i = 0; i < n; i++) {
			objs[i] = malloc(size);
			REQUIRE(objs[i]);
			memset(objs[i], (int)(i & 0xff), size);
		}
		malloc_trim(0);
		struct pcmalloc_stats st = stats();
		size_t live = st.slab_objects;
		CHECKF(st.cached_objects == 0, "%zu objects cached after malloc_trim",
		       st.cached_objects);
		for (size_t i = 0; i < n; i++) {
			const unsigned char *b = objs[i];
			CHECKF(b[0] == (i & 0xff) && b[size - 1] == (i & 0xff),
			       "object %zu of %zu bytes overwritten", i, size);
			free(objs[i]);
		}
		st = stats();
		CHECKF(st.cached_objects == n, "%zu objects of %zu bytes freed into a "
		       "drained cache: %zu cached", n, size, st.cached_objects);
		CHECKF(st.slab_objects == live, "objects out of slabs: %zu with %zu "
		       "objects of %zu bytes live, %zu with them cached", live, n,
		       size, st.slab_objects);
		for (size_t i = 0; i < n; i++) {
			again[i] = malloc(size);
			REQUIRE(again[i]);
		}
		CHECKF(stats().slab_objects == live, "the cached objects did not "
		       "come back: %zu objects out of slabs, %zu before",
		       stats().slab_objects, live);
		qsort(objs, n, sizeof *objs, ptr_cmp);
		qsort(again, n, sizeof *again, ptr_cmp);
		size_t diff = 0, dup = 0;
		for (size_t i = 0; i < n; i++) {
			diff += objs[i] != again[i];
			dup += i && again[i] == again[i - 1];
		}
		CHECKF(!diff && !dup, "%zu objects of %zu bytes cached and taken "
		       "again: %zu pointers differ from those freed, %zu twice",
		       n, size, diff, dup);
		for (size_t i = 0; i < n; i++)
			free(again[i]);
	}
}

/* ---- part 3 ---- */

#define NWORKERS 4
static atomic_int running;
static int ncpus, rounds = 400;

static void *worker(void *arg)
{
	static const size_t sizes[NWORKERS] = { 64, 64, 1024, 1024 };
	static const size_t counts[NWORKERS] = { 1200, 1000, 300, 250 };
	uintptr_t id = (uintptr_t)arg;
	size_t size = sizes[id], n = counts[id];
	void **mine = malloc(n * sizeof *mine);
	TCHECK(mine != NULL, "malloc failed");
	for (int r = 0; r < rounds && mine; r++) {
		if (ncpus > 1 && r % 7 == 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET((int)((id + (uintptr_t)r) % (uintptr_t)ncpus), &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		for (size_t i = 0; i < n; i++) {
			mine[i] = malloc(size);
			TCHECK(mine[i] != NULL, "malloc failed");
			if (!mine[i])
				break;
			uint64_t tag = ((uint64_t)id << 48) | ((uint64_t)r << 24) | i;
			memcpy(mine[i], &tag, sizeof tag);
			memcpy((char *)mine[i] + size - sizeof tag, &tag, sizeof tag);
		}
		if (r % 3 == 0)
			malloc_trim(0);
		for (size_t i = 0; i < n && mine[i]; i++) {
			uint64_t tag = ((uint64_t)id << 48) | ((uint64_t)r << 24) | i, a, b;
			memcpy(&a, mine[i], sizeof a);
			memcpy(&b, (char *)mine[i] + size - sizeof b, sizeof b);
			TCHECK(a == tag && b == tag, "object %zu of %zu bytes, round %d: "
			       "overwritten (handed out twice?)", i, size, r);
			free(mine[i]);
		}
	}
	free(mine);
	atomic_fetch_sub(&running, 1);
	return NULL;
}

static void *trimmer(void *arg)
{
	(void)arg;
	while (atomic_load(&running) > 0) {
		malloc_trim(0);
		sched_yield();
	}
	return NULL;
}

static void threads(void)
{
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	rounds = (int)pcm_scale(rounds, 10);
	pcm_warm_up(NWORKERS + 1);
	size_t before = pcm_slab_objects();
	pthread_t t[NWORKERS + 1];
	atomic_store(&running, NWORKERS);
	for (uintptr_t i = 0; i < NWORKERS; i++)
		REQUIRE(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
	REQUIRE(pthread_create(&t[NWORKERS], NULL, trimmer, NULL) == 0);
	for (int i = 0; i <= NWORKERS; i++)
		pthread_join(t[i], NULL);
	size_t after = pcm_slab_objects();
	CHECKF(after == before, "objects out of slabs: %zu before, %zu after",
	       before, after);
}

int main(void)
{
	pcm_test_begin("cpu_grow");
	if (!pcm_percpu_pinned()) /* one CPU: its cache is the one that grows */
		return pcm_done("cpu_grow");

	pages();
	/* 64 bytes: a starting array of 256 slots, up to 2048; 288: 113, up
	 * to 1820; 1 KiB: 32 objects in an array of 64, up to 512; 2 KiB: 16
	 * in 64, up to 256. */
	exact(64, 1500);
	exact(288, 1000);
	exact(1024, 400);
	exact(2048, 200);
	threads();
	return pcm_done("cpu_grow");
}
