/* api_align: aligned allocation.
 *  - posix_memalign, aligned_alloc, memalign (and __libc_memalign,
 *    __posix_memalign) honour every power-of-two alignment from 1 to 64 MiB
 *    for sizes around the alignment; usable bytes are all writable and the
 *    objects, all live together, do not overlap;
 *  - posix_memalign returns EINVAL for an alignment that is not a power of
 *    two or not a multiple of sizeof(void *), and leaves *out untouched;
 *  - aligned_alloc with a non-power-of-two alignment gives NULL/EINVAL
 *    (pcmalloc, glibc >= 2.38; skipped on older glibc);
 *  - memalign rounds a non-power-of-two alignment up to the next power;
 *  - valloc/pvalloc (and __libc_ forms) are page aligned, pvalloc rounds the
 *    size up to a whole page;
 *  - realloc of an aligned block keeps its contents;
 *  - free_aligned_sized (when present).
 */
#include "pcm_test.h"

enum { FN_POSIX, FN_ALIGNED, FN_MEMALIGN, FN_LIBC_MEMALIGN, FN_UNDER_POSIX,
       FN_COUNT };
static const char *fn_name[] = {"posix_memalign", "aligned_alloc", "memalign",
				"__libc_memalign", "__posix_memalign"};

static void *alloc_aligned(int fn, size_t al, size_t sz)
{
	void *p = NULL;
	int rc;
	switch (fn) {
	case FN_POSIX:
		if (al < sizeof(void *))
			al = sizeof(void *);
		rc = posix_memalign(&p, al, sz);
		CHECKF(rc == 0 || p == NULL, "posix_memalign rc %d", rc);
		return rc == 0 ? p : NULL;
	case FN_ALIGNED:
		return aligned_alloc(al, sz);
	case FN_MEMALIGN:
		return memalign(al, sz);
	case FN_LIBC_MEMALIGN:
		return __libc_memalign(al, sz);
	case FN_UNDER_POSIX:
		if (!__posix_memalign)
			return memalign(al, sz);
		if (al < sizeof(void *))
			al = sizeof(void *);
		rc = __posix_memalign(&p, al, sz);
		return rc == 0 ? p : NULL;
	}
	return NULL;
}

struct obj {
	void *p;
	size_t sz, usable;
	uint64_t seed;
};

static void test_alignments(void)
{
	size_t max_al = 64 * PCM_MIB;
	enum { MAXOBJ = 4096 };
	struct obj *o = calloc(MAXOBJ, sizeof(*o));
	REQUIRE(o);
	for (int fn = 0; fn < FN_COUNT; fn++) {
		if (pcm_quick() && fn >= FN_LIBC_MEMALIGN)
			continue;
		int n = 0;
		for (size_t al = 1; al <= max_al; al *= 2) {
			size_t sizes[] = {0,      1,      al / 2, al - 1, al,
					  al + 1, 3 * al, 100,    4096,   16384};
			int ns = sizeof(sizes) / sizeof(sizes[0]);
			int round_start = n;
			for (int k = 0; k < ns; k++) {
				size_t sz = sizes[k];
				/* Keep the big alignments' memory bounded. */
				if (al >= 8 * PCM_MIB && sz > al + 1)
					continue;
				void *p = alloc_aligned(fn, al, sz);
				CHECKF(p != NULL, "%s(%zu, %zu) failed",
				       fn_name[fn], al, sz);
				if (!p)
					continue;
				size_t need = al < 16 ? 16 : al;
				CHECKF(pcm_aligned(p, need),
				       "%s(%zu, %zu) = %p misaligned", fn_name[fn],
				       al, sz, p);
				size_t us = malloc_usable_size(p);
				CHECKF(us >= sz, "%s(%zu, %zu): usable %zu",
				       fn_name[fn], al, sz, us);
				if (pcm_active() && pcmalloc_owns)
					CHECKF(pcmalloc_owns(p) == 1,
					       "%s(%zu,%zu) not owned", fn_name[fn],
					       al, sz);
				/* Fill the whole usable area. */
				uint64_t seed = pcm_mix64((uintptr_t)p + sz);
				pcm_fill_fast(p, us, seed);
				REQUIRE(n < MAXOBJ);
				o[n++] = (struct obj){p, sz, us, seed};
			}
			/* From 1 MiB alignments on, verify and free each round's
			 * objects at once to bound memory; the smaller ones
			 * stay live until the end of this function's pass. */
			if (al >= PCM_MIB) {
				for (int i = round_start; i < n; i++) {
					CHECKF(pcm_verify_fast(o[i].p, o[i].usable,
							       o[i].seed) < 0,
					       "%s: object (align %zu, size %zu) "
					       "corrupted",
					       fn_name[fn], al, o[i].sz);
					free(o[i].p);
				}
				n = round_start;
			}
		}
		for (int i = 0; i < n; i++) {
			CHECKF(pcm_verify_fast(o[i].p, o[i].usable, o[i].seed) < 0,
			       "%s: object %d (size %zu, %p) corrupted",
			       fn_name[fn], i, o[i].sz, o[i].p);
		}
		for (int i = 0; i < n; i++)
			free(o[i].p);
	}
	free(o);
}

/* Many live aligned blocks of random alignment/size, interleaved with plain
 * mallocs, verified together. */
static void test_random_mix(void)
{
	enum { N = 3000 };
	struct obj *o = calloc(N, sizeof(*o));
	REQUIRE(o);
	struct pcm_rng r = {99};
	int n = (int)pcm_scale(N, 5);
	for (int i = 0; i < n; i++) {
		size_t al = (size_t)1 << pcm_rand_range(&r, 3, 16);
		size_t sz = pcm_rand_range(&r, 0, 3 * al + 100);
		int fn = (int)(pcm_rand(&r) % (FN_COUNT + 1));
		void *p = fn == FN_COUNT ? malloc(sz) : alloc_aligned(fn, al, sz);
		REQUIRE(p);
		if (fn != FN_COUNT)
			CHECKF(pcm_aligned(p, al), "%p not aligned to %zu", p, al);
		o[i].p = p;
		o[i].sz = sz;
		o[i].seed = pcm_rand(&r);
		pcm_fill(p, sz, o[i].seed);
	}
	for (int i = 0; i < n; i++) {
		CHECKF(pcm_verify(o[i].p, o[i].sz, o[i].seed) < 0,
		       "random aligned object %d corrupted", i);
		/* realloc keeps the contents. */
		size_t nsz = o[i].sz * 2 + 1;
		void *q = realloc(o[i].p, nsz);
		REQUIRE(q);
		CHECKF(pcm_verify(q, o[i].sz, o[i].seed) < 0,
		       "realloc of aligned object %d lost data", i);
		free(q);
	}
	free(o);
}

static void test_posix_memalign_einval(void)
{
	size_t bad[] = {0,
			1,
			2,
			4,
			sizeof(void *) + 1,
			3 * sizeof(void *),
			24,
			48,
			96,
			4095,
			4097,
			12288,
			((size_t)1 << 20) + 8,
			SIZE_MAX,
			SIZE_MAX / 2};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *sentinel = (void *)0x1234;
		void *p = sentinel;
		int rc = posix_memalign(&p, bad[i], 64);
		CHECKF(rc == EINVAL, "posix_memalign(align %zu) = %d, want EINVAL",
		       bad[i], rc);
		CHECKF(p == sentinel, "posix_memalign(align %zu) changed *out",
		       bad[i]);
		if (__posix_memalign) {
			p = sentinel;
			rc = __posix_memalign(&p, bad[i], 64);
			CHECKF(rc == EINVAL, "__posix_memalign(align %zu) = %d",
			       bad[i], rc);
			CHECK(p == sentinel);
		}
	}
	/* Every valid alignment with size 0 succeeds. */
	for (size_t al = sizeof(void *); al <= PCM_MIB; al *= 2) {
		void *p = NULL;
		CHECK(posix_memalign(&p, al, 0) == 0);
		CHECK(p != NULL && pcm_aligned(p, al));
		free(p);
	}
}

static size_t next_pow2(size_t x)
{
	size_t p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

static void test_aligned_alloc_einval(void)
{
	size_t bad[] = {3, 24, 48, 100, 4097, 12288, SIZE_MAX};
	if (!pcm_active()) {
		pcm_note("aligned_alloc EINVAL checks skipped (glibc < 2.38 "
			 "accepts non-power-of-two alignments)");
		return;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		void *p = aligned_alloc(bad[i], 64);
		CHECKF(p == NULL && errno == EINVAL,
		       "aligned_alloc(%zu, 64) = %p errno %d, want NULL/EINVAL",
		       bad[i], p, errno);
		free(p);
	}
}

static void test_memalign_roundup(void)
{
	size_t odd[] = {3,    5,    12,    24,     48,     100,     1000,
			3000, 4097, 12288, 100000, 3 << 20, 5 << 20, 40 << 20};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		size_t want = next_pow2(odd[i]);
		if (want < 16)
			want = 16;
		for (int k = 0; k < 3; k++) {
			size_t sz = k == 0 ? 1 : k == 1 ? odd[i] : 777;
			void *p = memalign(odd[i], sz);
			CHECKF(p != NULL, "memalign(%zu, %zu) failed", odd[i], sz);
			if (!p)
				continue;
			CHECKF(pcm_aligned(p, want),
			       "memalign(%zu) = %p, want alignment %zu", odd[i],
			       p, want);
			CHECK(malloc_usable_size(p) >= sz);
			memset(p, 0x3c, sz);
			free(p);
			p = __libc_memalign(odd[i], sz);
			REQUIRE(p);
			CHECKF(pcm_aligned(p, want), "__libc_memalign(%zu) = %p",
			       odd[i], p);
			free(p);
		}
	}
}

static void test_valloc_pvalloc(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t sizes[] = {1, 100, pg - 1, pg, pg + 1, 3 * pg + 5, 70000, 2 * PCM_MIB + 3};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t sz = sizes[i];
		size_t rounded = (sz + pg - 1) / pg * pg;
		void *v[4] = {valloc(sz), __libc_valloc(sz), pvalloc(sz),
			      __libc_pvalloc(sz)};
		for (int k = 0; k < 4; k++) {
			CHECKF(v[k] != NULL, "valloc/pvalloc #%d(%zu) failed", k,
			       sz);
			if (!v[k])
				continue;
			CHECKF(pcm_aligned(v[k], pg), "#%d(%zu) = %p not page "
						      "aligned", k, sz, v[k]);
			size_t need = k >= 2 ? rounded : sz;
			size_t us = malloc_usable_size(v[k]);
			CHECKF(us >= need, "#%d(%zu): usable %zu < %zu", k, sz,
			       us, need);
			pcm_fill(v[k], need, sz + (size_t)k);
		}
		for (int k = 0; k < 4; k++) {
			if (!v[k])
				continue;
			size_t need = k >= 2 ? rounded : sz;
			CHECK(pcm_verify(v[k], need, sz + (size_t)k) < 0);
			free(v[k]);
		}
	}
}

static void test_free_aligned_sized(void)
{
	if (!free_aligned_sized) {
		pcm_note("free_aligned_sized not available");
		return;
	}
	for (size_t al = 16; al <= 4 * PCM_MIB; al *= 2) {
		size_t sz = al * 3;
		void *p = aligned_alloc(al, sz);
		REQUIRE(p);
		CHECK(pcm_aligned(p, al));
		memset(p, 0xab, sz);
		free_aligned_sized(p, al, sz);
		void *q = NULL;
		REQUIRE(posix_memalign(&q, al, 5) == 0);
		free_aligned_sized(q, al, 5);
	}
}

int main(void)
{
	pcm_test_begin("api_align");
	test_alignments();
	test_random_mix();
	test_posix_memalign_einval();
	test_aligned_alloc_einval();
	test_memalign_roundup();
	test_valloc_pvalloc();
	test_free_aligned_sized();
	return pcm_done("api_align");
}
