/*
 * The buddy page allocator: blocks of 2^order pages (order 0..PCM_MAX_ORDER)
 * per zone, split on allocation and coalesced on free with the buddy at
 * index ^ (1 << order).  Only the first page of a free block is marked
 * PCM_PG_FREE; a block leaving the free lists loses that mark, so a FREE
 * descriptor is always a list member.
 *
 * Each free block remembers whether its pages may be resident and dirty.
 * Dirty memory beyond a budget, or left unused past a decay time, is given
 * back to the OS (MADV_DONTNEED) without holding the zone lock over the
 * system call.  Fresh or purged pages read as zero, which calloc relies on.
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

/* Gives back dirty free pages if the zone is over budget or its decay time
 * has passed.  Call without locks held. */
void pcm_zone_maybe_purge(struct pcm_zone *z);

/* Purges until at most `target` dirty pages remain; returns pages purged. */
size_t pcm_zone_purge(struct pcm_zone *z, size_t target);

/* Fork repair: forget every arena of the zone (their pages leak). */
void pcm_zone_abandon(struct pcm_zone *z);

PCM_END_DECLS

#endif
