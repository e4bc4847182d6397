/* Buddy page allocator.  See buddy.h. */
#include "buddy.h"
#include "arena.h"
#include "conf.h"
#include "fmt.h"
#include "list.h"
#include "os.h"

struct pcm_zone pcm_zones[PCM_NR_ZONES];

/* Fork repair: arenas older than their zone's generation are abandoned. */
static uint8_t zone_gen[PCM_NR_ZONES];

void pcm_zones_init(void)
{
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		pcm_zones[z].id = (uint8_t)z;
		for (int o = 0; o < PCM_NR_ORDERS; o++)
			for (int c = 0; c < 2; c++)
				pcm_list_init(&pcm_zones[z].free_area[o][c]);
	}
}

/* ---- free lists; all below run under the zone lock ---- */

static void free_insert(struct pcm_zone *z, struct pcm_page *pg,
			unsigned order, int dirty)
{
	size_t n = 1ul << order;
	pg->kind = PCM_PG_FREE;
	pg->order = (uint8_t)order;
	pg->flags = dirty ? PCM_PGF_DIRTY : 0;
	pg->head_off = 0;
	pg->cls = 0;
	pcm_list_add(&z->free_area[order][!dirty], pg);
	z->nr_free[order]++;
	z->free_pages += n;
	if (dirty)
		z->dirty_pages += n;
	pcm_arena_of_page(pg)->free_pages += n;
}

static void free_remove(struct pcm_zone *z, struct pcm_page *pg)
{
	size_t n = 1ul << pg->order;
	pcm_list_del(pg);
	z->nr_free[pg->order]--;
	z->free_pages -= n;
	if (pg->flags & PCM_PGF_DIRTY)
		z->dirty_pages -= n;
	pcm_arena_of_page(pg)->free_pages -= n;
	pg->kind = PCM_PG_NONE;
}

/* Frees block (arena a, page index idx, order), coalescing with free buddies
 * in the same state: dirty with dirty, clean with clean, so that what is
 * counted dirty is exactly what may be resident (a purged block merged into
 * a dirty one would be purged again and again).  A dirty block merges with
 * its clean buddy once it is purged itself. */
static void free_block(struct pcm_zone *z, struct pcm_arena *a, size_t idx,
		       unsigned order, int dirty)
{
	if (unlikely(a->gen != zone_gen[z->id]))
		return; /* abandoned by fork repair */
	a->pages[idx].kind = PCM_PG_NONE;
	dirty = !!dirty;
	while (order < PCM_MAX_ORDER) {
		size_t bidx = idx ^ (1ul << order);
		struct pcm_page *b = &a->pages[bidx];
		if (b->kind != PCM_PG_FREE || b->order != order ||
		    (b->flags & PCM_PGF_DIRTY) != dirty)
			break;
		free_remove(z, b);
		idx &= ~(1ul << order);
		order++;
	}
	free_insert(z, &a->pages[idx], order, dirty);
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
		       size_t end, int dirty)
{
	while (idx < end) {
		unsigned o = fit_order(idx, end);
		free_block(z, a, idx, o, dirty);
		idx += 1ul << o;
	}
}

static int grow(struct pcm_zone *z)
{
	struct pcm_arena *a = pcm_arena_create(z->id);
	if (!a)
		return 0;
	a->gen = zone_gen[z->id];
	a->next = z->arenas;
	z->arenas = a;
	z->nr_arenas++;
	free_range(z, a, PCM_META_PAGES, PCM_ARENA_PAGES, 0);
	pcm_arena_publish(a);
	return 1;
}

/* Takes a free block of `order` (splitting a larger one), or NULL.  Zone
 * lock held. */
static struct pcm_page *take_block(struct pcm_zone *z, unsigned order,
				   int *dirty)
{
	{
		for (unsigned o = order; o <= PCM_MAX_ORDER; o++) {
			struct pcm_page *s = &z->free_area[o][0]; /* dirty first */
			if (s->next == s)
				s = &z->free_area[o][1];
			if (s->next == s)
				continue;
			struct pcm_page *pg = s->next;
			int d = pg->flags & PCM_PGF_DIRTY;
			free_remove(z, pg);
			while (o > order) { /* split: the upper half stays free */
				o--;
				free_insert(z, pg + (1ul << o), o, d);
			}
			*dirty = d;
			z->used_pages += 1ul << order;
			return pg;
		}
	}
	return NULL;
}

/* Like take_block, but when no block is large enough: first purge dirty
 * memory (purged blocks coalesce with their clean buddies), then grow the
 * zone by an arena.  Called and returns with the zone lock held; drops it
 * while purging. */
static struct pcm_page *alloc_block(struct pcm_zone *z, unsigned order,
				    int *dirty)
{
	struct pcm_page *pg = take_block(z, order, dirty);
	if (pg)
		return pg;
	if (z->dirty_pages >= (1ul << order) && !z->purge_failed) {
		pcm_unlock(&z->lock);
		pcm_zone_purge(z, 0);
		pcm_lock(&z->lock);
		if ((pg = take_block(z, order, dirty)))
			return pg;
	}
	if (!grow(z))
		return NULL;
	return take_block(z, order, dirty);
}

/* THP: hint 2 MiB regions of slab memory once the process uses enough slab
 * memory for huge pages to pay off (small programs stay small). */
static void slab_thp_hint(struct pcm_zone *z, struct pcm_page *pg,
			  unsigned order)
{
	if (pcm_conf.thp != PCM_THP_MADVISE || pcm_conf.sys_thp == PCM_THP_NEVER ||
	    z->used_pages < (PCM_HUGEPAGE_SIZE >> PCM_PAGE_SHIFT))
		return;
	struct pcm_arena *a = pcm_arena_of_page(pg);
	size_t first = (pcm_page_index(pg) << PCM_PAGE_SHIFT) >> PCM_HUGEPAGE_SHIFT;
	size_t last = ((pcm_page_index(pg) + (1ul << order) - 1) << PCM_PAGE_SHIFT) >>
		      PCM_HUGEPAGE_SHIFT;
	for (size_t r = first; r <= last; r++) {
		uint32_t bit = 1u << r;
		if (__atomic_load_n(&a->thp_mask, __ATOMIC_RELAXED) & bit)
			continue;
		if (__atomic_fetch_or(&a->thp_mask, bit, __ATOMIC_RELAXED) & bit)
			continue;
		pcm_os_hugepage((char *)a + (r << PCM_HUGEPAGE_SHIFT),
				PCM_HUGEPAGE_SIZE, 1);
	}
}

struct pcm_page *pcm_block_alloc(int zone, unsigned order, int *clean)
{
	struct pcm_zone *z = &pcm_zones[zone];
	int dirty = 0;
	pcm_lock(&z->lock);
	struct pcm_page *pg = alloc_block(z, order, &dirty);
	pcm_unlock(&z->lock);
	if (pg && zone == PCM_ZONE_SLAB)
		slab_thp_hint(z, pg, order);
	*clean = !dirty;
	return pg;
}

void pcm_block_free(struct pcm_page *head, unsigned order)
{
	struct pcm_arena *a = pcm_arena_of_page(head);
	struct pcm_zone *z = &pcm_zones[a->zone];
	pcm_lock(&z->lock);
	z->used_pages -= 1ul << order;
	free_block(z, a, pcm_page_index(head), order, 1);
	pcm_unlock(&z->lock);
	pcm_zone_maybe_purge(z);
}

struct pcm_page *pcm_run_alloc(int zone, size_t npages, unsigned align_order,
			       int *clean)
{
	unsigned order = pcm_log2_up(npages);
	if (order < align_order)
		order = align_order;
	if (order > PCM_MAX_ORDER)
		return NULL;
	struct pcm_zone *z = &pcm_zones[zone];
	int dirty = 0;
	pcm_lock(&z->lock);
	struct pcm_page *pg = alloc_block(z, order, &dirty);
	if (pg && npages < (1ul << order)) {
		size_t idx = pcm_page_index(pg);
		z->used_pages -= (1ul << order) - npages;
		free_range(z, pcm_arena_of_page(pg), idx + npages,
			   idx + (1ul << order), dirty);
	}
	pcm_unlock(&z->lock);
	*clean = !dirty;
	return pg;
}

void pcm_run_free(struct pcm_page *head, size_t npages)
{
	struct pcm_arena *a = pcm_arena_of_page(head);
	struct pcm_zone *z = &pcm_zones[a->zone];
	size_t idx = pcm_page_index(head);
	pcm_lock(&z->lock);
	z->used_pages -= npages;
	free_range(z, a, idx, idx + npages, 1);
	pcm_unlock(&z->lock);
	pcm_zone_maybe_purge(z);
}

/* ---- giving memory back ---- */

#define PURGE_BATCH 32
#define PURGE_MIN_NS 100000000ull /* 100 ms */

size_t pcm_zone_purge(struct pcm_zone *z, size_t target)
{
	size_t purged = 0;
	struct pcm_page *batch[PURGE_BATCH];
	if (__atomic_load_n(&z->purge_failed, __ATOMIC_RELAXED))
		return 0;
	pcm_lock(&z->lock);
	/* At most what is dirty now: pages freed meanwhile by other threads
	 * (which may be allocating and freeing as fast as we purge) wait for
	 * the next call, so that one call's work is bounded. */
	size_t budget = z->dirty_pages > target ? z->dirty_pages - target : 0;
	for (int round = 0; round < 64 && z->dirty_pages > target && budget; round++) {
		/* Coldest first: the tails of the dirty lists, largest blocks
		 * first. */
		size_t n = 0, want = z->dirty_pages - target;
		if (want > budget)
			want = budget;
		for (int o = PCM_MAX_ORDER; o >= 0 && n < PURGE_BATCH && want; o--) {
			struct pcm_page *s = &z->free_area[o][0];
			while (s->prev != s && n < PURGE_BATCH && want) {
				struct pcm_page *pg = s->prev;
				unsigned ord = pg->order;
				free_remove(z, pg);
				pg->kind = PCM_PG_BUSY;
				pg->order = (uint8_t)ord;
				z->busy_pages += 1ul << ord;
				batch[n++] = pg;
				want = (1ul << ord) >= want ? 0 : want - (1ul << ord);
				budget = (1ul << ord) >= budget ? 0 : budget - (1ul << ord);
			}
		}
		if (!n)
			break;
		pcm_unlock(&z->lock);
		int ok[PURGE_BATCH];
		for (size_t i = 0; i < n; i++)
			ok[i] = pcm_os_purge(pcm_page_addr(batch[i]),
					     (1ul << batch[i]->order) << PCM_PAGE_SHIFT) == 0;
		pcm_lock(&z->lock);
		for (size_t i = 0; i < n; i++) {
			unsigned ord = batch[i]->order;
			z->busy_pages -= 1ul << ord;
			if (ok[i])
				purged += 1ul << ord;
			else /* e.g. mlockall: contents stay, and so does the flag */
				z->purge_failed = 1;
			free_block(z, pcm_arena_of_page(batch[i]),
				   pcm_page_index(batch[i]), ord, !ok[i]);
		}
		if (z->purge_failed)
			break;
		z->purge_calls += n;
	}
	z->purged_pages += purged;
	z->last_purge_ns = pcm_os_now_ns();
	pcm_unlock(&z->lock);
	return purged;
}

void pcm_zone_maybe_purge(struct pcm_zone *z)
{
	/* Budget: the configured floor, or an eighth of what is in use.  Over
	 * budget, purge to half of it, at most every PURGE_MIN_NS so that a
	 * working set freed and retaken in a loop is not refaulted each time;
	 * far over it (4x), at once.  Under budget, unused memory decays: half
	 * of it goes each decay period. */
	size_t dirty = __atomic_load_n(&z->dirty_pages, __ATOMIC_RELAXED);
	if (!dirty)
		return;
	size_t used = __atomic_load_n(&z->used_pages, __ATOMIC_RELAXED);
	size_t budget = pcm_conf.dirty_max_pages > used / 8 ? pcm_conf.dirty_max_pages
							    : used / 8;
	uint64_t since = pcm_os_now_ns() - z->last_purge_ns;
	if (dirty > budget && (since > PURGE_MIN_NS || dirty / 4 > budget))
		pcm_zone_purge(z, budget / 2);
	else if (since > pcm_conf.decay_ns)
		pcm_zone_purge(z, dirty / 2);
}

void pcm_zone_abandon(struct pcm_zone *z)
{
	zone_gen[z->id]++;
	for (int o = 0; o < PCM_NR_ORDERS; o++) {
		pcm_list_init(&z->free_area[o][0]);
		pcm_list_init(&z->free_area[o][1]);
		z->nr_free[o] = 0;
	}
	z->free_pages = z->dirty_pages = z->busy_pages = 0;
	z->arenas = NULL;
	z->nr_arenas = 0;
	pcm_lock_reset(&z->lock);
}
