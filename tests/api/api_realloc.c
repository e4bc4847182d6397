/* api_realloc: realloc, __libc_realloc and reallocarray.
 *  - realloc(NULL, n) behaves as malloc(n); realloc(p, 0) frees p and
 *    returns NULL (glibc), checked through pcmalloc's stats when active;
 *  - contents survive growing and shrinking across every 16-byte step up to
 *    33 KiB (so across every small size class boundary, whatever the
 *    classes), through large sizes up to 4 MiB, huge sizes by repeated
 *    doubling up to 256 MiB, and back down to 1 byte; with and without a
 *    neighbour allocated right after each step (defeats in-place growth);
 *  - random realloc chains over many live buffers;
 *  - reallocarray keeps contents;
 *  - pcmalloc: a buffer grown 64 bytes at a time from 16 B to 256 KiB
 *    moves at most log1.25(256 KiB / 16 B) = 44 times (a block that moves
 *    to grow takes a quarter more; it moved once per size class, 79 times,
 *    before), and one shrunk by less than half stays where it is; sized
 *    free accepts each of those sizes.
 * Failing reallocs (ENOMEM) are in api_errno.
 */
#include "pcm_test.h"

struct buf {
	unsigned char *p;
	size_t n;
	uint64_t seed;
};

static long steps;

/* Reallocs b to n bytes and checks the kept prefix, fills the new tail. */
static void re(struct buf *b, size_t n, int use_libc, const char *what)
{
	size_t old = b->n;
	void *q = use_libc ? __libc_realloc(b->p, n) : realloc(b->p, n);
	steps++;
	if (!q) {
		CHECKF(0, "%s: realloc(%zu -> %zu) failed", what, old, n);
		exit(check_done("api_realloc"));
	}
	CHECKF(pcm_aligned(q, 16), "%s: realloc(%zu -> %zu) = %p misaligned",
	       what, old, n, q);
	size_t us = malloc_usable_size(q);
	CHECKF(us >= n, "%s: realloc to %zu: usable %zu", what, n, us);
	size_t keep = old < n ? old : n;
	long bad = pcm_verifyw_range(q, 0, keep, b->seed);
	if (bad >= 0) {
		CHECKF(0, "%s: realloc %zu -> %zu (%p -> %p) lost byte %ld", what,
		       old, n, (void *)b->p, q, bad);
		/* Re-fill so one bug is reported once. */
		pcm_fillw_range(q, 0, keep, b->seed);
	}
	pcm_fillw_range(q, keep, n, b->seed);
	b->p = q;
	b->n = n;
}

static void test_realloc_null_and_zero(void)
{
	size_t sizes[] = {0, 1, 16, 100, 4096, 100000, 8 * PCM_MIB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *p = realloc(NULL, n);
		CHECKF(p != NULL, "realloc(NULL, %zu) failed", n);
		if (!p)
			continue;
		CHECK(pcm_aligned(p, 16));
		CHECK(malloc_usable_size(p) >= n);
		pcm_fill(p, n, n);
		CHECK(pcm_verify(p, n, n) < 0);
		if (pcm_active() && pcmalloc_owns)
			CHECK(pcmalloc_owns(p) == 1);
		free(p);
		p = __libc_realloc(NULL, n);
		CHECK(p != NULL);
		free(p);
	}
	/* realloc(p, 0) frees p and returns NULL. */
	struct pcmalloc_stats st0, st1, st2;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		pcm_quiesce();
		bool have = pcm_stats(&st0);
		unsigned char *p = malloc(n);
		REQUIRE(p);
		memset(p, 0x11, n);
		pcm_stats(&st1);
		errno = 0;
		void *r = realloc(p, 0);
		CHECKF(r == NULL, "realloc(p of %zu, 0) = %p, want NULL", n, r);
		if (r) {
			free(r);
			continue;
		}
		pcm_stats(&st2);
		if (have && n > 0) {
			CHECKF(st1.allocated >= st0.allocated + n,
			       "stats.allocated %zu -> %zu after malloc(%zu)",
			       st0.allocated, st1.allocated, n);
			CHECKF(st2.allocated <= st0.allocated,
			       "realloc(p, 0) of %zu bytes did not free: "
			       "allocated %zu -> %zu -> %zu",
			       n, st0.allocated, st1.allocated, st2.allocated);
		}
	}
	/* realloc(NULL, 0) is malloc(0): a valid pointer. */
	void *z = realloc(NULL, 0);
	CHECK(z != NULL);
	free(z);
}

static void ladder(int neighbours, int use_libc)
{
	const char *what = neighbours ? "ladder+neighbours" : "ladder";
	size_t huge_max = pcm_quick() ? 32 * PCM_MIB : 256 * PCM_MIB;
	enum { MAXN = 8192 };
	void **nb = calloc(MAXN, sizeof(void *));
	REQUIRE(nb);
	int nn = 0;
	struct buf b = {NULL, 0, 0x1234567 + (uint64_t)neighbours};
#define STEP(sz)                                                               \
	do {                                                                   \
		re(&b, (sz), use_libc, what);                                  \
		if (neighbours && nn < MAXN && b.n <= 4 * PCM_MIB &&           \
		    steps % 4 == 0) {                                          \
			nb[nn] = malloc(b.n);                                  \
			REQUIRE(nb[nn]);                                       \
			memset(nb[nn], 0xEE, b.n);                             \
			nn++;                                                  \
		}                                                              \
	} while (0)
	/* Up: every byte to 1 KiB, then both sides of every multiple of 16 up
	 * to 33 KiB, then large, then huge. */
	for (size_t s = 1; s <= 1024; s++)
		STEP(s);
	for (size_t s = 1024; s <= 33 * 1024; s += 16) {
		STEP(s);
		STEP(s + 1);
	}
	for (size_t s = 33 * 1024; s <= 4 * PCM_MIB; s = s + s / 5 + 4093)
		STEP(s);
	STEP(4 * PCM_MIB);
	for (size_t s = 4 * PCM_MIB; s <= huge_max; s *= 2) {
		STEP(s + 1);
		STEP(s * 2 - 4096);
	}
	/* And down. */
	for (size_t s = huge_max; s >= 4 * PCM_MIB; s /= 2) {
		STEP(s + 4096);
		STEP(s - 1);
	}
	for (size_t s = 4 * PCM_MIB; s > 33 * 1024; s = s - s / 6 - 4099)
		STEP(s);
	for (size_t s = 33 * 1024; s >= 1024; s -= 16) {
		STEP(s + 1);
		STEP(s);
	}
	for (size_t s = 1024; s >= 1; s--)
		STEP(s);
	/* Big jumps: tiny <-> huge. */
	STEP(1);
	STEP(16 * PCM_MIB + 5);
	STEP(7);
	STEP(300 * 1024);
	STEP(3);
	STEP(33 * 1024);
	STEP(1);
#undef STEP
	free(b.p);
	for (int i = 0; i < nn; i++)
		free(nb[i]);
	free(nb);
}

static void test_random_chains(void)
{
	enum { N = 256 };
	struct buf *b = calloc(N, sizeof(*b));
	REQUIRE(b);
	struct pcm_rng r = {777};
	for (int i = 0; i < N; i++)
		b[i].seed = pcm_rand(&r);
	long iters = pcm_scale(40000, 10);
	for (long it = 0; it < iters; it++) {
		int i = (int)(pcm_rand(&r) % N);
		size_t n = pcm_rand_size(&r, 8 * PCM_MIB);
		if (n == 0)
			n = 1;
		if (pcm_rand(&r) % 8 == 0 && b[i].p) {
			CHECK(pcm_verifyw_range(b[i].p, 0, b[i].n, b[i].seed) < 0);
			free(b[i].p);
			b[i].p = NULL;
			b[i].n = 0;
			b[i].seed = pcm_rand(&r);
			continue;
		}
		re(&b[i], n, (int)(it & 1), "random chain");
	}
	for (int i = 0; i < N; i++) {
		if (b[i].p)
			CHECKF(pcm_verifyw_range(b[i].p, 0, b[i].n, b[i].seed) < 0,
			       "chain %d corrupted at end", i);
		free(b[i].p);
	}
	free(b);
}

static void test_reallocarray(void)
{
	unsigned char *p = reallocarray(NULL, 10, 10);
	REQUIRE(p);
	CHECK(malloc_usable_size(p) >= 100);
	pcm_fillw_range(p, 0, 100, 5);
	size_t dims[][2] = {{100, 20}, {3, 7}, {1000, 1000}, {17, 1}, {1, 1}};
	size_t cur = 100;
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		size_t n = dims[i][0] * dims[i][1];
		unsigned char *q = reallocarray(p, dims[i][0], dims[i][1]);
		REQUIRE(q);
		CHECK(malloc_usable_size(q) >= n);
		size_t keep = cur < n ? cur : n;
		CHECKF(pcm_verifyw_range(q, 0, keep, 5) < 0,
		       "reallocarray to %zu x %zu lost data", dims[i][0],
		       dims[i][1]);
		pcm_fillw_range(q, keep, n, 5);
		p = q;
		cur = n;
	}
	free(p);
}

/* Same-size and in-class reallocs keep the data. */
static void test_same_size(void)
{
	for (size_t n = 1; n < 70000; n = n * 2 + 1) {
		struct buf b = {NULL, 0, n};
		re(&b, n, 0, "same-size");
		for (int k = 0; k < 4; k++)
			re(&b, n, k & 1, "same-size");
		re(&b, malloc_usable_size(b.p), 0, "to-usable");
		re(&b, n, 0, "back");
		free(b.p);
	}
}

static void test_growth(void)
{
	if (!pcm_active() || !pcm_free_sized)
		return;
	struct buf b = {NULL, 0, 77};
	re(&b, 16, 0, "growth");
	long moves = 0;
	for (size_t n = 16 + 64; n <= 256 * PCM_KIB; n += 64) {
		void *was = b.p;
		re(&b, n, 0, "growth");
		moves += b.p != was;
	}
	CHECKF(moves <= 44, "growing 16 B to 256 KiB by 64 B moved %ld times", moves);
	pcm_free_sized(b.p, b.n);
	/* Shrinking by less than half: in place, and its size is accepted. */
	for (size_t n = 100; n <= 30000; n = n * 3 / 2) {
		b = (struct buf){NULL, 0, n};
		re(&b, n, 0, "shrink");
		size_t us = malloc_usable_size(b.p);
		void *was = b.p;
		re(&b, us / 2 + 1, 0, "shrink");
		CHECKF(b.p == was, "realloc(%zu -> %zu) moved", us, us / 2 + 1);
		pcm_free_sized(b.p, b.n);
	}
	pcm_note("api_realloc: growth moved %ld times", moves);
}

int main(void)
{
	pcm_test_begin("api_realloc");
	test_realloc_null_and_zero();
	ladder(0, 0);
	ladder(1, 0);
	if (!pcm_quick())
		ladder(0, 1);
	test_random_chains();
	test_reallocarray();
	test_same_size();
	test_growth();
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "api_realloc: %ld reallocs\n", steps);
	return pcm_done("api_realloc");
}
