/*
 * The buddy page allocator: blocks of 2^order pages (order 0..PCM_MAX_ORDER)
 * per zone, split on allocation and coalesced on free with the buddy at
 * index ^ (1 << order).  Only the first page of a free block is marked
 * PCM_PG_FREE; a block leaving the free lists loses that mark, so a FREE
 * descriptor is always a list member.
 *
 * Free blocks coalesce whatever the state of their pages; a bit a page in
 * the arena's dirty map says which free pages may be resident with non-zero
 * contents.  Dirty memory beyond a budget, or left unused past a decay
 * time, is given back to the OS (MADV_DONTNEED, one call per run of dirty
 * pages, a bounded number per invocation) without holding the zone lock
 * over the system call; never as a side effect of an allocation that
 * misses.  Fresh or purged pages read as zero, which calloc relies on.
 * Placement is hugepage-aware: allocations go to the most used 2 MiB
 * regions among the candidates, whole free regions are purged first, and
 * decay leaves the pieces of dense regions alone.
 */
#ifndef PCM_BUDDY_H
#define PCM_BUDDY_H

#include "types.h"

PCM_BEGIN_DECLS

extern struct pcm_zone pcm_zones[PCM_NR_ZONES];

void pcm_zones_init(void);

/* 2^order pages from `zone`, or NULL (ENOMEM).  The caller sets every
 * page's descriptor.  *clean is set when all pages read as zero. */
struct pcm_page *pcm_block_alloc(int zone, unsigned order, int *clean);
void pcm_block_free(struct pcm_page *head, unsigned order);

/* A run of exactly npages pages aligned to 2^align_order pages: a block of
 * the covering order whose tail goes back to the free lists. */
struct pcm_page *pcm_run_alloc(int zone, size_t npages, unsigned align_order,
			       int *clean);
void pcm_run_free(struct pcm_page *head, size_t npages);

/* Extends the run of npages pages at head by `more` pages in place when
 * the pages after it are free: 1 on success (the caller describes them). */
int pcm_run_grow(struct pcm_page *head, size_t npages, size_t more);

/* Gives back dirty free pages if the zone is over budget or its decay time
 * has passed (`background`: called by the background worker, for the
 * statistics); returns the pages it purged.  Call without locks held. */
size_t pcm_zone_maybe_purge(struct pcm_zone *z, int background);

/* Racy reads for the background worker's decisions: pages in use or dirty
 * in all zones; a zone's dirty pages still to decay (0 when the kernel
 * refuses to purge them, e.g. under mlockall, and when the last decay found
 * them all in dense huge pages, which it keeps, and none changed since). */
size_t pcm_zones_held_pages(void);
size_t pcm_zone_decaying_pages(const struct pcm_zone *z);

/* Purges (for malloc_trim) until at most `target` dirty pages remain, or
 * what was dirty at the call is purged; returns pages purged. */
size_t pcm_zone_purge(struct pcm_zone *z, size_t target);

/* Gives arenas none of whose pages is in use back to the OS (mapped ones,
 * and a brk arena at the top of the break): for malloc_trim, and when the
 * address space runs out.  Returns how many.  Call without locks held. */
size_t pcm_zones_release_free(void);

/* Adds the zone's 2 MiB regions hinted for huge pages, and those of them
 * waiting to be collapsed (a purge broke their huge page, or they were
 * hinted only once dense). */
void pcm_zone_thp_regions(struct pcm_zone *z, size_t *hinted, size_t *split);
/* The background worker's pass, once a second: collapses into huge pages
 * (MADV_COLLAPSE) up to 32 of the regions that were waiting and dense at
 * the previous pass and still are; returns how many, and in *ripening how
 * many dense waiting regions the next pass may collapse.  Call without
 * locks held. */
size_t pcm_zone_collapse(struct pcm_zone *z, size_t *ripening);

/* A zone's counters, read under its lock (statistics). */
struct pcm_zone_totals {
	size_t nr_free[PCM_NR_ORDERS]; /* free blocks by order */
	size_t free_pages;             /* free, including those being purged */
	size_t dirty_pages, used_pages, committed_pages, arenas;
	uint64_t purge_calls, purged_pages;
	uint64_t purge_calls_by[PCM_NR_PURGE], purged_pages_by[PCM_NR_PURGE];
};
void pcm_zone_totals(struct pcm_zone *z, struct pcm_zone_totals *t);

/* Checks the zone's invariants (debug.h: level 2 counters, level 3 the free
 * lists and the dirty map); aborts naming the first that fails.  Takes the
 * zone lock. */
void pcm_zone_check(struct pcm_zone *z, int level);

/* Fork repair, in the child: a zone whose lock a vanished thread held
 * forgets every arena (their pages leak; later frees into them are
 * ignored). */
void pcm_zones_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
