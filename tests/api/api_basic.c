/* api_basic: malloc/free/calloc/cfree/free_sized/__libc_* basics.
 *  - malloc(0) gives distinct non-NULL pointers; free(NULL) is a no-op;
 *  - every result is 16-byte aligned;
 *  - malloc_usable_size(p) >= request and every usable byte is writable and
 *    keeps its value while all the other objects are live (sizes 0..4096 step
 *    1, then a spread up to 64 MiB); malloc_usable_size(NULL) == 0;
 *  - calloc memory is zero, also when it reuses freed dirty memory of the same
 *    size, and for 64 KiB .. 64 MiB;
 *  - cfree, free_sized, free_aligned_sized (when present), the __libc_ aliases
 *    and __posix_memalign work and mix with malloc/free.
 */
#include "pcm_test.h"

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static void test_malloc_zero(void)
{
	enum { N = 2000 };
	static void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(0);
		CHECKF(p[i] != NULL, "malloc(0) #%d returned NULL", i);
		CHECKF(pcm_aligned(p[i], 16), "malloc(0) = %p not aligned", p[i]);
	}
	void *sorted[N];
	memcpy(sorted, p, sizeof(sorted));
	qsort(sorted, N, sizeof(void *), cmp_ptr);
	int dups = 0;
	for (int i = 1; i < N; i++)
		dups += sorted[i] == sorted[i - 1] && sorted[i];
	CHECKF(dups == 0, "%d duplicate pointers among %d live malloc(0)", dups,
	       N);
	for (int i = 0; i < N; i++)
		free(p[i]);
	/* After freeing, malloc(0) still works. */
	void *a = malloc(0), *b = malloc(0);
	CHECK(a && b && a != b);
	free(a);
	free(b);
	free(NULL);
	free(NULL);
	CHECK(malloc_usable_size(NULL) == 0);
}

struct obj {
	unsigned char *p;
	size_t req, usable;
	uint64_t seed;
};

/* Allocates every size in sizes[], fills each object up to its usable size,
 * then verifies them all (so overlapping objects would be caught). */
static void check_usable(const size_t *sizes, size_t n, int use_calloc)
{
	struct obj *o = calloc(n, sizeof(*o));
	REQUIRE(o);
	for (size_t i = 0; i < n; i++) {
		size_t sz = sizes[i];
		o[i].req = sz;
		o[i].p = use_calloc ? calloc(1, sz) : malloc(sz);
		CHECKF(o[i].p != NULL, "alloc(%zu) failed", sz);
		if (!o[i].p)
			continue;
		CHECKF(pcm_aligned(o[i].p, 16), "alloc(%zu) = %p not 16-aligned",
		       sz, (void *)o[i].p);
		o[i].usable = malloc_usable_size(o[i].p);
		CHECKF(o[i].usable >= sz, "usable_size %zu < request %zu",
		       o[i].usable, sz);
		if (use_calloc) {
			long nz = pcm_first_nonzero(o[i].p, sz);
			CHECKF(nz < 0, "calloc(1,%zu): byte %ld not zero", sz, nz);
		}
		o[i].seed = pcm_mix64((uintptr_t)o[i].p ^ sz);
		if (sz > 4 * PCM_MIB)
			pcm_fill_fast(o[i].p, o[i].usable, o[i].seed);
		else
			pcm_fill(o[i].p, o[i].usable, o[i].seed);
	}
	for (size_t i = 0; i < n; i++) {
		if (!o[i].p)
			continue;
		long bad = o[i].req > 4 * PCM_MIB
				   ? pcm_verify_fast(o[i].p, o[i].usable, o[i].seed)
				   : pcm_verify(o[i].p, o[i].usable, o[i].seed);
		CHECKF(bad < 0,
		       "object of %zu (usable %zu) at %p corrupted at byte %ld",
		       o[i].req, o[i].usable, (void *)o[i].p, bad);
		CHECK(malloc_usable_size(o[i].p) == o[i].usable);
	}
	/* Free in an interleaved order. */
	for (size_t i = 0; i < n; i += 2)
		free(o[i].p);
	for (size_t i = 1; i < n; i += 2)
		free(o[i].p);
	free(o);
}

static void test_usable_sizes(void)
{
	size_t n = 0, cap = 8192;
	size_t *sizes = malloc(cap * sizeof(size_t));
	REQUIRE(sizes);
	for (size_t s = 0; s <= 4096; s++)
		sizes[n++] = s;
	size_t max = pcm_quick() ? 16 * PCM_MIB : 64 * PCM_MIB;
	for (size_t p2 = 8192; p2 <= max; p2 *= 2) {
		size_t v[] = {p2 / 2 + p2 / 4, p2 - 1, p2, p2 + 1, p2 + 4095};
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			sizes[n++] = v[k];
	}
	check_usable(sizes, n, 0);
	check_usable(sizes, n, 1);
	free(sizes);
}

/* calloc must hand out zeroed memory even when recycling dirty blocks. */
static void test_calloc_dirty(void)
{
	static const size_t sizes[] = {1,    8,    16,   17,   24,    32,
				       48,   64,   80,   96,   112,   128,
				       160,  192,  256,  320,  384,   512,
				       640,  768,  1024, 1500, 2048,  3000,
				       4096, 5000, 8192, 12288, 16384, 24576,
				       32768, 40000};
	enum { K = 64 };
	void *p[K];
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		size_t sz = sizes[si];
		for (int round = 0; round < 3; round++) {
			for (int i = 0; i < K; i++) {
				p[i] = malloc(sz);
				REQUIRE(p[i]);
				memset(p[i], 0xA5, malloc_usable_size(p[i]));
			}
			for (int i = K - 1; i >= 0; i--)
				free(p[i]);
			for (int i = 0; i < K; i++) {
				p[i] = round == 2 ? __libc_calloc(sz, 1)
						  : calloc(1, sz);
				REQUIRE(p[i]);
				long nz = pcm_first_nonzero(p[i], sz);
				CHECKF(nz < 0,
				       "calloc(%zu) reusing dirty memory: byte "
				       "%ld = 0x%02x",
				       sz, nz,
				       nz >= 0 ? ((unsigned char *)p[i])[nz] : 0);
				memset(p[i], 0x5A, sz);
			}
			for (int i = 0; i < K; i++)
				free(p[i]);
		}
	}
	/* calloc with nmemb > 1 and odd element sizes. */
	for (size_t n = 1; n < 200; n += 7)
		for (size_t e = 1; e < 100; e += 13) {
			unsigned char *q = calloc(n, e);
			REQUIRE(q);
			CHECK(malloc_usable_size(q) >= n * e);
			CHECK(pcm_first_nonzero(q, n * e) < 0);
			memset(q, 0xff, n * e);
			free(q);
		}
}

static void test_calloc_large(void)
{
	size_t max = pcm_quick() ? 16 * PCM_MIB : 64 * PCM_MIB;
	for (size_t sz = 64 * PCM_KIB; sz <= max; sz *= 2) {
		size_t variants[] = {sz - 100, sz, sz + 4096 + 16};
		for (int v = 0; v < 3; v++) {
			size_t n = variants[v];
			for (int round = 0; round < 2; round++) {
				unsigned char *p = calloc(n, 1);
				REQUIRE(p);
				long nz = pcm_first_nonzero(p, n);
				CHECKF(nz < 0, "calloc(%zu) round %d: byte %ld "
					       "not zero", n, round, nz);
				memset(p, 0xC3, n);
				free(p);
			}
			/* Dirty a same-size block, free it, calloc again. */
			unsigned char *d = malloc(n);
			REQUIRE(d);
			memset(d, 0x77, n);
			free(d);
			unsigned char *p = calloc(1, n);
			REQUIRE(p);
			long nz = pcm_first_nonzero(p, n);
			CHECKF(nz < 0, "calloc(%zu) after dirty free: byte %ld",
			       n, nz);
			free(p);
		}
	}
}

static void test_aliases(void)
{
	for (size_t sz = 0; sz < 70000; sz = sz * 3 + 1) {
		unsigned char *a = __libc_malloc(sz);
		unsigned char *b = __libc_calloc(1, sz);
		unsigned char *c = __libc_realloc(NULL, sz);
		unsigned char *d = __libc_memalign(64, sz);
		unsigned char *e = __libc_valloc(sz);
		unsigned char *f = __libc_pvalloc(sz + 1);
		void *g = NULL;
		int rc = __posix_memalign ? __posix_memalign(&g, 256, sz)
					  : posix_memalign(&g, 256, sz);
		CHECK(rc == 0);
		CHECK(a && b && c && d && e && f && g);
		if (!(a && b && c && d && e && f && g))
			return;
		CHECK(pcm_aligned(a, 16) && pcm_aligned(b, 16) &&
		      pcm_aligned(c, 16));
		CHECK(pcm_aligned(d, 64));
		CHECK(pcm_aligned(e, 4096) && pcm_aligned(f, 4096));
		CHECK(pcm_aligned(g, 256));
		CHECK(pcm_first_nonzero(b, sz) < 0);
		CHECK(malloc_usable_size(f) >= 4096);
		unsigned char *all[] = {a, b, c, d, e, f, g};
		for (int i = 0; i < 7; i++) {
			CHECK(malloc_usable_size(all[i]) >= sz);
			pcm_fill(all[i], sz, (uint64_t)i * 77 + sz);
		}
		for (int i = 0; i < 7; i++)
			CHECKF(pcm_verify(all[i], sz, (uint64_t)i * 77 + sz) < 0,
			       "alias object %d of %zu corrupted", i, sz);
		c = __libc_realloc(c, sz * 2 + 10);
		REQUIRE(c);
		CHECK(pcm_verify(c, sz, (uint64_t)2 * 77 + sz) < 0);
		/* Mix the aliases with the public names. */
		free(a);
		__libc_free(b);
		__libc_free(c);
		free(d);
		__libc_free(e);
		free(f);
		__libc_free(g);
		a = malloc(sz);
		REQUIRE(a);
		__libc_free(a);
	}
	__libc_free(NULL);
}

static void test_cfree_sized(void)
{
	if (cfree) {
		for (size_t sz = 1; sz < 100000; sz *= 5) {
			void *p = malloc(sz);
			REQUIRE(p);
			memset(p, 1, sz);
			cfree(p);
		}
		cfree(NULL);
	} else {
		pcm_note("cfree not available");
	}
	if (free_sized) {
		for (size_t sz = 0; sz < 300000; sz = sz * 2 + 3) {
			void *p = malloc(sz);
			REQUIRE(p);
			memset(p, 2, sz);
			free_sized(p, sz);
			p = calloc(sz, 1);
			REQUIRE(p);
			free_sized(p, sz);
		}
		free_sized(NULL, 0);
	} else {
		pcm_note("free_sized not available");
	}
	if (free_aligned_sized) {
		for (size_t al = 16; al <= 65536; al *= 4)
			for (size_t sz = al; sz < 300000; sz = sz * 3) {
				void *p = aligned_alloc(al, sz);
				REQUIRE(p);
				CHECK(pcm_aligned(p, al));
				memset(p, 3, sz);
				free_aligned_sized(p, al, sz);
			}
		free_aligned_sized(NULL, 64, 0);
	} else {
		pcm_note("free_aligned_sized not available");
	}
}

/* A mixed workload of many sizes, all live together, verified at the end. */
static void test_mixed_live(void)
{
	enum { N = 20000 };
	struct obj *o = calloc(N, sizeof(*o));
	REQUIRE(o);
	struct pcm_rng r = {12345};
	int n = (int)pcm_scale(N, 5);
	for (int i = 0; i < n; i++) {
		size_t sz = pcm_rand_size(&r, 8 * PCM_MIB);
		o[i].req = sz;
		o[i].p = malloc(sz);
		REQUIRE(o[i].p);
		o[i].seed = pcm_rand(&r);
		pcm_fill(o[i].p, sz, o[i].seed);
		/* Free a random earlier object now and then. */
		if (i > 10 && pcm_rand(&r) % 3 == 0) {
			int j = (int)(pcm_rand(&r) % (uint64_t)i);
			if (o[j].p) {
				CHECK(pcm_verify(o[j].p, o[j].req, o[j].seed) < 0);
				free(o[j].p);
				o[j].p = NULL;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		if (!o[i].p)
			continue;
		CHECKF(pcm_verify(o[i].p, o[i].req, o[i].seed) < 0,
		       "mixed object %d (%zu bytes) corrupted", i, o[i].req);
		free(o[i].p);
	}
	free(o);
}

int main(void)
{
	pcm_test_begin("api_basic");
	test_malloc_zero();
	test_usable_sizes();
	test_calloc_dirty();
	test_calloc_large();
	test_aliases();
	test_cfree_sized();
	test_mixed_live();
	return pcm_done("api_basic");
}
