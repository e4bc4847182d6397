/*
 * Adaptive per-CPU capacity: a working set of one class larger than the
 * capacity a CPU cache starts with (about 16 KiB of objects) stays in the
 * CPU cache once the class has missed a few times: after the last free
 * phase, all of it is cached (the starting capacity and the transfer cache
 * together hold half of it).  Then every small class in turn runs a working
 * set up to its maximum, twice (classes grow, and shrink to make room for
 * others), with every object's contents checked; at the end everything
 * freed and drained, the objects out of slabs are back to the baseline.
 * And (linked builds: the internal pcm_percpu_fill) a working set of more
 * than half a class's capacity, allocated and freed in turn, comes to stay
 * in the CPU cache, where moving half a capacity at each miss and each
 * overflow would refill and overflow on every round (100 blocks of 4 KiB,
 * capacity 128).  Per-CPU mode only (passes trivially otherwise).
 */
#include "pcm_test.h"

#define N 1024 /* 64-byte objects: 64 KiB */

static void *objs[2048];

extern unsigned pcm_percpu_fill(unsigned max, size_t *objs, size_t *bytes)
	__attribute__((weak));

/* Objects in the CPU caches (not the transfer caches) of every CPU. */
static size_t cpu_cached(void)
{
	size_t o[1024], b[1024], sum = 0;
	unsigned n = pcm_percpu_fill(1024, o, b);
	for (unsigned i = 0; i < n; i++)
		sum += o[i];
	return sum;
}

/* Objects in the caches now (not quiesced: a trim drains them). */
static size_t cached(void)
{
	struct pcmalloc_stats st;
	REQUIRE(pcm_stats(&st));
	return st.cached_objects;
}

static void cycle(size_t size, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		objs[i] = malloc(size);
		REQUIRE(objs[i]);
		memset(objs[i], (int)((i + seed) & 0xff), size);
	}
	for (size_t i = n; i-- > 0;) {
		const unsigned char *b = objs[i];
		CHECKF(b[0] == ((i + seed) & 0xff) && b[size - 1] == ((i + seed) & 0xff),
		       "object %zu of %zu bytes overwritten", i, size);
		free(objs[i]);
	}
}

int main(void)
{
	pcm_test_begin("cpu_capacity");
	if (!pcm_percpu_pinned()) /* one CPU: its cache is the one that grows */
		return pcm_done("cpu_capacity");

	/* The background worker starts once 16 MiB are held (a transfer
	 * cache may keep that much of the working sets below): start it now,
	 * so that its thread's own allocations are in the baseline. */
	static void *big[24];
	for (int i = 0; i < 24; i++)
		REQUIRE(big[i] = malloc(PCM_MIB));
	for (int i = 0; i < 24; i++)
		free(big[i]);
	size_t base_slab = pcm_slab_objects();
	size_t before = cached();
	for (unsigned r = 0; r < 20; r++)
		cycle(64, N, r);
	size_t after = cached();
	CHECKF(after >= before + N,
	       "a %d-object working set of 64 bytes: %zu objects cached after "
	       "its free phase, %zu before it", N, after, before);

	if (pcm_percpu_fill) {
		/* 4 KiB: a few rounds of 400 blocks (the class grows to its
		 * maximum, 128), then rounds of 100: once they settle, a
		 * round's free phase must leave all 100 in the CPU cache,
		 * measured as the CPU caches' objects after a free phase less
		 * those with the 100 blocks live again.  (Retried: the
		 * background worker may shrink a cache in between; a round
		 * that refills and overflows never shows 100.) */
		enum { W = 100 };
		malloc_trim(0);
		for (unsigned r = 0; r < 8; r++)
			cycle(4096, 400, r);
		size_t left = 0;
		int whole = 0;
		for (unsigned r = 0; r < 64 && !whole; r++) {
			cycle(4096, W, r);
			size_t freed = cpu_cached();
			for (size_t i = 0; i < W; i++)
				REQUIRE(objs[i] = malloc(4096));
			size_t live = cpu_cached();
			for (size_t i = W; i-- > 0;)
				free(objs[i]);
			left = freed - live;
			whole = r >= 8 && left == W;
		}
		CHECKF(whole, "%d blocks of 4 KiB allocated and freed in turn: %zu of "
		       "them came from the CPU cache in the last round, not all",
		       W, left);
	}

	for (unsigned pass = 0; pass < 2; pass++)
		for (size_t size = 16; size <= 32768; size += size < 128 ? 16 : size / 8) {
			size_t n = (512u << 10) / size;
			n = n > 2048 ? 2048 : n < 8 ? 8 : n;
			for (unsigned r = 0; r < 4; r++)
				cycle(size, n, r + pass);
		}
	malloc_trim(0);
	CHECKF(pcm_slab_objects() <= base_slab,
	       "objects out of slabs: %zu after all was freed and trimmed, %zu "
	       "before", pcm_slab_objects(), base_slab);
	return pcm_done("cpu_capacity");
}
