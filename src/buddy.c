/* Buddy page allocator.  See buddy.h. */
#include "buddy.h"
#include "arena.h"
#include "conf.h"
#include "debug.h"
#include "fmt.h"
#include "list.h"
#include "os.h"
#include "peak.h"
#include "vg.h"

struct pcm_zone pcm_zones[PCM_NR_ZONES] PCM_HOT;

/* Fork repair: arenas older than their zone's generation are abandoned. */
static uint8_t zone_gen[PCM_NR_ZONES] PCM_HOT;

static void zone_check(const struct pcm_zone *z, int level, size_t limit);

/* Debug builds: the zone's invariants after a slow-path operation, before
 * its lock is released; the walks look at the first DEBUG_WALK blocks of
 * each free list, so that a big heap stays usable (pcm_zone_check walks
 * them all). */
#define DEBUG_WALK 64
static inline void debug_check(const struct pcm_zone *z)
{
	if (PCM_DEBUG >= 2)
		zone_check(z, PCM_DEBUG, DEBUG_WALK);
}

/* 1 when arena a was abandoned by fork repair: its pages are nobody's. */
static inline int abandoned(const struct pcm_zone *z, const struct pcm_arena *a)
{
	return unlikely(a->gen != zone_gen[z->id]);
}

#define REGION_PAGES (PCM_HUGEPAGE_SIZE >> PCM_PAGE_SHIFT) /* 512 */
#define COMMIT_PAGES (REGION_PAGES / 2)
#define REGION_ORDER 9                                    /* one huge page */
#define DENSE_PAGES (REGION_PAGES * 3 / 4) /* a region worth a huge page */

void pcm_zones_init(void)
{
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		pcm_zones[z].id = (uint8_t)z;
		pcm_lock_init(&pcm_zones[z].lock, PCM_RANK_ZONE);
		for (int o = 0; o < PCM_NR_ORDERS; o++)
			pcm_list_init(&pcm_zones[z].free_area[o]);
	}
}

/* ---- the dirty map: one bit a page, per arena ---- */

/* The bits of the map word holding page idx that cover pages [idx, end). */
static inline uint64_t span_mask(size_t idx, size_t end)
{
	size_t base = idx & ~63ul, hi = end - base >= 64 ? 64 : end - base;
	return (hi == 64 ? ~0ull : (1ull << hi) - 1) & (~0ull << (idx & 63));
}

/* A map word covers 64 pages, which may belong to blocks of different
 * owners: purge() clears the bits of the blocks it took outside the zone
 * lock while others set and clear theirs under it.  So every update is an
 * atomic read-modify-write (a plain one could lose another's bit: a dirty
 * page taken for clean, and calloc's memory not cleared), and every read
 * an atomic load.  Relaxed: the bits of a block are its owner's. */
static inline uint64_t map_word(const struct pcm_arena *a, size_t idx)
{
	return __atomic_load_n(&a->dirty_map[idx >> 6], __ATOMIC_RELAXED);
}

static size_t dirty_count(const struct pcm_arena *a, size_t idx, size_t n)
{
	size_t c = 0;
	for (size_t e = idx + n; idx < e; idx = (idx & ~63ul) + 64)
		c += (size_t)__builtin_popcountll(map_word(a, idx) & span_mask(idx, e));
	return c;
}

static void dirty_set(struct pcm_arena *a, size_t idx, size_t n)
{
	for (size_t e = idx + n; idx < e; idx = (idx & ~63ul) + 64)
		__atomic_fetch_or(&a->dirty_map[idx >> 6], span_mask(idx, e),
				  __ATOMIC_RELAXED);
}

static void dirty_clear(struct pcm_arena *a, size_t idx, size_t n)
{
	for (size_t e = idx + n; idx < e; idx = (idx & ~63ul) + 64)
		__atomic_fetch_and(&a->dirty_map[idx >> 6], ~span_mask(idx, e),
				   __ATOMIC_RELAXED);
}

/* The next run of dirty pages in [*from, end): its start and length (0 when
 * none); *from moves past it. */
static size_t next_dirty_run(const struct pcm_arena *a, size_t *from, size_t end,
			     size_t *start)
{
	size_t i = *from;
	while (i < end && !(map_word(a, i) >> (i & 63) & 1)) {
		if (!(map_word(a, i) >> (i & 63))) /* rest of the word clear */
			i = (i | 63) + 1;
		else
			i++;
	}
	if (i >= end) {
		*from = end;
		return 0;
	}
	*start = i;
	while (i < end && (map_word(a, i) >> (i & 63) & 1))
		i++;
	*from = i;
	return i - *start;
}

/* Pages handed out per 2 MiB region: +n or -n over [idx, idx + n). */
static void regions_add(struct pcm_arena *a, size_t idx, size_t n, int sign)
{
	while (n) {
		size_t r = idx / REGION_PAGES, in = (r + 1) * REGION_PAGES - idx;
		if (in > n)
			in = n;
		a->region_used[r] = (uint16_t)(a->region_used[r] + sign * (int)in);
		idx += in;
		n -= in;
	}
}

/* ---- free lists; all below run under the zone lock ---- */

static void free_insert(struct pcm_zone *z, struct pcm_page *pg, unsigned order)
{
	size_t n = 1ul << order;
	PCM_ASSERTF(1, order <= PCM_MAX_ORDER && !(pcm_page_index(pg) & (n - 1)),
		    "free block at page %zu, order %u", pcm_page_index(pg), order);
	pg->kind = PCM_PG_FREE;
	pg->order = (uint8_t)order;
	pg->flags = 0;
	pg->head_off = 0;
	pg->cls = 0;
	pcm_list_add(&z->free_area[order], pg);
	z->nr_free[order]++;
	z->free_pages += n;
	pcm_arena_of_page(pg)->free_pages += n;
}

static void free_remove(struct pcm_zone *z, struct pcm_page *pg)
{
	size_t n = 1ul << pg->order;
	PCM_ASSERTF(1, pg->kind == PCM_PG_FREE && z->nr_free[pg->order] && z->free_pages >= n,
		    "taking block %p (kind %u, order %u) off a free list", (void *)pg,
		    pg->kind, pg->order);
	pcm_list_del(pg);
	z->nr_free[pg->order]--;
	z->free_pages -= n;
	pcm_arena_of_page(pg)->free_pages -= n;
	pg->kind = PCM_PG_NONE;
}

/* Frees block (arena a, page index idx, order), coalescing with free
 * buddies whatever their pages' state (the dirty map keeps that). */
static void free_block(struct pcm_zone *z, struct pcm_arena *a, size_t idx,
		       unsigned order)
{
	if (abandoned(z, a))
		return;
	a->pages[idx].kind = PCM_PG_NONE;
	while (order < PCM_MAX_ORDER) {
		size_t bidx = idx ^ (1ul << order);
		struct pcm_page *b = &a->pages[bidx];
		if (b->kind != PCM_PG_FREE || b->order != order)
			break;
		free_remove(z, b);
		idx &= ~(1ul << order);
		order++;
	}
	free_insert(z, &a->pages[idx], order);
}

/* Largest order of an aligned block starting at idx and ending by end. */
static unsigned fit_order(size_t idx, size_t end)
{
	unsigned o = (unsigned)__builtin_ctzl(idx | (1ul << PCM_MAX_ORDER));
	while ((1ul << o) > end - idx)
		o--;
	return o;
}

/* Frees pages [idx, end) of arena a as aligned blocks. */
static void free_range(struct pcm_zone *z, struct pcm_arena *a, size_t idx,
		       size_t end)
{
	while (idx < end) {
		unsigned o = fit_order(idx, end);
		free_block(z, a, idx, o);
		idx += 1ul << o;
	}
}

/* ---- arenas moving between zones and back to the OS ---- */

static int arena_all_free(const struct pcm_arena *a)
{
	return a->free_pages == a->frontier - PCM_META_PAGES;
}

/* Takes arena a, none of whose pages is in use, out of zone z: its free
 * blocks (fully coalesced, so they tile it) leave the lists.  Returns its
 * dirty pages.  Zone lock held. */
static size_t detach_arena(struct pcm_zone *z, struct pcm_arena *a)
{
	for (size_t idx = PCM_META_PAGES; idx < a->frontier;) {
		struct pcm_page *pg = &a->pages[idx];
		idx += 1ul << pg->order;
		free_remove(z, pg);
	}
	size_t d = dirty_count(a, PCM_META_PAGES, a->frontier - PCM_META_PAGES);
	z->dirty_pages -= d;
	z->committed_pages -= a->frontier - PCM_META_PAGES;
	for (struct pcm_arena **pp = &z->arenas; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	z->nr_arenas--;
	return d;
}

/* Puts arena a (all free, d dirty pages) into zone z.  Zone lock held. */
static void attach_arena(struct pcm_zone *z, struct pcm_arena *a, size_t d)
{
	a->zone = z->id;
	a->gen = zone_gen[z->id];
	a->next = z->arenas;
	z->arenas = a;
	z->nr_arenas++;
	z->dirty_pages += d;
	z->committed_pages += a->frontier - PCM_META_PAGES;
	free_range(z, a, PCM_META_PAGES, a->frontier);
}

/* A free arena of the other zone, for a zone that cannot grow: address
 * space given up by one kind of allocation serves the other.  Zone lock of
 * z held; the other's is only tried (no lock order between zones). */
static struct pcm_arena *steal_arena(struct pcm_zone *z)
{
	struct pcm_zone *o = &pcm_zones[z->id == PCM_ZONE_SLAB ? PCM_ZONE_LARGE : PCM_ZONE_SLAB];
	if (!pcm_trylock(&o->lock))
		return NULL;
	struct pcm_arena *a = o->arenas;
	while (a && !arena_all_free(a))
		a = a->next;
	size_t d = a ? detach_arena(o, a) : 0;
	pcm_unlock(&o->lock);
	if (!a)
		return NULL;
	if (a->thp_mask && z->id == PCM_ZONE_LARGE) /* sparse runs: no huge pages */
		pcm_os_hugepage(a, PCM_ARENA_SIZE, 0);
	a->thp_mask = a->split_mask = a->ripe_mask = 0;
	attach_arena(z, a, d);
	return a;
}

size_t pcm_zones_release_free(void)
{
	size_t released = 0;
	for (int zi = 0; zi < PCM_NR_ZONES; zi++) {
		struct pcm_zone *z = &pcm_zones[zi];
		/* Mapped arenas first; then brk arenas, from the top of
		 * the break down, while the top one is free. */
		for (int brk = 0; brk < 2; brk++) {
			for (;;) {
				pcm_lock(&z->lock);
				struct pcm_arena *a = z->arenas, *pick = NULL;
				for (; a; a = a->next)
					if (arena_all_free(a) && a->from_brk == brk &&
					    (!pick || (uintptr_t)a > (uintptr_t)pick))
						pick = a;
				size_t d = pick ? detach_arena(z, pick) : 0;
				pcm_unlock(&z->lock);
				if (!pick)
					break;
				if (pcm_arena_destroy(pick) != 0) {
					/* brk arena not at the top: keep it */
					pcm_lock(&z->lock);
					attach_arena(z, pick, d);
					pcm_unlock(&z->lock);
					break;
				}
				released++;
			}
		}
	}
	return released;
}

/* Commits more of arena a, enough for a block of `order` past its frontier
 * (in steps), and frees it into zone z: 1 on success.  Zone
 * lock held.  While the zone uses less than a huge page the step is half
 * of one, so that in a small heap memory 1 MiB past the last block is
 * inaccessible (a wild write faults); then whole 2 MiB regions, which the
 * kernel can back with a huge page when they are first touched. */
static int extend(struct pcm_zone *z, struct pcm_arena *a, unsigned order)
{
	size_t start = a->frontier, bsize = 1ul << order;
	size_t end = ((start + bsize - 1) & ~(bsize - 1)) + bsize;
	size_t step = PCM_CHECKS && z->used_pages < REGION_PAGES ? COMMIT_PAGES
								 : REGION_PAGES;
	end = (end + step - 1) & ~(step - 1);
	if (end > PCM_ARENA_PAGES) /* the rest: it may complete a block */
		end = PCM_ARENA_PAGES;
	if (end <= start)
		return 0;
	if (start == PCM_ARENA_FIRST_PAGES)
		pcm_arena_first_grow(a);
	if (pcm_os_commit((char *)a + (start << PCM_PAGE_SHIFT),
			  (end - start) << PCM_PAGE_SHIFT) != 0)
		return 0; /* commit limit or RLIMIT_DATA */
	pcm_vg_fresh((char *)a + (start << PCM_PAGE_SHIFT),
		     (end - start) << PCM_PAGE_SHIFT);
	a->frontier = (uint32_t)end;
	z->committed_pages += end - start;
	free_range(z, a, start, end);
	return 1;
}

static struct pcm_page *take_block(struct pcm_zone *z, unsigned order);

/* A block of `order` from arena a, committing more of it as needed. */
static struct pcm_page *take_extending(struct pcm_zone *z, struct pcm_arena *a,
				       unsigned order)
{
	struct pcm_page *pg = take_block(z, order);
	while (!pg && a->frontier < PCM_ARENA_PAGES && extend(z, a, order))
		pg = take_block(z, order);
	return pg;
}

/* When no free block is large enough: commits more of the zone's arenas,
 * else takes a new arena, else a free one of the other zone. */
static struct pcm_page *grow(struct pcm_zone *z, unsigned order)
{
	struct pcm_page *pg = NULL;
	for (struct pcm_arena *a = z->arenas; a && !pg; a = a->next)
		pg = take_extending(z, a, order);
	if (pg)
		return pg;
	struct pcm_arena *a = pcm_arena_create(z->id);
	if (a) {
		attach_arena(z, a, 0); /* its committed pages: free, clean */
		pcm_arena_publish(a);
	} else {
		a = steal_arena(z);
	}
	return a ? take_extending(z, a, order) : NULL;
}

#define PLACEMENT_CANDIDATES 8

/* Takes a free block of `order` (splitting a larger one), or NULL.  Among
 * the first few blocks of the smallest order that has one, the block in
 * the most used 2 MiB region wins, so that sparse regions drain and can be
 * given back whole, and dense ones keep their huge pages.  Zone lock held. */
static struct pcm_page *take_block(struct pcm_zone *z, unsigned order)
{
	for (unsigned o = order; o <= PCM_MAX_ORDER; o++) {
		struct pcm_page *s = &z->free_area[o];
		if (pcm_list_empty(s))
			continue;
		struct pcm_page *pg = s->next;
		if (o < REGION_ORDER) {
			unsigned best = 0;
			int k = 0;
			for (struct pcm_page *c = s->next; c != s && k < PLACEMENT_CANDIDATES;
			     c = c->next, k++) {
				struct pcm_arena *a = pcm_arena_of_page(c);
				unsigned used = a->region_used[pcm_page_index(c) / REGION_PAGES];
				if (used > best || k == 0) {
					best = used;
					pg = c;
				}
			}
		}
		free_remove(z, pg);
		while (o > order) { /* split: the upper half stays free */
			o--;
			free_insert(z, pg + (1ul << o), o);
		}
		return pg;
	}
	return NULL;
}

/* Takes a block; grows the zone when none is large enough.  Never purges:
 * free blocks coalesce whatever their state, so a miss means the zone is
 * really too full or too fragmented.  Zone lock held. */
static struct pcm_page *alloc_block(struct pcm_zone *z, unsigned order)
{
	struct pcm_page *pg = take_block(z, order);
	return pg ? pg : grow(z, order);
}

/* The resident pages of both zones, for the peak (peak.h): read without
 * the other zone's lock (a racy sum; this zone's lock is held). */
static void note_resident(void)
{
	size_t pages = 0;
	for (int i = 0; i < PCM_NR_ZONES; i++) {
		struct pcm_zone *zn = &pcm_zones[i];
		pages += __atomic_load_n(&zn->used_pages, __ATOMIC_RELAXED) +
			 __atomic_load_n(&zn->dirty_pages, __ATOMIC_RELAXED) +
			 __atomic_load_n(&zn->nr_arenas, __ATOMIC_RELAXED) * PCM_META_PAGES;
	}
	pcm_peak_arena_pages(pages);
}

/* Pages [idx, idx + n) of a taken block are handed out: they leave the
 * dirty count, and their map bits are cleared.  Returns 1 when they all
 * read as zero (none was dirty).  Zone lock held. */
static int hand_out(struct pcm_zone *z, struct pcm_page *head, size_t n)
{
	struct pcm_arena *a = pcm_arena_of_page(head);
	size_t idx = pcm_page_index(head), d = dirty_count(a, idx, n);
	PCM_ASSERTF(1, idx >= PCM_META_PAGES && idx + n <= a->frontier,
		    "handing out pages [%zu, %zu) of arena %p", idx, idx + n, (void *)a);
	if (d) {
		dirty_clear(a, idx, n);
		z->dirty_pages -= d;
	}
	z->used_pages += n;
	if (z->used_pages > z->demand_peak)
		__atomic_store_n(&z->demand_peak, z->used_pages, __ATOMIC_RELAXED);
	__atomic_store_n(&z->allocs, z->allocs + 1, __ATOMIC_RELAXED);
	regions_add(a, idx, n, 1);
	if (n > d)
		note_resident();
	return d == 0;
}

/* Pages [idx, idx + n) come back dirty.  Zone lock held. */
static void take_back(struct pcm_zone *z, struct pcm_arena *a, size_t idx, size_t n)
{
	size_t d = dirty_count(a, idx, n); /* 0 unless a run's tail was free */
	PCM_ASSERTF(1, z->used_pages >= n && idx >= PCM_META_PAGES && idx + n <= a->frontier,
		    "taking back pages [%zu, %zu) of arena %p, %zu in use", idx, idx + n,
		    (void *)a, z->used_pages);
	dirty_set(a, idx, n);
	z->dirty_pages += n - d;
	z->used_pages -= n;
	regions_add(a, idx, n, -1);
}

/* THP: 2 MiB regions of slab memory get huge pages where they pay.  A
 * region hinted at its first slab becomes resident whole at its first
 * touch, so a heap of a few MiB grew its RSS in 2 MiB steps: the region at
 * its end cost up to 2 MiB more than its used pages (a 64-thread heap of
 * 6-9 MiB of slabs peaked at 10, 12, 14 or 16 MiB).  So until the process
 * uses 16 MiB of slab memory (where the background worker and the dirty
 * budget judge a program big), a region is hinted only once it is dense
 * (DENSE_PAGES used, which its huge page costs at most a quarter more
 * than), its pages having come as small ones, and waits to be collapsed
 * (split_mask) by the background worker if it runs, else by khugepaged.
 * Past 16 MiB, where TLB reach pays, every region a new slab lands in is
 * hinted at once (fewer faults, no copy).  Small programs (under one huge
 * page of slabs) get no hints.
 *
 * Collapsing (MADV_COLLAPSE) copies the region into a huge page, often
 * compacting memory to find one: 0.4 to 1.5 ms a call, up to 85 ms in one
 * run of glibc-bench when it was made inside the malloc that made the
 * region dense (this one, or a zone_alloc that refilled a region a purge
 * had broken).  The worker does it instead (pcm_zone_collapse), and only
 * for a region that stayed dense and waiting from one of its once-a-second
 * passes to the next: the program's accesses to a region wait while it is
 * copied, which made 0.2 s runs of glibc-bench 10-35% slower. */
#define THP_MIN_PAGES ((16ul << 20) >> PCM_PAGE_SHIFT)

/* Region bit of arena a waits for a collapse from now on: it must stay
 * dense for two passes of the worker (pcm_zone_collapse). */
static void mark_waiting(struct pcm_arena *a, uint32_t bit)
{
	__atomic_fetch_or(&a->split_mask, bit, __ATOMIC_RELAXED);
	__atomic_fetch_and(&a->ripe_mask, ~bit, __ATOMIC_RELAXED);
}

static void slab_thp_hint(struct pcm_zone *z, struct pcm_page *pg,
			  unsigned order)
{
	size_t used = __atomic_load_n(&z->used_pages, __ATOMIC_RELAXED);
	if (pcm_conf.thp != PCM_THP_MADVISE || used < REGION_PAGES ||
	    pcm_conf_sys_thp() == PCM_THP_NEVER)
		return;
	struct pcm_arena *a = pcm_arena_of_page(pg);
	size_t first = (pcm_page_index(pg) << PCM_PAGE_SHIFT) >> PCM_HUGEPAGE_SHIFT;
	size_t last = ((pcm_page_index(pg) + (1ul << order) - 1) << PCM_PAGE_SHIFT) >>
		      PCM_HUGEPAGE_SHIFT;
	for (size_t r = first; r <= last; r++) {
		uint32_t bit = 1u << r;
		if (__atomic_load_n(&a->thp_mask, __ATOMIC_RELAXED) & bit)
			continue;
		int dense = __atomic_load_n(&a->region_used[r], __ATOMIC_RELAXED) >= DENSE_PAGES;
		if (used < THP_MIN_PAGES && !dense)
			continue;
		if (__atomic_fetch_or(&a->thp_mask, bit, __ATOMIC_RELAXED) & bit)
			continue;
		pcm_os_hugepage((char *)a + (r << PCM_HUGEPAGE_SHIFT), PCM_HUGEPAGE_SIZE, 1);
		if (used < THP_MIN_PAGES) /* dense: for pcm_zone_collapse */
			mark_waiting(a, bit);
	}
}

/* 2^order pages, of which the first npages are handed out (the tail goes
 * back), from zone z or NULL.  Takes the zone lock. */
static struct pcm_page *zone_alloc(struct pcm_zone *z, unsigned order,
				   size_t npages, int *clean)
{
	pcm_lock(&z->lock);
	struct pcm_page *pg = alloc_block(z, order);
	if (pg) {
		struct pcm_arena *a = pcm_arena_of_page(pg);
		size_t idx = pcm_page_index(pg);
		*clean = hand_out(z, pg, npages);
		if (npages < (1ul << order)) /* the tail stays free, as it was */
			free_range(z, a, idx + npages, idx + (1ul << order));
	}
	debug_check(z);
	pcm_unlock(&z->lock);
	return pg;
}

/* From `zone`, or, when it can have no more arenas (address space or
 * commit limits), from the other zone's free pages: a block is freed to
 * the zone of its arena, whichever asked for it. */
static struct pcm_page *alloc_pages(int zone, unsigned order, size_t npages,
				    int *clean)
{
	struct pcm_page *pg = zone_alloc(&pcm_zones[zone], order, npages, clean);
	if (unlikely(!pg))
		pg = zone_alloc(&pcm_zones[zone == PCM_ZONE_SLAB ? PCM_ZONE_LARGE : PCM_ZONE_SLAB],
				order, npages, clean);
	return pg;
}

struct pcm_page *pcm_block_alloc(int zone, unsigned order, int *clean)
{
	struct pcm_page *pg = alloc_pages(zone, order, 1ul << order, clean);
	if (pg && pcm_arena_of_page(pg)->zone == PCM_ZONE_SLAB)
		slab_thp_hint(&pcm_zones[PCM_ZONE_SLAB], pg, order);
	return pg;
}

void pcm_block_free(struct pcm_page *head, unsigned order)
{
	struct pcm_arena *a = pcm_arena_of_page(head);
	struct pcm_zone *z = &pcm_zones[a->zone];
	size_t idx = pcm_page_index(head);
	pcm_lock(&z->lock);
	if (!abandoned(z, a)) { /* else its pages leak with their arena */
		take_back(z, a, idx, 1ul << order);
		free_block(z, a, idx, order);
	}
	debug_check(z);
	pcm_unlock(&z->lock);
	pcm_zone_maybe_purge(z, 0);
}

struct pcm_page *pcm_run_alloc(int zone, size_t npages, unsigned align_order,
			       int *clean)
{
	unsigned order = pcm_log2_up(npages);
	if (order < align_order)
		order = align_order;
	if (order > PCM_MAX_ORDER)
		return NULL;
	return alloc_pages(zone, order, npages, clean);
}

void pcm_run_free(struct pcm_page *head, size_t npages)
{
	struct pcm_arena *a = pcm_arena_of_page(head);
	struct pcm_zone *z = &pcm_zones[a->zone];
	size_t idx = pcm_page_index(head);
	pcm_lock(&z->lock);
	if (!abandoned(z, a)) {
		take_back(z, a, idx, npages);
		free_range(z, a, idx, idx + npages);
	}
	debug_check(z);
	pcm_unlock(&z->lock);
	pcm_zone_maybe_purge(z, 0);
}

int pcm_run_grow(struct pcm_page *head, size_t npages, size_t more)
{
	struct pcm_arena *a = pcm_arena_of_page(head);
	struct pcm_zone *z = &pcm_zones[a->zone];
	size_t idx = pcm_page_index(head), end = idx + npages, want = end + more;
	if (want > PCM_ARENA_PAGES)
		return 0;
	pcm_lock(&z->lock);
	if (abandoned(z, a)) { /* its free pages are on no list */
		pcm_unlock(&z->lock);
		return 0;
	}
	/* The pages after the run must all be free: find the free block
	 * holding each page (a block's head is at its aligned start). */
	size_t i = end;
	while (i < want) {
		struct pcm_page *b = NULL;
		for (unsigned o = 0; o <= PCM_MAX_ORDER; o++) {
			struct pcm_page *c = &a->pages[i & ~((1ul << o) - 1)];
			if (c->kind == PCM_PG_FREE && c->order == o) {
				b = c;
				break;
			}
		}
		if (!b) {
			pcm_unlock(&z->lock);
			return 0;
		}
		i = pcm_page_index(b) + (1ul << b->order);
	}
	/* Take those blocks out, keep [end, want), free the rest back. */
	size_t lo = end, hi = end;
	for (i = end; i < want;) {
		struct pcm_page *b = NULL;
		for (unsigned o = 0; o <= PCM_MAX_ORDER && !b; o++) {
			struct pcm_page *c = &a->pages[i & ~((1ul << o) - 1)];
			if (c->kind == PCM_PG_FREE && c->order == o)
				b = c;
		}
		size_t bidx = pcm_page_index(b);
		if (bidx < lo)
			lo = bidx;
		free_remove(z, b);
		i = bidx + (1ul << b->order);
		hi = i;
	}
	hand_out(z, &a->pages[end], more);
	free_range(z, a, lo, end);
	free_range(z, a, want, hi);
	debug_check(z);
	pcm_unlock(&z->lock);
	return 1;
}

/* ---- giving memory back ---- */

#define PURGE_BATCH 32
#define PURGE_MAX_CALLS 128 /* madvise calls one invocation makes at most */
#define PURGE_SCAN 4096     /* free blocks one invocation looks at */
#define PURGE_MIN_NS 200000000ull /* 200 ms */

/* Dense 2 MiB regions keep their huge pages: pieces of them are purged
 * only when it must (over budget, trim). */
static int keep_dense(const struct pcm_page *pg, int gentle)
{
	if (!gentle || pg->order >= REGION_ORDER)
		return 0;
	const struct pcm_arena *a = pcm_arena_of_page(pg);
	return a->region_used[pcm_page_index(pg) / REGION_PAGES] >= DENSE_PAGES;
}

/* Purges down to `target` dirty pages (at most what is dirty now), in free
 * blocks of min_order or more, with `gentle` leaving the pieces of dense
 * huge pages alone (decay); with `bounded`, at most PURGE_MAX_CALLS
 * madvise calls and PURGE_SCAN blocks looked at.  Returns pages purged. */
static size_t purge(struct pcm_zone *z, size_t target, int reason, int gentle,
		    int bounded, unsigned min_order)
{
	size_t purged = 0, calls = 0, scanned = 0;
	size_t max_calls = bounded ? PURGE_MAX_CALLS : SIZE_MAX;
	size_t max_scan = bounded ? PURGE_SCAN : SIZE_MAX;
	struct pcm_page *batch[PURGE_BATCH];
	if (__atomic_load_n(&z->purge_failed, __ATOMIC_RELAXED))
		return 0;
	pcm_lock(&z->lock);
	/* At most what is dirty now: pages freed meanwhile by other threads
	 * wait for the next call, so that one call's work is bounded. */
	size_t budget = z->dirty_pages > target ? z->dirty_pages - target : 0;
	while (budget && calls < max_calls && scanned < max_scan) {
		/* Largest blocks first (whole huge pages before pieces of
		 * them), coldest first: the tails of the lists. */
		size_t n = 0, want = budget;
		for (int o = PCM_MAX_ORDER; o >= (int)min_order && n < PURGE_BATCH && want; o--) {
			struct pcm_page *s = &z->free_area[o];
			for (struct pcm_page *pg = s->prev, *prev; pg != s && n < PURGE_BATCH &&
			     want && scanned < max_scan; pg = prev) {
				prev = pg->prev;
				scanned++;
				struct pcm_arena *a = pcm_arena_of_page(pg);
				size_t d = dirty_count(a, pcm_page_index(pg), 1ul << o);
				if (!d || keep_dense(pg, gentle))
					continue;
				size_t r = pcm_page_index(pg) / REGION_PAGES;
				if (o < REGION_ORDER && a->region_used[r]) /* a piece of a huge page */
					mark_waiting(a, 1u << r);
				free_remove(z, pg);
				pg->kind = PCM_PG_BUSY;
				pg->order = (uint8_t)o;
				z->busy_pages += 1ul << o;
				batch[n++] = pg;
				want = d >= want ? 0 : want - d;
			}
		}
		if (!n) {
			if (gentle && !min_order && scanned < max_scan)
				__atomic_store_n(&z->dense_dirty, z->dirty_pages,
						 __ATOMIC_RELAXED);
			break;
		}
		pcm_unlock(&z->lock);
		/* The blocks are ours: their map bits change only here. */
		size_t done[PURGE_BATCH];
		int failed = 0;
		for (size_t i = 0; i < n; i++) {
			struct pcm_arena *a = pcm_arena_of_page(batch[i]);
			size_t idx = pcm_page_index(batch[i]), end = idx + (1ul << batch[i]->order);
			size_t from = idx, start, len;
			done[i] = 0;
			while (!failed && (len = next_dirty_run(a, &from, end, &start))) {
				calls++;
				if (pcm_os_purge((char *)a + (start << PCM_PAGE_SHIFT),
						 len << PCM_PAGE_SHIFT) != 0) {
					failed = 1; /* e.g. mlockall: contents stay */
					break;
				}
				done[i] += len;
				dirty_clear(a, start, len);
			}
		}
		pcm_lock(&z->lock);
		for (size_t i = 0; i < n; i++) {
			unsigned ord = batch[i]->order;
			z->busy_pages -= 1ul << ord;
			z->dirty_pages -= done[i];
			purged += done[i];
			budget = done[i] >= budget ? 0 : budget - done[i];
			free_block(z, pcm_arena_of_page(batch[i]), pcm_page_index(batch[i]), ord);
		}
		if (failed) {
			z->purge_failed = 1;
			break;
		}
	}
	z->purge_calls += calls;
	z->purged_pages += purged;
	z->purge_calls_by[reason] += calls;
	z->purged_pages_by[reason] += purged;
	z->last_purge_ns = pcm_os_now_ns();
	if (purged)
		note_resident();
	debug_check(z);
	pcm_unlock(&z->lock);
	return purged;
}

size_t pcm_zone_purge(struct pcm_zone *z, size_t target)
{
	return purge(z, target, PCM_PURGE_TRIM, 0, 0, 0);
}

/* Time from `then` to `now`, 0 when another thread stored a `then` later
 * than our `now` (read before it). */
static uint64_t elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* The zone's recent demand: the most pages it had in use during the
 * current decay period and the one before.  Pages freed that recently are
 * likely to be taken again (a working set freed and retaken in a loop,
 * such as glibc-bench's 25 MiB round of 4 KiB blocks); purging them only
 * makes the program fault them in again, and breaks their huge pages. */
static size_t recent_demand(struct pcm_zone *z, uint64_t now)
{
	uint64_t period = pcm_conf.decay_ns;
	if (!period) /* decay_ms:0, memory back at once: no reserve */
		return 0;
	if (elapsed(now, __atomic_load_n(&z->demand_start_ns, __ATOMIC_RELAXED)) >= period) {
		pcm_lock(&z->lock);
		if (elapsed(now, z->demand_start_ns) >= period) {
			/* (After a long gap the peak may be old: kept for one
			 * more period, which errs on the side of keeping.) */
			__atomic_store_n(&z->demand_prev, z->demand_peak, __ATOMIC_RELAXED);
			__atomic_store_n(&z->demand_peak, z->used_pages, __ATOMIC_RELAXED);
			__atomic_store_n(&z->demand_start_ns, now, __ATOMIC_RELAXED);
		}
		pcm_unlock(&z->lock);
	}
	size_t cur = __atomic_load_n(&z->demand_peak, __ATOMIC_RELAXED);
	size_t prev = __atomic_load_n(&z->demand_prev, __ATOMIC_RELAXED);
	return cur > prev ? cur : prev;
}

/* The reserve (pages of recent demand free now) lapses once the zone has
 * made no block allocation for DEMAND_IDLE_NS (as seen by these decisions,
 * which note when the count last changed), and is granted only while the
 * background worker makes decisions too (within WORKER_SEEN_NS): it purges
 * a reserve that has lapsed even when the program makes no further call. */
#define DEMAND_IDLE_NS 100000000ull  /* 100 ms */
#define WORKER_SEEN_NS 1000000000ull /* four of its rounds */
static size_t reserve_of(struct pcm_zone *z, uint64_t now, size_t used)
{
	uint64_t allocs = __atomic_load_n(&z->allocs, __ATOMIC_RELAXED);
	if (allocs != __atomic_load_n(&z->allocs_seen, __ATOMIC_RELAXED)) {
		__atomic_store_n(&z->allocs_seen, allocs, __ATOMIC_RELAXED);
		__atomic_store_n(&z->active_ns, now, __ATOMIC_RELAXED);
	}
	size_t demand = recent_demand(z, now);
	if (demand <= used ||
	    elapsed(now, __atomic_load_n(&z->active_ns, __ATOMIC_RELAXED)) > DEMAND_IDLE_NS ||
	    elapsed(now, __atomic_load_n(&z->worker_ns, __ATOMIC_RELAXED)) > WORKER_SEEN_NS ||
	    !__atomic_load_n(&z->worker_ns, __ATOMIC_RELAXED))
		return 0;
	return demand - used;
}

size_t pcm_zone_maybe_purge(struct pcm_zone *z, int background)
{
	/* Budget: the configured floor, or an eighth of what is in use, on
	 * top of the reserve (reserve_of()): the pages in use within the last
	 * one or two decay periods that are free now, while the zone keeps
	 * allocating.  Over budget, purge to half of it (beyond the reserve),
	 * at most every PURGE_MIN_NS and PURGE_MAX_CALLS calls, so that a
	 * working set freed and retaken in a loop is not refaulted each time;
	 * far over it (4x), in between, the whole free huge pages (2 MiB
	 * blocks and larger) at once: a few calls give back much, and the
	 * program freed that much since the last purge.  The background
	 * worker purges all that is over budget at once.  Under budget,
	 * unused memory decays: half of what is beyond the reserve goes each
	 * decay period, leaving dense huge pages whole. */
	if (background) /* the worker runs: reserve_of() */
		__atomic_store_n(&z->worker_ns, pcm_os_now_ns(), __ATOMIC_RELAXED);
	size_t dirty = __atomic_load_n(&z->dirty_pages, __ATOMIC_RELAXED), done = 0;
	if (!dirty)
		return 0;
	size_t used = __atomic_load_n(&z->used_pages, __ATOMIC_RELAXED);
	uint64_t now = pcm_os_now_ns();
	size_t reserve = reserve_of(z, now, used);
	size_t base = pcm_conf.dirty_max_pages > used / 8 ? pcm_conf.dirty_max_pages : used / 8;
	size_t budget = base + reserve, keep = reserve + base / 2;
	size_t spare = dirty > reserve ? dirty - reserve : 0; /* beyond the reserve */
	uint64_t since = elapsed(now, __atomic_load_n(&z->last_purge_ns, __ATOMIC_RELAXED));
	if (dirty > budget && background) {
		/* Off the allocation path, what is over budget goes now: each
		 * page is purged once, so the calls are bounded by what the
		 * program freed, not by how often it allocates. */
		/* Whole free huge pages first, as many as it takes; then
		 * pieces, as the free path would (bounded). */
		done = purge(z, keep, PCM_PURGE_BACKGROUND, 0, 0, REGION_ORDER);
		if (__atomic_load_n(&z->dirty_pages, __ATOMIC_RELAXED) > budget)
			done += purge(z, keep, PCM_PURGE_BACKGROUND, 0, 1, 0);
	} else if (dirty > budget && since > PURGE_MIN_NS) {
		done = purge(z, keep, PCM_PURGE_BUDGET, 0, 1, 0);
	} else if (spare / 4 > base) {
		/* Whole free huge pages only: a few calls give back a lot. */
		done = purge(z, keep, PCM_PURGE_BUDGET, 0, 0, REGION_ORDER);
	} else if (spare && since > pcm_conf.decay_ns) {
		done = purge(z, reserve + spare / 2,
			     background ? PCM_PURGE_BACKGROUND : PCM_PURGE_DECAY, 1, 1, 0);
	}
	return done;
}

size_t pcm_zones_held_pages(void)
{
	size_t n = 0;
	for (int z = 0; z < PCM_NR_ZONES; z++)
		n += __atomic_load_n(&pcm_zones[z].used_pages, __ATOMIC_RELAXED) +
		     __atomic_load_n(&pcm_zones[z].dirty_pages, __ATOMIC_RELAXED);
	return n;
}

size_t pcm_zone_decaying_pages(const struct pcm_zone *z)
{
	if (__atomic_load_n(&z->purge_failed, __ATOMIC_RELAXED))
		return 0;
	size_t d = __atomic_load_n(&z->dirty_pages, __ATOMIC_RELAXED);
	return d == __atomic_load_n(&z->dense_dirty, __ATOMIC_RELAXED) ? 0 : d;
}

void pcm_zone_thp_regions(struct pcm_zone *z, size_t *hinted, size_t *split)
{
	pcm_lock(&z->lock);
	for (struct pcm_arena *a = z->arenas; a; a = a->next) {
		uint32_t h = __atomic_load_n(&a->thp_mask, __ATOMIC_RELAXED);
		*hinted += (size_t)__builtin_popcount(h);
		*split += (size_t)__builtin_popcount(
			h & __atomic_load_n(&a->split_mask, __ATOMIC_RELAXED));
	}
	pcm_unlock(&z->lock);
}

#define COLLAPSE_MAX 32 /* regions one call collapses at most */

size_t pcm_zone_collapse(struct pcm_zone *z, size_t *ripening)
{
	char *todo[COLLAPSE_MAX];
	size_t n = 0, later = 0;
	pcm_lock(&z->lock);
	for (struct pcm_arena *a = z->arenas; a; a = a->next) {
		uint32_t w = __atomic_load_n(&a->split_mask, __ATOMIC_RELAXED) &
			     __atomic_load_n(&a->thp_mask, __ATOMIC_RELAXED);
		uint32_t dense = 0, ripe = __atomic_load_n(&a->ripe_mask, __ATOMIC_RELAXED);
		for (; w; w &= w - 1) {
			unsigned r = (unsigned)__builtin_ctz(w);
			if (a->region_used[r] < DENSE_PAGES)
				continue; /* sparse: a huge page would cost too much */
			uint32_t bit = 1u << r;
			if (!(ripe & bit) || n == COLLAPSE_MAX) {
				dense |= bit; /* ripe at the next pass */
				continue;
			}
			__atomic_fetch_and(&a->split_mask, ~bit, __ATOMIC_RELAXED);
			todo[n++] = (char *)a + ((size_t)r << PCM_HUGEPAGE_SHIFT);
		}
		__atomic_store_n(&a->ripe_mask, dense, __ATOMIC_RELAXED);
		later += (size_t)__builtin_popcount(dense);
	}
	pcm_unlock(&z->lock);
	*ripening = later;
	/* Outside the lock: the region may change meanwhile (a purge of a
	 * piece breaks it again and marks it), never leave the arena, which
	 * goes back to the OS only with none of its pages in use. */
	for (size_t i = 0; i < n; i++)
		pcm_os_collapse(todo[i], PCM_HUGEPAGE_SIZE);
	return n;
}

/* Fork repair: forget every arena of the zone (their pages leak; frees
 * into them are ignored, see abandoned()). */
static void zone_abandon(struct pcm_zone *z)
{
	zone_gen[z->id]++;
	for (int o = 0; o < PCM_NR_ORDERS; o++) {
		pcm_list_init(&z->free_area[o]);
		z->nr_free[o] = 0;
	}
	z->free_pages = z->dirty_pages = z->busy_pages = z->dense_dirty = 0;
	z->used_pages = z->committed_pages = 0;
	z->demand_peak = z->demand_prev = 0;
	z->demand_start_ns = z->allocs_seen = z->active_ns = z->worker_ns = 0;
	z->arenas = NULL;
	z->nr_arenas = 0;
	pcm_lock_reset(&z->lock);
}

void pcm_zones_after_fork_child(uint32_t forker)
{
	for (int z = 0; z < PCM_NR_ZONES; z++)
		if (pcm_lock_vanished(&pcm_zones[z].lock, forker))
			zone_abandon(&pcm_zones[z]);
}

void pcm_zone_totals(struct pcm_zone *z, struct pcm_zone_totals *t)
{
	pcm_lock(&z->lock);
	for (int o = 0; o < PCM_NR_ORDERS; o++)
		t->nr_free[o] = z->nr_free[o];
	t->free_pages = z->free_pages + z->busy_pages;
	t->dirty_pages = z->dirty_pages;
	t->used_pages = z->used_pages;
	t->committed_pages = z->committed_pages;
	t->arenas = z->nr_arenas;
	t->purge_calls = z->purge_calls;
	t->purged_pages = z->purged_pages;
	for (int r = 0; r < PCM_NR_PURGE; r++) {
		t->purge_calls_by[r] = z->purge_calls_by[r];
		t->purged_pages_by[r] = z->purged_pages_by[r];
	}
	pcm_unlock(&z->lock);
}

/* ---- invariants (debug.h) ---- */

/* Dirty pages in [idx, idx + n) of a, for the checks. */
static size_t dirty_in(const struct pcm_arena *a, size_t idx, size_t n)
{
	return n ? dirty_count(a, idx, n) : 0;
}

/* Zone lock held.  Level 2: the counters agree with each other; level 3:
 * they agree with the arenas and the free lists, which are well formed
 * (linked both ways, every block marked free with its order, aligned,
 * inside its arena's committed pages, not coalescible with its buddy),
 * and the dirty map marks only free pages.  At most `limit` blocks of each
 * list are looked at (the list totals are checked when none is cut). */
static void zone_check(const struct pcm_zone *z, int level, size_t limit)
{
	size_t by_order = 0;
	for (unsigned o = 0; o < PCM_NR_ORDERS; o++)
		by_order += z->nr_free[o] << o;
	PCM_VERIFY(by_order == z->free_pages, "zone %u: free lists hold %zu pages, "
		   "counted %zu", z->id, by_order, z->free_pages);
	PCM_VERIFY(z->used_pages + z->free_pages + z->busy_pages == z->committed_pages,
		   "zone %u: used %zu + free %zu + busy %zu != committed %zu", z->id,
		   z->used_pages, z->free_pages, z->busy_pages, z->committed_pages);
	PCM_VERIFY(z->dirty_pages <= z->free_pages + z->busy_pages,
		   "zone %u: %zu dirty pages, %zu free", z->id, z->dirty_pages,
		   z->free_pages + z->busy_pages);
	if (level < 3)
		return;
	size_t narenas = 0, committed = 0, afree = 0, used = 0, map_dirty = 0;
	for (const struct pcm_arena *a = z->arenas; a; a = a->next) {
		PCM_VERIFY(a->magic == PCM_ARENA_MAGIC && a->zone == z->id &&
			   a->gen == zone_gen[z->id], "zone %u: arena %p", z->id,
			   (const void *)a);
		PCM_VERIFY(a->frontier >= PCM_META_PAGES && a->frontier <= PCM_ARENA_PAGES,
			   "arena %p: frontier %u", (const void *)a, a->frontier);
		narenas++;
		committed += a->frontier - PCM_META_PAGES;
		afree += a->free_pages;
		for (size_t r = 0; r < PCM_ARENA_SIZE >> PCM_HUGEPAGE_SHIFT; r++)
			used += a->region_used[r];
		map_dirty += dirty_in(a, 0, PCM_ARENA_PAGES);
	}
	PCM_VERIFY(narenas == z->nr_arenas, "zone %u: %zu arenas listed, %zu counted",
		   z->id, narenas, z->nr_arenas);
	PCM_VERIFY(committed == z->committed_pages, "zone %u: arenas commit %zu pages, "
		   "counted %zu", z->id, committed, z->committed_pages);
	PCM_VERIFY(afree == z->free_pages, "zone %u: arenas hold %zu free pages, "
		   "counted %zu", z->id, afree, z->free_pages);
	PCM_VERIFY(used == z->used_pages, "zone %u: regions use %zu pages, counted %zu",
		   z->id, used, z->used_pages);
	size_t list_dirty = 0;
	int cut = 0;
	for (unsigned o = 0; o < PCM_NR_ORDERS; o++) {
		const struct pcm_page *s = &z->free_area[o];
		size_t count = 0;
		for (const struct pcm_page *pg = s->next; pg != s; pg = pg->next) {
			if (count == limit) {
				cut = 1;
				break;
			}
			PCM_VERIFY(pg && pg->next && pg->next->prev == pg,
				   "zone %u order %u: broken free list at %p", z->id, o,
				   (const void *)pg);
			PCM_VERIFY(++count <= z->nr_free[o], "zone %u order %u: more "
				   "than %zu blocks listed", z->id, o, z->nr_free[o]);
			const struct pcm_arena *a = pcm_arena_of_page(pg);
			size_t idx = pcm_page_index(pg);
			PCM_VERIFY(pg->kind == PCM_PG_FREE && pg->order == o,
				   "zone %u: block %p on list %u has kind %u order %u",
				   z->id, (const void *)pg, o, pg->kind, pg->order);
			PCM_VERIFY(!(idx & ((1ul << o) - 1)) && idx >= PCM_META_PAGES &&
				   idx + (1ul << o) <= a->frontier && a->zone == z->id,
				   "zone %u: free block at page %zu of arena %p, order %u",
				   z->id, idx, (const void *)a, o);
			if (o < PCM_MAX_ORDER) {
				const struct pcm_page *b = &a->pages[idx ^ (1ul << o)];
				PCM_VERIFY(!(b->kind == PCM_PG_FREE && b->order == o),
					   "zone %u: free buddies at page %zu order %u "
					   "not coalesced", z->id, idx, o);
			}
			list_dirty += dirty_in(a, idx, 1ul << o);
		}
		PCM_VERIFY(count == z->nr_free[o] || cut, "zone %u order %u: %zu blocks "
			   "listed, %zu counted", z->id, o, count, z->nr_free[o]);
	}
	/* Purges clear the map bits of their busy blocks without the lock. */
	if (z->busy_pages == 0 && !cut)
		PCM_VERIFY(list_dirty == z->dirty_pages && map_dirty == list_dirty,
			   "zone %u: %zu dirty pages counted, %zu in free blocks, "
			   "%zu in the map", z->id, z->dirty_pages, list_dirty, map_dirty);
}

void pcm_zone_check(struct pcm_zone *z, int level)
{
	pcm_lock(&z->lock);
	zone_check(z, level, SIZE_MAX);
	pcm_unlock(&z->lock);
}
