/*
 * The fast paths of malloc and free, inlined into every exported entry
 * point.  Everything not handled in a few instructions here goes to a
 * noinline slow path in api.c.
 *
 * malloc: size -> class (one table load), pop the cache's list.
 * free:   pointer -> arena (bitmap test, mask) -> page descriptor -> class;
 *         check the pointer is an object boundary; push on the cache.
 */
#ifndef PCM_ALLOC_H
#define PCM_ALLOC_H

#include "arena.h"
#include "sizeclass.h"
#include "tcache.h"

PCM_BEGIN_DECLS

void *pcm_malloc_slow(size_t n);
void pcm_free_slow(void *p);
PCM_COLD void pcm_bad_pointer(const char *call, const void *p, unsigned cls);
/* free() of a pointer inside a slab object: diagnoses and aborts (not
 * declared noreturn so that the fast path can tail-call it). */
void pcm_free_invalid(void *p);

PCM_INLINE void *pcm_malloc_fast(size_t n)
{
	unsigned cls;
	if (likely(n <= 1024))
		cls = pcm_class_small[(n + 15) >> 4];
	else if (n <= PCM_SMALL_MAX)
		cls = pcm_class_mid[(n + 127) >> 7];
	else if (n <= PCM_CLASS_MAX)
		cls = pcm_class_large[(n + 4095) >> 12];
	else
		return pcm_malloc_slow(n);
	/* Before start-up the tables hold class 0, whose caches are always
	 * empty: the slow path sets things up. */
	void *p = pcm_cache_pop(cls);
	if (likely(p))
		return p;
	return pcm_malloc_slow(n);
}

/* 1 when p is on an object boundary of the slab holding page pg. */
PCM_INLINE int pcm_slab_boundary_ok(const struct pcm_page *pg, unsigned cls,
				    const void *p)
{
	uint64_t off = ((uintptr_t)p & (PCM_PAGE_SIZE - 1)) +
		       ((uint64_t)pg->head_off << PCM_PAGE_SHIFT);
	uint64_t magic = pcm_class_magic[cls];
	return off * magic <= magic - 1;
}

/* Class of small object p in arena a, or 0 when p is not a slab object.
 * Aborts when p is inside a slab but not at an object's start. */
PCM_INLINE unsigned pcm_small_class_of(const char *call, struct pcm_arena *a,
				       const void *p)
{
	struct pcm_page *pg = pcm_page_of(a, p);
	unsigned cls = pg->cls;
	if (likely(cls) && unlikely(!pcm_slab_boundary_ok(pg, cls, p)))
		pcm_bad_pointer(call, p, cls);
	return cls;
}

PCM_INLINE void pcm_free_fast(void *p)
{
	uintptr_t a = (uintptr_t)p;
	/* Every call below is a tail call: the fast path saves no registers. */
	if (likely(pcm_in_arena(a))) {
		struct pcm_arena *ar = (struct pcm_arena *)(a & ~(PCM_ARENA_SIZE - 1));
		struct pcm_page *pg = pcm_page_of(ar, p);
		unsigned cls = pg->cls;
		if (likely(cls)) {
			if (unlikely(!pcm_slab_boundary_ok(pg, cls, p))) {
				pcm_free_invalid(p);
				return;
			}
			pcm_cache_push(cls, p);
			return;
		}
	}
	pcm_free_slow(p);
}

PCM_END_DECLS

#endif
