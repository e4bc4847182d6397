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

void *pcm_malloc_slow(size_t n);
void pcm_free_slow(void *p);
PCM_COLD void pcm_bad_pointer(const char *call, const void *p, unsigned cls);

PCM_INLINE void *pcm_malloc_fast(size_t n)
{
	unsigned cls = pcm_size_class(n);
	if (likely(cls)) {
		void *p = pcm_tcache_pop(cls);
		if (likely(p))
			return p;
	}
	return pcm_malloc_slow(n);
}

/* Class of small object p in arena a, or 0 when p is not a slab object.
 * Aborts when p is inside a slab but not at an object's start. */
PCM_INLINE unsigned pcm_small_class_of(const char *call, struct pcm_arena *a,
				       const void *p)
{
	struct pcm_page *pg = pcm_page_of(a, p);
	unsigned cls = pg->cls;
	if (likely(cls)) {
		uintptr_t base = ((uintptr_t)p & ~(PCM_PAGE_SIZE - 1)) -
				 ((uintptr_t)pg->head_off << PCM_PAGE_SHIFT);
		uint64_t magic = pcm_class_info[cls].div_magic;
		if (unlikely((uint64_t)((uintptr_t)p - base) * magic > magic - 1))
			pcm_bad_pointer(call, p, cls);
	}
	return cls;
}

PCM_INLINE void pcm_free_fast(void *p)
{
	struct pcm_arena *a = pcm_arena_of(p);
	if (likely(a)) {
		unsigned cls = pcm_small_class_of("free", a, p);
		if (likely(cls)) {
			pcm_tcache_push(cls, p);
			return;
		}
	}
	pcm_free_slow(p);
}

#endif
