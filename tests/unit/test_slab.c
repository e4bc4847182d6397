/*
 * Slab layer on the fake memory source: object counts, free-list integrity
 * (every free object inside its slab, on a boundary, counted once; free +
 * in use = capacity), slabs returned when empty, a batch spanning fresh
 * slabs, the double-free and corrupted-free-list diagnoses.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buddy.h"
#include "check.h"
#include "lifecycle.h"
#include "sizeclass.h"
#include "slab.h"
#include "unit.h"

/* The allocator's walk of the class's partial slabs: free objects valid
 * and distinct, free + in use = capacity, the counters. */
static void check_class(unsigned cls)
{
	pcm_class_check(cls, 3);
}

#define N 5000
static void *objs[N];

static unsigned take_n(unsigned cls, void **out, unsigned n)
{
	unsigned got = 0;
	while (got < n) {
		void *list;
		unsigned want = n - got < 37 ? n - got : 37;
		unsigned k = pcm_slab_take(cls, &list, want);
		REQUIRE(k > 0 && k <= want);
		for (unsigned i = 0; i < k; i++) {
			out[got++] = list;
			list = pcm_link_get(list);
		}
		CHECK(list == NULL);
	}
	return got;
}

static void put_one(unsigned cls, void *p)
{
	pcm_link_set(p, NULL);
	pcm_slab_put(cls, p, 1);
}

static void put_array(unsigned cls, void **v, unsigned n)
{
	/* As an encoded list, in batches of up to 50. */
	for (unsigned i = 0; i < n;) {
		unsigned k = n - i < 50 ? n - i : 50;
		for (unsigned j = 0; j < k; j++)
			pcm_link_set(v[i + j], j + 1 < k ? v[i + j + 1] : NULL);
		pcm_slab_put(cls, v[i], k);
		i += k;
	}
}

static void double_free(void *arg)
{
	unsigned cls = *(unsigned *)arg;
	void *p;
	take_n(cls, &p, 1);
	put_one(cls, p);
	put_one(cls, p);
}

static void corrupt_list(void *arg)
{
	unsigned cls = *(unsigned *)arg;
	unsigned nobjs = pcm_class_info[cls].nobjs;
	take_n(cls, objs, nobjs * 2);
	put_array(cls, objs, 3); /* three free objects in the first slab */
	*(uintptr_t *)objs[1] ^= 0x40; /* a stray write into a free object */
	take_n(cls, objs, 3);
}

int main(void)
{
	pcm_init();
	uint64_t seed = 1;
	unsigned classes[] = { 1, 2, 5, 9, 17, 24, 33, 40, 50, 60, 69, 72 };
	size_t base_used = pcm_zones[PCM_ZONE_SLAB].used_pages;
	for (size_t k = 0; k < sizeof classes / sizeof *classes; k++) {
		unsigned cls = classes[k];
		const struct pcm_class_info *ci = &pcm_class_info[cls];
		struct pcm_class *c = &pcm_classes[cls];
		unsigned n = ci->nobjs * 3 + 1;
		if (n > N)
			n = N;
		take_n(cls, objs, n);
		CHECK(c->objs_out == n);
		CHECKF(c->nr_slabs == (n + ci->nobjs - 1) / ci->nobjs,
		       "class %u: %zu slabs for %u objects", cls, c->nr_slabs, n);
		for (unsigned i = 0; i < n; i++) {
			struct pcm_arena *a = pcm_arena_of(objs[i]);
			REQUIRE(a);
			struct pcm_page *pg = pcm_page_of(a, objs[i]);
			CHECK(pg->kind == PCM_PG_SLAB && pg->cls == cls);
			memset(objs[i], (int)(i & 0xff), ci->size);
		}
		check_class(cls);
		/* Contents survive other objects' traffic. */
		for (unsigned i = 0; i < n; i++) {
			const unsigned char *b = objs[i];
			if (b[ci->size - 1] != (i & 0xff) || b[ci->size / 2] != (i & 0xff)) {
				CHECKF(0, "object %u of class %u overwritten", i, cls);
				break;
			}
		}
		/* Give back in random order, checking as we go. */
		for (unsigned i = n - 1; i > 0; i--) {
			unsigned j = (unsigned)(rnd(&seed) % (i + 1));
			void *t = objs[i];
			objs[i] = objs[j], objs[j] = t;
		}
		put_array(cls, objs, n / 2);
		check_class(cls);
		CHECK(c->objs_out == n - n / 2);
		put_array(cls, objs + n / 2, n - n / 2);
		check_class(cls);
		CHECK(c->objs_out == 0);
		CHECKF(c->nr_slabs == 1 && c->nr_empty == 1,
		       "class %u keeps %zu slabs", cls, c->nr_slabs);
	}
	/* Every kept empty slab goes back: the zone is as it was. */
	pcm_slab_release_empty();
	for (size_t k = 0; k < sizeof classes / sizeof *classes; k++)
		CHECK(pcm_classes[classes[k]].nr_slabs == 0);
	CHECK(pcm_zones[PCM_ZONE_SLAB].used_pages == base_used);

	/* A batch is whole when it needs several fresh slabs (the caches
	 * ask for 64 objects of 4 KiB; a slab holds 16). */
	unsigned big = (unsigned)pcm_size_class(4096), per = pcm_class_info[big].nobjs;
	REQUIRE(per < 40 && pcm_classes[big].nr_slabs == 0);
	unsigned got = pcm_slab_take_array(big, objs, 40);
	CHECKF(got == 40 && pcm_classes[big].nr_slabs == (40 + per - 1) / per,
	       "a batch of 40 objects of 4 KiB: %u objects from %zu slabs", got,
	       pcm_classes[big].nr_slabs);
	check_class(big);
	pcm_slab_put_array(big, objs, got);
	pcm_slab_release_empty();
	CHECK(pcm_zones[PCM_ZONE_SLAB].used_pages == base_used);

	unsigned cls = 3;
	CHECK(expect_abort(double_free, &cls, "double free"));
	CHECK(expect_abort(corrupt_list, &cls, "corrupted free list"));
	return check_done("test_slab");
}
