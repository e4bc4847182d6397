/* Size classes: the tables compiled in are what tools/gen_sizeclass.c
 * computes from config.h (regenerate with `make sizeclass-tab`); every size
 * maps to the smallest class that fits, the rounding waste bound, slab
 * geometry, the divisibility magic, aligned lookups.  PCM_PRINT_CLASSES=1
 * prints the table. */
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "check.h"
#include "sizeclass.h"

#define PCM_GEN_NO_MAIN
#include "../../tools/gen_sizeclass.c"

/* The checked-in tables (src/sizeclass_tab.h, PCM_CLASS_SMALL_INIT) are
 * the generator's. */
static void check_generated(void)
{
	static struct gen_tables t;
	REQUIRE(gen_compute(&t) == 0);
	for (unsigned c = 0; c < PCM_NR_CLASSES; c++) {
		const struct pcm_class_info *ci = &pcm_class_info[c];
		const struct gen_class *g = &t.cls[c];
		CHECKF(ci->size == g->size && ci->nobjs == g->nobjs &&
		       ci->slab_pages == g->slab_pages && ci->order == g->order &&
		       ci->cache_max == g->cache_max && ci->batch == g->batch &&
		       ci->div_magic == g->div_magic,
		       "class %u: src/sizeclass_tab.h is stale (make sizeclass-tab)", c);
		CHECKF(pcm_ptr_tab.mask[c] == g->mask && pcm_ptr_tab.magic[c] == g->magic,
		       "class %u: boundary-check tables stale (make sizeclass-tab)", c);
	}
	CHECKF(sizeof t.small == sizeof pcm_class_small &&
	       !memcmp(t.small, pcm_class_small, sizeof t.small),
	       "PCM_CLASS_SMALL_INIT (sizeclass.h) disagrees with the classes");
	CHECKF(!memcmp(t.mid, pcm_class_mid, sizeof t.mid), "mid table stale");
	CHECKF(!memcmp(t.large, pcm_class_large, sizeof t.large), "large table stale");
}

int main(void)
{
	pcm_sizeclass_init();
	check_generated();
	const struct pcm_class_info *ci = pcm_class_info;
	CHECK(ci[1].size == 16);
	CHECK(ci[PCM_NR_CLASSES - 1].size == PCM_CLASS_MAX);
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		CHECKF(ci[c].size % 16 == 0, "class %u size %u", c, ci[c].size);
		if (c > 1)
			CHECK(ci[c].size > ci[c - 1].size);
	}
	/* Every size to the smallest class that fits. */
	double worst = 0;
	size_t worst_n = 0;
	/* 0 has class 0: malloc(0) takes the slow path to the zero region. */
	CHECK(pcm_size_class(0) == 0);
	for (size_t n = 1; n <= PCM_CLASS_MAX; n++) {
		unsigned c = pcm_size_class(n);
		REQUIRE(c >= 1 && c < PCM_NR_CLASSES);
		CHECKF(ci[c].size >= n, "n=%zu class %u", n, c);
		CHECKF(c == 1 || ci[c - 1].size < n, "n=%zu class %u not smallest", n, c);
		if (n > 128) {
			double w = (double)(ci[c].size - n) / (double)n;
			if (w > worst)
				worst = w, worst_n = n;
		}
	}
	CHECKF(worst <= 0.125, "worst waste %.4f at n=%zu", worst, worst_n);
	CHECK(pcm_size_class(PCM_CLASS_MAX + 1) == 0);
	CHECK(pcm_size_class(SIZE_MAX) == 0);

	/* Slab geometry and the boundary test. */
	double worst_tail = 0;
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		size_t slab = (size_t)ci[c].slab_pages << PCM_PAGE_SHIFT;
		if (pcm_class_is_large(c)) {
			/* One object, a run of exactly its pages. */
			CHECK(ci[c].size % PCM_PAGE_SIZE == 0 && ci[c].nobjs == 1 &&
			      slab == ci[c].size);
			CHECK(ci[c].cache_max >= 1 && ci[c].batch >= 1 &&
			      ci[c].batch <= ci[c].cache_max);
			continue;
		}
		CHECK(slab == PCM_PAGE_SIZE << ci[c].order);
		CHECK(ci[c].order <= PCM_MAX_SLAB_ORDER);
		CHECK(ci[c].nobjs == slab / ci[c].size);
		CHECK(ci[c].nobjs >= 1);
		CHECK(ci[c].cache_max >= 2 && ci[c].batch >= 1 &&
		      ci[c].batch <= ci[c].cache_max);
		double tail = (double)(slab - (size_t)ci[c].nobjs * ci[c].size) / (double)slab;
		if (tail > worst_tail)
			worst_tail = tail;
		/* No smaller order can do better with >= 4 objects. */
		for (uint64_t off = 0; off < slab; off += 8) {
			int divisible = off % ci[c].size == 0;
			int magic = off * ci[c].div_magic <= ci[c].div_magic - 1;
			if (divisible != magic) {
				CHECKF(0, "class %u off %llu magic wrong", c,
				       (unsigned long long)off);
				break;
			}
		}
	}
	CHECKF(worst_tail <= 0.19, "slab tail waste %.3f", worst_tail);

	/* Aligned lookup: smallest class that is a multiple of align. */
	for (size_t align = 32; align <= PCM_PAGE_SIZE; align *= 2)
		for (size_t n = 0; n <= 8192; n += 7) {
			unsigned c = pcm_size_class_aligned(n, align);
			REQUIRE(c);
			CHECK(ci[c].size >= n && ci[c].size % align == 0);
			for (unsigned d = pcm_size_class(n ? n : 1); d < c; d++)
				CHECK(ci[d].size % align != 0);
		}

	if (getenv("PCM_PRINT_CLASSES")) {
		printf("class  size  slab-order  objs/slab  max-rounding-waste  slab-tail-waste\n");
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
			size_t prev = c > 1 ? ci[c - 1].size : 0;
			size_t slab = (size_t)ci[c].slab_pages << PCM_PAGE_SHIFT;
			double w = prev >= 128 ? (double)(ci[c].size - prev - 1) / (double)(prev + 1) : 0;
			printf("%5u %6u %6u %10u %17.1f%% %15.1f%%\n", c, ci[c].size,
			       ci[c].order, ci[c].nobjs, w * 100,
			       100.0 * (double)(slab - (size_t)ci[c].nobjs * ci[c].size) / (double)slab);
		}
		printf("worst rounding waste above 128 B: %.2f%% (at %zu bytes)\n",
		       worst * 100, worst_n);
	}
	return check_done("test_sizeclass");
}
