/*
 * The fast paths of malloc and free, inlined into every exported entry
 * point.  Everything not handled in a few instructions here goes to a
 * noinline slow path in api.c.
 *
 * malloc: size -> class (one load from the thread's table), pop the cache
 *         (cache.h), check the object's key word.
 * free:   pointer -> arena (byte map) -> page descriptor -> class; check
 *         the pointer is an object's start (class 0, not a slab, fails the
 *         same check); push on the cache, suspecting a double free when the
 *         key word is already there.
 * The class found here travels down: the slow paths never recompute it.
 */
#ifndef PCM_ALLOC_H
#define PCM_ALLOC_H

#include "arena.h"
#include "cache.h"
#include "sizeclass.h"

PCM_BEGIN_DECLS

/* cls: the class of n when the fast path knew it (n <= PCM_FAST_MAX) and
 * has tried the cache, else 0. */
void *pcm_malloc_slow(size_t n, unsigned cls);
void pcm_free_slow(void *p);
PCM_COLD void pcm_bad_pointer(const char *call, const void *p, unsigned cls);

PCM_INLINE void *pcm_malloc_fast(size_t n)
{
	if (likely(n <= PCM_FAST_MAX)) {
		unsigned cls;
		void *p;
		/* Before start-up, and for a thread not yet set up, the pop
		 * fails (the null region): the slow path sets things up. */
		if (likely(pcm_cache_try_size(n, &cls, &p)))
			return p;
		return pcm_malloc_slow(n, cls);
	}
	return pcm_malloc_slow(n, 0);
}

/* 1 when p, in a page whose descriptor names class cls (0: none), is the
 * start of an object of that class. */
PCM_INLINE int pcm_slab_boundary_ok(unsigned cls, uintptr_t p)
{
	uint64_t magic = pcm_ptr_tab.magic[cls];
	return (p & pcm_ptr_tab.mask[cls]) * magic < magic;
}

/* Class of small object p in arena a, or 0 when p is not a slab object.
 * Aborts when p is inside a slab but not at an object's start. */
PCM_INLINE unsigned pcm_small_class_of(const char *call, struct pcm_arena *a,
				       const void *p)
{
	unsigned cls = pcm_page_of(a, p)->cls;
	if (likely(cls) && unlikely(!pcm_slab_boundary_ok(cls, (uintptr_t)p)))
		pcm_bad_pointer(call, p, cls);
	return cls;
}

/* The class of p for free: 1 with *cls set when p is the start of a slab
 * object; 0 when p is in no arena, in no slab (class 0 fails the boundary
 * check), or inside an object (the slow path tells which).  A pointer
 * above the user address space is not told apart: it either fails too or
 * faults when free reads its key word.  In assembly so
 * that one base register serves pcm_ptr_tab and the arena's base is the
 * map index shifted back; the result is the flags of the last comparison. */
PCM_INLINE int pcm_free_class(const void *p, unsigned long *cls)
{
	unsigned long t, c, tab;
	int ok;
	_Static_assert(PCM_ARENA_MAP_SIZE == 1ul << 21 && PCM_ARENA_SHIFT == 26 &&
		       PCM_PAGE_SHIFT == 12, "pcm_free_class constants");
	__asm__("movq %[p], %[t]\n\t"
		"shrq $26, %[t]\n\t"
		/* Above the 47-bit user space (no arena there), p aliases a
		 * map entry: the key word check below then faults on it. */
		"andl $0x1fffff, %k[t]\n\t"
		"leaq pcm_ptr_tab(%%rip), %[tab]\n\t"
		"cmpb $0, %c[map](%[tab], %[t])\n\t"
		"je 1f\n\t" /* CF clear: fails */
		/* page_cls of the arena at t << 26, indexed by page number */
		"imulq $%c[adj], %[t], %[t]\n\t"
		"movq %[p], %[c]\n\t"
		"shrq $12, %[c]\n\t"
		"movzbl %c[pcls](%[t], %[c]), %k[c]\n\t"
		/* (p & mask) * magic < magic */
		"movq %c[mask](%[tab], %[c], 8), %[t]\n\t"
		"andq %[p], %[t]\n\t"
		"imulq %c[magic](%[tab], %[c], 8), %[t]\n\t"
		"cmpq %c[magic](%[tab], %[c], 8), %[t]\n"
		"1:"
		: [t] "=&r"(t), [c] "=&r"(c), [tab] "=&r"(tab), "=@ccb"(ok)
		: [p] "r"(p), [map] "i"(__builtin_offsetof(struct pcm_ptr_tab, map)),
		  [mask] "i"(__builtin_offsetof(struct pcm_ptr_tab, mask)),
		  [magic] "i"(__builtin_offsetof(struct pcm_ptr_tab, magic)),
		  [pcls] "i"(__builtin_offsetof(struct pcm_arena, page_cls)),
		  [adj] "i"((1l << 26) - (1l << 14))
		: "memory");
	*cls = c;
	return ok;
}

PCM_INLINE void pcm_free_fast(void *p)
{
	unsigned long cls;
	/* Every call below is a tail call: the fast path saves no registers. */
	if (likely(pcm_free_class(p, &cls))) {
		pcm_cache_push(p, cls);
		return;
	}
	pcm_free_slow(p);
}

PCM_END_DECLS

#endif
