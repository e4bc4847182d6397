/*
 * Huge allocations: direct mappings for sizes above PCM_LARGE_MAX, or
 * alignments the buddy allocator cannot give.  They start on a 2 MiB
 * boundary (THP-friendly) and grow or shrink with mremap.  A two-level radix
 * table maps each 2 MiB chunk they cover to their header, so a pointer is
 * recognised in O(1) without locks.
 */
#ifndef PCM_HUGE_H
#define PCM_HUGE_H

#include "types.h"

PCM_BEGIN_DECLS

/* The huge allocation whose mapping holds p, or NULL. */
struct pcm_huge *pcm_huge_find(const void *p);

void *pcm_huge_alloc(size_t size, size_t align);
void pcm_huge_free(struct pcm_huge *h);
/* The size of the block that started at p if pcmalloc unmapped it on one
 * of the last frees of huge blocks (a double free or a use after free when
 * p comes back), else 0. */
size_t pcm_huge_freed_before(const void *p);
/* Resizes in place or by moving; NULL on failure (h unchanged). */
void *pcm_huge_realloc(struct pcm_huge *h, size_t size);

void pcm_huge_totals(size_t *count, size_t *bytes, size_t *max_count,
		     size_t *max_bytes);
void pcm_huge_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
