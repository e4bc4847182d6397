/*
 * Large allocations: runs of whole pages from the buddy allocator's large
 * zone, for sizes above the largest size class up to PCM_LARGE_MAX, and for
 * page-or-more alignments.  Every page of a run is marked PCM_PG_LARGE with
 * its offset to the first, which holds the run's length.
 */
#ifndef PCM_LARGE_H
#define PCM_LARGE_H

#include "types.h"

PCM_BEGIN_DECLS

/* n bytes aligned to align (<= PCM_PAGE_SIZE << PCM_MAX_ORDER); zeroed if
 * `zero`; NULL on ENOMEM (errno not set). */
void *pcm_large_alloc(size_t n, size_t align, int zero);

/* The run whose first page is p's page, checked: aborts with a diagnosis
 * naming `call` if p is not the start of a live large allocation. */
struct pcm_page *pcm_large_check(const char *call, void *p, struct pcm_page *pg);

void pcm_large_free(struct pcm_page *head);
/* Shrinks the run to hold n bytes, giving back its tail. */
/* Grows the run at head to hold n bytes in place, taking the free pages
 * after it: 1 on success. */
int pcm_large_grow(struct pcm_page *head, size_t n);
void pcm_large_shrink(struct pcm_page *head, size_t n);

PCM_END_DECLS

#endif
