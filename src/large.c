/* Large page runs.  See large.h. */
#include "large.h"
#include "arena.h"
#include "buddy.h"
#include "fmt.h"

#include <string.h>

void *pcm_large_alloc(size_t n, size_t align, int zero)
{
	size_t npages = pcm_align_up(n ? n : 1, PCM_PAGE_SIZE) >> PCM_PAGE_SHIFT;
	unsigned align_order =
		align > PCM_PAGE_SIZE ? pcm_log2(align) - PCM_PAGE_SHIFT : 0;
	int clean;
	struct pcm_page *head =
		pcm_run_alloc(PCM_ZONE_LARGE, npages, align_order, &clean);
	if (!head)
		return NULL;
	for (size_t i = 0; i < npages; i++) {
		head[i].kind = PCM_PG_LARGE;
		head[i].cls = 0;
		head[i].head_off = (uint16_t)i;
	}
	head->run_pages = npages;
	void *p = pcm_page_addr(head);
	if (zero && !clean)
		memset(p, 0, npages << PCM_PAGE_SHIFT);
	return p;
}

struct pcm_page *pcm_large_check(const char *call, void *p, struct pcm_page *pg)
{
	if (likely(pg->kind == PCM_PG_LARGE && pg->head_off == 0 &&
		   !((uintptr_t)p & (PCM_PAGE_SIZE - 1))))
		return pg;
	if (pg->kind == PCM_PG_LARGE || pcm_page_index(pg) < PCM_META_PAGES ||
	    pg->kind == PCM_PG_SLAB) /* a large class's later pages */
		pcm_fatal("%s(): invalid pointer %p (inside a block, not its start)",
			  call, p);
	pcm_fatal("%s(): invalid pointer %p (double free, or memory pcmalloc "
		  "never handed out)", call, p);
}

void pcm_large_free(struct pcm_page *head)
{
	size_t npages = head->run_pages;
	head->kind = PCM_PG_NONE; /* a second free is seen as such */
	pcm_run_free(head, npages);
}

int pcm_large_grow(struct pcm_page *head, size_t n)
{
	size_t want = pcm_align_up(n, PCM_PAGE_SIZE) >> PCM_PAGE_SHIFT;
	size_t npages = head->run_pages;
	if (want <= npages)
		return 1;
	if (!pcm_run_grow(head, npages, want - npages))
		return 0;
	for (size_t i = npages; i < want; i++) {
		head[i].kind = PCM_PG_LARGE;
		head[i].cls = 0;
		head[i].head_off = (uint16_t)i;
	}
	head->run_pages = want;
	return 1;
}

void pcm_large_shrink(struct pcm_page *head, size_t n)
{
	size_t keep = pcm_align_up(n, PCM_PAGE_SIZE) >> PCM_PAGE_SHIFT;
	size_t npages = head->run_pages;
	if (keep >= npages)
		return;
	head->run_pages = keep;
	for (size_t i = keep; i < npages; i++)
		head[i].kind = PCM_PG_NONE;
	pcm_run_free(head + keep, npages - keep);
}
