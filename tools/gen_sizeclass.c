/*
 * gen_sizeclass: computes the size-class tables from src/config.h and
 * prints them as C initialisers: src/sizeclass_tab.h, which sizeclass.c
 * compiles into read-only data, so that start-up computes nothing and a
 * program's first malloc faults in no written table pages.
 *
 *   make sizeclass-tab     regenerates src/sizeclass_tab.h
 *
 * tests/unit/test_sizeclass.c includes this file (PCM_GEN_NO_MAIN) and
 * checks that the checked-in tables are what it computes: a change to the
 * geometry in config.h without regenerating fails the unit tests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../src/config.h"

struct gen_class {
	uint32_t size;
	uint16_t nobjs, slab_pages;
	uint8_t order;
	uint16_t cache_max, batch;
	uint64_t div_magic, mask, magic; /* mask, magic: pcm_ptr_tab's */
};

struct gen_tables {
	struct gen_class cls[PCM_NR_CLASSES];
	uint8_t small[1024 + 1];                       /* PCM_FAST_MAX */
	uint8_t mid[(PCM_SMALL_MAX >> 7) + 1];
	uint8_t large[(PCM_CLASS_MAX >> 12) + 1];
};

static unsigned gen_log2_up(size_t n)
{
	return n <= 1 ? 0 : 64u - (unsigned)__builtin_clzl(n - 1);
}

static unsigned gen_pick_order(size_t size)
{
	/* Smallest slab holding enough objects with <= 1/16 left over; else
	 * the order with the least waste (ties: the smaller slab).  Enough is
	 * 4, and 16 from 1 KiB up: a working set of such objects larger than
	 * the CPU caches otherwise makes and unmakes a one-page slab every
	 * four objects (glibc-bench's 1 KiB and 4 KiB sets: 12% of its time). */
	size_t want = size >= 1024 ? 16 : 4;
	unsigned best = PCM_MAX_SLAB_ORDER;
	size_t best_waste = (size_t)-1;
	for (unsigned o = 0; o <= PCM_MAX_SLAB_ORDER; o++) {
		size_t slab = PCM_PAGE_SIZE << o, nobjs = slab / size;
		if (!nobjs)
			continue;
		size_t waste = slab - nobjs * size;
		if (nobjs >= want && waste * 16 <= slab)
			return o;
		/* compare waste fractions: waste / slab */
		if (best_waste == (size_t)-1 ||
		    waste * (PCM_PAGE_SIZE << best) < best_waste * slab) {
			best = o;
			best_waste = waste;
		}
	}
	return best;
}

static void gen_set_class(struct gen_class *ci, size_t size)
{
	ci->size = (uint32_t)size;
	if (size > PCM_SMALL_MAX) { /* one object, a run of exactly its pages */
		ci->order = (uint8_t)gen_log2_up(size >> PCM_PAGE_SHIFT);
		ci->nobjs = 1;
		ci->slab_pages = (uint16_t)(size >> PCM_PAGE_SHIFT);
	} else {
		ci->order = (uint8_t)gen_pick_order(size);
		ci->nobjs = (uint16_t)((PCM_PAGE_SIZE << ci->order) / size);
		ci->slab_pages = (uint16_t)(1u << ci->order);
	}
	/* Thread caches: about 64 KiB a class, 4..128 objects; large classes
	 * about 256 KiB, at least one. */
	size_t max = 65536 / size;
	if (size > PCM_SMALL_MAX)
		max = (256u << 10) / size ? (256u << 10) / size : 1;
	else
		max = max < 4 ? 4 : max > 128 ? 128 : max;
	ci->cache_max = (uint16_t)max;
	ci->batch = (uint16_t)(ci->cache_max / 2 ? ci->cache_max / 2 : 1);
	ci->div_magic = UINT64_MAX / size + 1;
	/* free()'s boundary check (alloc.h): slabs are buddy blocks, aligned
	 * to their size, so an object's offset in its slab is the pointer's
	 * low bits.  A large class's run is only page-aligned, but its one
	 * object is at its head page, the only page that names the class. */
	if (size > PCM_SMALL_MAX) {
		ci->mask = PCM_PAGE_SIZE - 1;
		ci->magic = UINT64_MAX / PCM_PAGE_SIZE + 1;
	} else {
		ci->mask = (PCM_PAGE_SIZE << ci->order) - 1;
		ci->magic = ci->div_magic;
	}
}

/* table[i] = the smallest class of at least i << shift bytes. */
static void gen_fill(const struct gen_tables *t, uint8_t *table, size_t last, unsigned shift)
{
	unsigned c = 1;
	for (size_t i = 0; i <= last; i++) {
		while (t->cls[c].size < (i << shift))
			c++;
		table[i] = (uint8_t)c;
	}
}

/* 0, or -1 when config.h's geometry does not make PCM_NR_CLASSES classes. */
static int gen_compute(struct gen_tables *t)
{
	unsigned cls = 0;
	memset(t, 0, sizeof *t);
	for (size_t s = 16; s <= 128; s += 16)
		gen_set_class(&t->cls[++cls], s);
	for (size_t base = 128; base < PCM_CLASS_MAX; base *= 2)
		for (size_t s = base + base / 8; s <= base * 2; s += base / 8) {
			if (cls + 1 >= PCM_NR_CLASSES)
				return -1;
			gen_set_class(&t->cls[++cls], s);
		}
	if (cls != PCM_NR_CLASSES - 1)
		return -1;
	gen_fill(t, t->small, sizeof t->small - 1, 0);
	t->small[0] = 0; /* malloc(0): the slow path's zero region */
	gen_fill(t, t->mid, sizeof t->mid - 1, 7);
	gen_fill(t, t->large, sizeof t->large - 1, 12);
	return 0;
}

#ifndef PCM_GEN_NO_MAIN
/* One 64-bit field (at offset off) of every class, four a line. */
static void words(const struct gen_class *cls, size_t off)
{
	printf("\t");
	for (unsigned c = 0; c < PCM_NR_CLASSES; c++) {
		uint64_t v;
		memcpy(&v, (const char *)&cls[c] + off, sizeof v);
		printf("0x%llxull,%s", (unsigned long long)v,
		       c + 1 == PCM_NR_CLASSES ? " }\n\n" : c % 4 == 3 ? " \\\n\t" : " ");
	}
}

static void bytes(const char *name, const uint8_t *v, size_t n)
{
	printf("#define %s { \\\n\t", name);
	for (size_t i = 0; i < n; i++)
		printf("%u,%s", v[i], i + 1 == n ? " }\n\n" : (i + 1) % 16 ? " " : " \\\n\t");
}

int main(void)
{
	static struct gen_tables t;
	if (gen_compute(&t) != 0) {
		fprintf(stderr, "gen_sizeclass: config.h does not make %d classes\n", PCM_NR_CLASSES);
		return 1;
	}
	printf("/* Generated by tools/gen_sizeclass.c from src/config.h (make sizeclass-tab):\n"
	       " * do not edit.  Initialisers of sizeclass.c's read-only tables. */\n"
	       "#ifndef PCM_SIZECLASS_TAB_H\n#define PCM_SIZECLASS_TAB_H\n\n");
	printf("/* size, nobjs, slab_pages, order, cache_max, batch, div_magic */\n"
	       "#define PCM_CLASS_INFO_INIT { \\\n");
	for (unsigned c = 0; c < PCM_NR_CLASSES; c++) {
		const struct gen_class *ci = &t.cls[c];
		printf("\t{ %u, %u, %u, %u, %u, %u, 0x%llxull }, \\\n", ci->size, ci->nobjs,
		       ci->slab_pages, ci->order, ci->cache_max, ci->batch,
		       (unsigned long long)ci->div_magic);
	}
	printf("}\n\n/* pcm_ptr_tab.mask and .magic (alloc.h's boundary check) */\n"
	       "#define PCM_CLASS_MASK_INIT { \\\n");
	words(t.cls, offsetof(struct gen_class, mask));
	printf("#define PCM_CLASS_MAGIC_INIT { \\\n");
	words(t.cls, offsetof(struct gen_class, magic));
	bytes("PCM_CLASS_MID_INIT", t.mid, sizeof t.mid);
	bytes("PCM_CLASS_LARGE_INIT", t.large, sizeof t.large);
	printf("#endif\n");
	return 0;
}
#endif
