/*
 * Buddy allocator against a model, on the fake memory source: random
 * sequences of block and run allocations and frees; after each step the
 * allocator's own invariant walk runs (pcm_zone_check: free lists, kinds,
 * orders, alignment, full coalescing, counters, the dirty map holding only
 * free pages), and every page of every arena is accounted for exactly once:
 * metadata, a free block, or one live allocation (whose pages carry a tag
 * checked at free).  Then: a miss never purges (free blocks coalesce
 * whatever their state), growing a run in place, purging (budget, decay,
 * whole blocks before pieces), THP hints and running out of memory.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buddy.h"
#include "check.h"
#include "conf.h"
#include "fake_os.h"
#include "unit.h"

#define MAXA 4096

struct live {
	struct pcm_page *head;
	size_t npages;
	int run; /* 0: block of `order` */
	unsigned order;
	uint64_t tag;
};
static struct live live[MAXA];
static size_t nlive;

/* Tags the first and last page (page ownership is checked by the map). */
static void tag_pages(struct live *l)
{
	char *p = pcm_page_addr(l->head);
	*(uint64_t *)p = l->tag;
	*(uint64_t *)(p + ((l->npages - 1) << PCM_PAGE_SHIFT) + 8) = ~l->tag;
}

static int tags_ok(const struct live *l)
{
	const char *p = pcm_page_addr(l->head);
	return *(const uint64_t *)p == l->tag &&
	       *(const uint64_t *)(p + ((l->npages - 1) << PCM_PAGE_SHIFT) + 8) == ~l->tag;
}

/* 0 = unaccounted, 1 = meta, 2 = free, 3 = live */
static unsigned char owner[16][PCM_ARENA_PAGES];

static int arena_slot(struct pcm_arena *a, struct pcm_arena **list, int *n)
{
	for (int i = 0; i < *n; i++)
		if (list[i] == a)
			return i;
	list[*n] = a;
	return (*n)++;
}

/* The allocator's own walk (pcm_zone_check: counters, free lists, dirty
 * map), then the model's: every page of every arena accounted for exactly
 * once, as metadata, past the frontier, free, or one live allocation. */
static void check_zone(int zi)
{
	struct pcm_zone *z = &pcm_zones[zi];
	struct pcm_arena *arenas[16];
	int na = 0;
	pcm_zone_check(z, 3);
	for (struct pcm_arena *a = z->arenas; a; a = a->next)
		arena_slot(a, arenas, &na);
	memset(owner, 0, sizeof owner);
	for (int i = 0; i < na; i++) {
		for (size_t p = 0; p < PCM_META_PAGES; p++) {
			owner[i][p] = 1;
			CHECK(arenas[i]->pages[p].kind == PCM_PG_NONE);
		}
		/* Past the frontier: reserved, not the buddy's. */
		for (size_t p = arenas[i]->frontier; p < PCM_ARENA_PAGES; p++)
			owner[i][p] = 4;
		CHECK(arenas[i]->frontier % 256 == 0 || arenas[i]->frontier == PCM_META_PAGES);
	}
	for (unsigned o = 0; o <= PCM_MAX_ORDER; o++) {
		struct pcm_page *s = &z->free_area[o];
		for (struct pcm_page *pg = s->next; pg != s; pg = pg->next) {
			size_t idx = pcm_page_index(pg);
			int ai = arena_slot(pcm_arena_of_page(pg), arenas, &na);
			REQUIRE(ai < 16);
			for (size_t p = idx; p < idx + (1ul << o); p++) {
				CHECKF(owner[ai][p] == 0, "page %zu in two places", p);
				owner[ai][p] = 2;
			}
		}
	}
	size_t used = 0;
	for (size_t i = 0; i < nlive; i++) {
		if (pcm_arena_of_page(live[i].head)->zone != zi)
			continue;
		int ai = arena_slot(pcm_arena_of_page(live[i].head), arenas, &na);
		size_t idx = pcm_page_index(live[i].head);
		for (size_t p = idx; p < idx + live[i].npages; p++) {
			CHECKF(owner[ai][p] == 0, "live page %zu also %d", p, owner[ai][p]);
			owner[ai][p] = 3;
		}
		used += live[i].npages;
	}
	CHECK(used == z->used_pages);
	for (int i = 0; i < na; i++)
		for (size_t p = 0; p < PCM_ARENA_PAGES; p++)
			if (!owner[i][p]) {
				CHECKF(0, "page %zu of arena %d unaccounted", p, i);
				return;
			}
}

static void free_live(size_t i)
{
	struct live *l = &live[i];
	CHECKF(tags_ok(l), "allocation %zu overwritten", i);
	if (l->run)
		pcm_run_free(l->head, l->npages);
	else
		pcm_block_free(l->head, l->order);
	live[i] = live[--nlive];
}

static int alloc_one(int zone, uint64_t *seed)
{
	struct live l = { 0 };
	int clean;
	uint64_t r = rnd(seed);
	if (r & 1) {
		l.order = (unsigned)(rnd(seed) % 100 < 80 ? rnd(seed) % 4 : rnd(seed) % (PCM_MAX_ORDER + 1));
		l.npages = 1ul << l.order;
		l.head = pcm_block_alloc(zone, l.order, &clean);
		if (l.head)
			CHECK(pcm_page_index(l.head) % l.npages == 0);
	} else {
		l.run = 1;
		l.npages = 1 + rnd(seed) % (rnd(seed) % 4 ? 16 : 1024);
		unsigned align = (unsigned)(rnd(seed) % 4);
		l.head = pcm_run_alloc(zone, l.npages, align, &clean);
		if (l.head)
			CHECK(pcm_page_index(l.head) % (1ul << align) == 0);
	}
	if (!l.head)
		return 0;
	if (clean) { /* must read as zero */
		const uint64_t *p = pcm_page_addr(l.head);
		for (size_t i = 0; i < (l.npages << PCM_PAGE_SHIFT) / 8; i += 61)
			if (p[i]) {
				CHECKF(0, "clean block not zero");
				break;
			}
	}
	l.tag = rnd(seed);
	tag_pages(&l);
	live[nlive++] = l;
	return 1;
}

static void random_walk(int zone, uint64_t seed, int steps)
{
	for (int s = 0; s < steps; s++) {
		if (nlive && (nlive >= 400 || rnd(&seed) % 100 < 48))
			free_live(rnd(&seed) % nlive);
		else
			REQUIRE(alloc_one(zone, &seed));
		if (s % 97 == 0)
			check_zone(zone);
	}
	check_zone(zone);
}

int main(void)
{
	pcm_conf.dirty_max_pages = 1u << 20; /* no purging in the walk */
	pcm_conf.sys_thp = PCM_THP_MADVISE;
	pcm_zones_init();
	/* THP (slab_thp_hint): no hints while the slab zone uses less than a
	 * huge page; then, below 16 MiB, a region is hinted only once 3/4 of
	 * it is used, and waits for the background worker to collapse it
	 * (pcm_zone_collapse; MADV_COLLAPSE inside malloc took up to 1.5 ms);
	 * from 16 MiB, every region a slab block lands in. */
	int clean;
	struct pcm_arena *a0 = NULL;
	struct pcm_page *small = pcm_block_alloc(PCM_ZONE_SLAB, 0, &clean);
	CHECK(fake_os.hugepage_hints == 0);
	struct pcm_page *whole = pcm_block_alloc(PCM_ZONE_SLAB, 9, &clean); /* a region */
	a0 = pcm_arena_of_page(whole);
	size_t rw = pcm_page_index(whole) / 512;
	CHECK(a0->thp_mask == 1u << rw && fake_os.hugepage_hints == 1 && fake_os.collapses == 0);
	CHECK(a0->split_mask == 1u << rw); /* waiting */
	/* The worker's passes (once a second): a region is collapsed once it
	 * was dense and waiting at the previous pass, so that a short phase
	 * of the program does not pay for the copy (a collapse inside a
	 * 0.2 s run of glibc-bench made it 10-35% slower). */
	size_t ripening = 9;
	CHECK(pcm_zone_collapse(&pcm_zones[PCM_ZONE_SLAB], &ripening) == 0 &&
	      ripening == 1 && fake_os.collapses == 0 && a0->split_mask == 1u << rw);
	CHECK(pcm_zone_collapse(&pcm_zones[PCM_ZONE_SLAB], &ripening) == 1 &&
	      ripening == 0 && fake_os.collapses == 1 && a0->split_mask == 0);
	CHECK(pcm_zone_collapse(&pcm_zones[PCM_ZONE_SLAB], &ripening) == 0 &&
	      ripening == 0 && fake_os.collapses == 1);
	struct pcm_page *part = pcm_block_alloc(PCM_ZONE_SLAB, 7, &clean); /* 512 KiB */
	size_t rp = pcm_page_index(part) / 512;
	CHECKF(a0->region_used[rp] < 384 && !(a0->thp_mask & (1u << rp)),
	       "a region %u pages used: hinted", a0->region_used[rp]);
	struct pcm_page *big = pcm_block_alloc(PCM_ZONE_SLAB, 12, &clean); /* 16 MiB */
	size_t rb = pcm_page_index(big) / 512;
	CHECK(pcm_arena_of_page(big)->thp_mask & (1u << rb));
	size_t collapses = fake_os.collapses;
	struct pcm_page *more = pcm_block_alloc(PCM_ZONE_SLAB, 0, &clean);
	size_t rm = pcm_page_index(more) / 512;
	CHECK(pcm_arena_of_page(more)->thp_mask & (1u << rm));
	CHECK(fake_os.collapses == collapses); /* hinted before its pages come */
	pcm_block_free(more, 0);
	pcm_block_free(big, 12);
	pcm_block_free(part, 7);
	pcm_block_free(whole, 9);
	pcm_block_free(small, 0);

	random_walk(PCM_ZONE_LARGE, 42, 6000);
	while (nlive > 100)
		free_live(nlive - 1);
	random_walk(PCM_ZONE_SLAB, 7, 3000);
	while (nlive)
		free_live(nlive - 1);
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		check_zone(z);
		struct pcm_zone *zn = &pcm_zones[z];
		CHECK(zn->used_pages == 0);
		CHECK(zn->free_pages == zn->committed_pages);
	}
	/* A miss never purges: blocks freed dirty between clean ones coalesce
	 * with them, so max-order blocks come back without a purge and the
	 * zone serves as many as its arenas hold before it grows. */
	{
		struct pcm_zone *zl = &pcm_zones[PCM_ZONE_LARGE];
		pcm_zone_purge(zl, 0);
		size_t arenas = zl->nr_arenas, purges = fake_os.purges;
		uint64_t s2 = 5;
		for (int i = 0; i < 300; i++)
			REQUIRE(alloc_one(PCM_ZONE_LARGE, &s2));
		for (size_t i = 0; i < nlive; i += 2) /* every other one */
			free_live(i);
		while (nlive)
			free_live(nlive - 1);
		check_zone(PCM_ZONE_LARGE);
		size_t big = 0;
		int c3;
		struct pcm_page *held[64];
		CHECK(zl->dirty_pages > 0);
		while (zl->nr_arenas == arenas && big < 64 &&
		       (held[big] = pcm_block_alloc(PCM_ZONE_LARGE, PCM_MAX_ORDER, &c3)))
			big++;
		CHECKF(fake_os.purges == purges, "%zu purges on the allocation path",
		       fake_os.purges - purges);
		CHECKF(big >= arenas * 3, "%zu max-order blocks from %zu arenas", big, arenas);
		while (big)
			pcm_block_free(held[--big], PCM_MAX_ORDER);
		check_zone(PCM_ZONE_LARGE);
	}

	/* A run grows in place over free pages after it, and not over a
	 * page in use. */
	{
		int c4;
		struct pcm_page *r = pcm_run_alloc(PCM_ZONE_LARGE, 10, 0, &c4);
		REQUIRE(r);
		live[nlive++] = (struct live){ r, 10, 1, 0, 77 };
		tag_pages(&live[nlive - 1]);
		check_zone(PCM_ZONE_LARGE);
		CHECK(pcm_run_grow(r, 10, 30));
		live[nlive - 1].npages = 40;
		tag_pages(&live[nlive - 1]);
		check_zone(PCM_ZONE_LARGE);
		struct pcm_page *next = pcm_run_alloc(PCM_ZONE_LARGE, 1, 0, &c4);
		REQUIRE(next);
		live[nlive++] = (struct live){ next, 1, 1, 0, 78 };
		tag_pages(&live[nlive - 1]);
		if (next == r + 40)
			CHECK(!pcm_run_grow(r, 40, 8));
		check_zone(PCM_ZONE_LARGE);
		while (nlive)
			free_live(nlive - 1);
		check_zone(PCM_ZONE_LARGE);
	}

	/* Purging: a budget of 64 pages; everything above goes back (at most
	 * every 200 ms: the clock moves on between frees).  (No reserve of
	 * recent demand: no background worker has made a decision.) */
	struct pcm_zone *zl = &pcm_zones[PCM_ZONE_LARGE];
	pcm_conf.dirty_max_pages = 64;
	uint64_t seed = 99;
	for (int i = 0; i < 200; i++)
		REQUIRE(alloc_one(PCM_ZONE_LARGE, &seed));
	while (nlive) {
		fake_os.now_ns += 200000000ull;
		free_live(nlive - 1);
	}
	CHECK(fake_os.purges > 0);
	CHECKF(zl->dirty_pages <= 64, "dirty %zu", zl->dirty_pages);
	check_zone(PCM_ZONE_LARGE);

	/* A working set freed and retaken in a loop (every 10 ms, for 2 s)
	 * is recent demand: nothing of it is purged while the loop runs (it
	 * was, every 200 ms, and faulted in again).  100 ms after the zone's
	 * last allocation the reserve lapses and the worker gives it back. */
	pcm_zone_purge(zl, 0);
	pcm_zone_maybe_purge(zl, 1); /* the worker runs */
	size_t purges = fake_os.purges, peak = 0;
	for (int round = 0; round < 200; round++) {
		seed = 7; /* the same blocks each round */
		for (int i = 0; i < 100; i++)
			REQUIRE(alloc_one(PCM_ZONE_LARGE, &seed));
		if (zl->used_pages > peak)
			peak = zl->used_pages;
		fake_os.now_ns += 5000000ull;
		while (nlive)
			free_live(nlive - 1);
		fake_os.now_ns += 5000000ull;
		pcm_zone_maybe_purge(zl, 1); /* a worker round sees allocations */
	}
	CHECKF(fake_os.purges == purges && zl->dirty_pages >= peak,
	       "%zu purges of a working set of %zu pages retaken every 10 ms "
	       "(%zu dirty)", fake_os.purges - purges, peak, zl->dirty_pages);
	fake_os.now_ns += 50000000ull;
	pcm_zone_maybe_purge(zl, 0); /* 55 ms without an allocation: kept */
	CHECK(fake_os.purges == purges && zl->dirty_pages >= peak);
	fake_os.now_ns += 100000000ull;
	pcm_zone_maybe_purge(zl, 1); /* 155 ms: the worker gives it back */
	CHECKF(zl->dirty_pages <= 64, "idle: dirty %zu", zl->dirty_pages);
	/* Without the worker's decisions (none for over a second), there is
	 * no reserve: nothing would purge it once the program stopped. */
	fake_os.now_ns += 2000000000ull;
	purges = fake_os.purges;
	seed = 7;
	for (int i = 0; i < 100; i++)
		REQUIRE(alloc_one(PCM_ZONE_LARGE, &seed));
	while (nlive)
		free_live(nlive - 1);
	CHECKF(fake_os.purges > purges, "no worker: %zu dirty pages kept",
	       zl->dirty_pages);
	check_zone(PCM_ZONE_LARGE);

	/* Decay: dirty memory under budget goes once the clock moves on. */
	pcm_conf.dirty_max_pages = 1u << 20;
	for (int i = 0; i < 50; i++)
		REQUIRE(alloc_one(PCM_ZONE_LARGE, &seed));
	while (nlive)
		free_live(nlive - 1);
	size_t before = pcm_zones[PCM_ZONE_LARGE].dirty_pages;
	CHECK(before > 0);
	fake_os.now_ns += 5ull * 1000000000ull;
	pcm_zone_maybe_purge(&pcm_zones[PCM_ZONE_LARGE], 0);
	CHECKF(pcm_zones[PCM_ZONE_LARGE].dirty_pages <= before / 2 + 1,
	       "decay: %zu -> %zu", before, pcm_zones[PCM_ZONE_LARGE].dirty_pages);
	CHECK(pcm_zone_purge(&pcm_zones[PCM_ZONE_LARGE], 0) > 0);
	CHECK(pcm_zones[PCM_ZONE_LARGE].dirty_pages == 0);
	check_zone(PCM_ZONE_LARGE);


	/* Out of memory: NULL, then usable again after frees. */
	fake_os.budget_arenas = fake_os.arenas;
	size_t got = 0;
	for (;;) {
		int c2;
		struct pcm_page *pg = pcm_block_alloc(PCM_ZONE_LARGE, PCM_MAX_ORDER, &c2);
		if (!pg)
			break;
		live[nlive++] = (struct live){ pg, 1ul << PCM_MAX_ORDER, 0, PCM_MAX_ORDER, 0 };
		tag_pages(&live[nlive - 1]);
		got++;
	}
	CHECK(got > 0);
	CHECK(pcm_run_alloc(PCM_ZONE_LARGE, 1u << PCM_MAX_ORDER, 0, &clean) == NULL);
	free_live(0);
	struct pcm_page *again = pcm_block_alloc(PCM_ZONE_LARGE, PCM_MAX_ORDER, &clean);
	CHECK(again != NULL);
	if (again)
		live[nlive++] = (struct live){ again, 1ul << PCM_MAX_ORDER, 0, PCM_MAX_ORDER, 0 };

	/* Address space given up by one zone serves the other: with no
	 * arena to be had, the slab zone takes the large zone's free arenas,
	 * and then its free pages, before it fails. */
	while (nlive)
		free_live(nlive - 1);
	check_zone(PCM_ZONE_LARGE);
	{
		struct pcm_zone *zs = &pcm_zones[PCM_ZONE_SLAB], *zl = &pcm_zones[PCM_ZONE_LARGE];
		size_t total = zs->nr_arenas + zl->nr_arenas, got2 = 0;
		for (;;) {
			int c5;
			struct pcm_page *pg = pcm_block_alloc(PCM_ZONE_SLAB, PCM_MAX_ORDER, &c5);
			if (!pg)
				break;
			REQUIRE(nlive < MAXA);
			live[nlive++] = (struct live){ pg, 1ul << PCM_MAX_ORDER, 0, PCM_MAX_ORDER, 0 };
			got2++;
		}
		CHECKF(got2 >= total * 3, "%zu max-order blocks from %zu arenas", got2, total);
		CHECK(zs->nr_arenas + zl->nr_arenas == total);
		CHECK(fake_os.arenas <= fake_os.budget_arenas);
		while (nlive)
			free_live(nlive - 1);
		check_zone(PCM_ZONE_SLAB);
		check_zone(PCM_ZONE_LARGE);
		/* Trim's release of free arenas, then growth works again. */
		fake_os.budget_arenas = fake_os.arenas + 4;
		CHECK(pcm_zones_release_free() > 0);
		CHECK(zs->nr_arenas + zl->nr_arenas < total);
		check_zone(PCM_ZONE_SLAB);
		check_zone(PCM_ZONE_LARGE);
		int c6;
		CHECK(pcm_block_alloc(PCM_ZONE_SLAB, 0, &c6) != NULL);
	}
	/* Decay keeps the free pages of a dense huge page; then nothing is
	 * decaying any more (the background worker waits for decaying pages
	 * before it sleeps: it would never sleep).  Single pages until some
	 * 2 MiB region is full; every eighth page of it freed. */
	{
		struct pcm_zone *z = &pcm_zones[PCM_ZONE_SLAB];
		enum { NP = 2048, REGION_PAGES = PCM_HUGEPAGE_SIZE >> PCM_PAGE_SHIFT };
		static struct pcm_page *one[NP];
		struct pcm_arena *da = NULL;
		size_t dr = 0;
		int c7, n6 = 0;
		while (!da && n6 < NP) {
			REQUIRE(one[n6] = pcm_block_alloc(PCM_ZONE_SLAB, 0, &c7));
			struct pcm_arena *a = pcm_arena_of_page(one[n6]);
			size_t r = pcm_page_index(one[n6]) / REGION_PAGES;
			if (a->region_used[r] >= REGION_PAGES - 16)
				da = a, dr = r;
			n6++;
		}
		REQUIRE(da);
		unsigned freed = 0;
		for (int i = 0; i < n6; i++)
			if (pcm_arena_of_page(one[i]) == da &&
			    pcm_page_index(one[i]) / REGION_PAGES == dr &&
			    pcm_page_index(one[i]) % 8 == 0) {
				pcm_block_free(one[i], 0);
				one[i] = NULL;
				freed++;
			}
		CHECK(freed > 0 && z->dirty_pages >= freed);
		for (int round = 0; round < 16; round++) {
			fake_os.now_ns += 5ull * 1000000000ull;
			pcm_zone_maybe_purge(z, 1);
		}
		CHECKF(pcm_zone_decaying_pages(z) == 0,
		       "%zu dirty pages (%u freed in a dense region) still counted "
		       "as decaying after 16 decay periods", pcm_zone_decaying_pages(z),
		       freed);
		for (int i = 0; i < n6; i++)
			if (one[i])
				pcm_block_free(one[i], 0);
		CHECK(pcm_zone_decaying_pages(z) > 0); /* freed since: decaying */
		CHECK(pcm_zone_purge(z, 0) > 0);
	}

	return check_done("test_buddy");
}
