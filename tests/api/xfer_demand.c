/*
 * A transfer cache grows only for a working set that sweeps through it
 * (percpu.c, "the transfer cache"), one CPU, 1 KiB objects (a CPU cache of
 * up to 512 of them, starting batches of 8: a transfer cache of four
 * of them, 32, that may grow to 8192):
 *
 *  1. Objects freed once and not allocated again (as the last blocks of
 *     threads that exited, freed by another thread): n = 1500 live, the
 *     caches drained (malloc_trim), then freed.  At most 512 + 32 stay
 *     cached; the rest go back to their slabs.  (With a transfer cache of
 *     2048 for every class all 1500 stayed: the level of a transfer cache
 *     that CPUs both fill and empty is a random walk that climbs to its
 *     capacity, thread-churn's 5.8 MiB.)
 *  2. The same n allocated and freed again, four times: the transfer cache
 *     was emptied from full by the first malloc phase, then filled from
 *     empty: it grows, and from the second round on all n are cached when
 *     they are freed, and n mallocs take at most one batch from the slabs
 *     (the last refill's remainder) (glibc-bench).
 *  3. Drained (malloc_trim), it starts over: part 1 again.
 *  4. Part 2 with n = 6400 (6.25 MiB, glibc-bench's largest working set
 *     of 1 KiB blocks), after a drain: from the third round on, a transfer
 *     cache of 5888 holds all but the CPU cache's 512.  (Up to 2048 objects and 2 MiB, 3840 of them went
 *     through the slabs on every round.)  The heap stays below the 16 MiB
 *     at which the background worker starts, whose rounds empty transfer
 *     caches.
 *
 * Object counts are exact or bounds that the old code fails.  Per-CPU
 * mode only (passes trivially otherwise).
 */
#include "pcm_test.h"

#define SIZE 1024
#define N 1500
#define BIG 6400
#define KEPT (512 + 32) /* the CPU cache's maximum and four batches */

static void *objs[BIG];

static struct pcmalloc_stats stats(void)
{
	struct pcmalloc_stats st;
	REQUIRE(pcm_stats(&st));
	return st;
}

static void alloc_all(size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		objs[i] = malloc(SIZE);
		REQUIRE(objs[i]);
		memset(objs[i], (int)((i + seed) & 0xff), SIZE);
	}
}

static void free_all(size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b = objs[i];
		CHECKF(b[0] == ((i + seed) & 0xff) && b[SIZE - 1] == ((i + seed) & 0xff),
		       "object %zu overwritten", i);
		free(objs[i]);
	}
}

/* Parts 1 and 3: n freed once into drained caches. */
static void once(const char *when)
{
	alloc_all(N, 1);
	malloc_trim(0);
	struct pcmalloc_stats st = stats();
	CHECKF(st.cached_objects == 0, "%s: %zu objects cached after malloc_trim", when,
	       st.cached_objects);
	size_t out = st.slab_objects;
	free_all(N, 1);
	st = stats();
	CHECKF(st.cached_objects <= KEPT && st.cached_objects >= 32,
	       "%s: %d objects of %d bytes freed once: %zu cached (%d at most: a "
	       "CPU cache and four batches)", when, N, SIZE, st.cached_objects, KEPT);
	CHECKF(st.slab_objects == out - N + st.cached_objects,
	       "%s: objects out of slabs: %zu, %zu before %d were freed and %zu of "
	       "them cached", when, st.slab_objects, out, N, st.cached_objects);
	pcm_note("%s: %zu of %d cached", when, st.cached_objects, N);
}

/* Part 2: n allocated and freed four times, all cached from round `from`
 * on. */
static void sweep(size_t n, unsigned from)
{
	for (unsigned r = 0; r < 4; r++) {
		size_t out = stats().slab_objects;
		alloc_all(n, r + 2);
		struct pcmalloc_stats st = stats();
		size_t others = st.cached_objects; /* of other classes (stdio's) */
		if (r >= from) /* (the last refill tops its batch up from the slabs) */
			CHECKF(st.slab_objects <= out + 64,
			       "%zu, round %u: %zu mallocs took %zu objects from the "
			       "slabs (at most one batch, 64)", n, r, n, st.slab_objects - out);
		free_all(n, r + 2);
		st = stats();
		if (r >= from)
			CHECKF(st.cached_objects == others + n,
			       "%zu, round %u: a working set of %zu objects of %d bytes "
			       "swept out and in: %zu cached after its free phase", n, r, n,
			       SIZE, st.cached_objects - others);
	}
	pcm_note("swept: %zu of %zu cached", stats().cached_objects, n);
}

int main(void)
{
	pcm_test_begin("xfer_demand");
	if (!pcm_percpu_pinned()) /* one CPU: its cache is the one that grows */
		return pcm_done("xfer_demand");

	once("freed once");
	sweep(N, 1); /* (part 1 filled the transfer cache) */
	once("drained, freed once");
	malloc_trim(0);
	sweep(BIG, 2); /* (drained: round 0 fills it, round 1 sweeps it) */
	malloc_trim(0);
	return pcm_done("xfer_demand");
}
