/*
 * Arenas: 64 MiB of address space aligned to 64 MiB, from brk while the
 * break can grow, from mmap after.  A byte map with one byte per possible
 * arena (2 MiB of address space in .bss, of which only the pages for the
 * arenas in use are ever touched) answers "is this pointer in an arena?"
 * without locks; the arena header and page descriptors are then found by
 * masking.
 */
#ifndef PCM_ARENA_H
#define PCM_ARENA_H

#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

#define PCM_ARENA_MAP_SIZE (1UL << (PCM_VA_BITS - PCM_ARENA_SHIFT))

/* What free() reads to take a pointer to its slab object, in one object so
 * that the fast path (alloc.h) addresses all of it from one register: the
 * per-class boundary check (filled by sizeclass.c; class 0 fails it) and
 * the arena byte map. */
struct pcm_ptr_tab {
	uint64_t magic[PCM_NR_CLASSES]; /* off % size == 0 <=> off*magic < magic */
	uint64_t mask[PCM_NR_CLASSES];  /* the object's offset bits in its slab */
	uint8_t map[PCM_ARENA_MAP_SIZE]; /* 1 for each arena */
};
extern struct pcm_ptr_tab pcm_ptr_tab;
#define pcm_arena_map (pcm_ptr_tab.map)

/* 1 when p is in an arena. */
PCM_INLINE int pcm_in_arena(uintptr_t a)
{
	uintptr_t i = a >> PCM_ARENA_SHIFT;
	return likely(i < PCM_ARENA_MAP_SIZE) &&
	       __atomic_load_n(&pcm_arena_map[i], __ATOMIC_ACQUIRE);
}

/* The arena holding p, or NULL when p is not in any arena. */
PCM_INLINE struct pcm_arena *pcm_arena_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (!pcm_in_arena(a))
		return NULL;
	return (struct pcm_arena *)(a & ~(PCM_ARENA_SIZE - 1));
}

/* Page descriptor of the page holding p; p must be in arena a. */
PCM_INLINE struct pcm_page *pcm_page_of(struct pcm_arena *a, const void *p)
{
	return &a->pages[((uintptr_t)p - (uintptr_t)a) >> PCM_PAGE_SHIFT];
}

PCM_INLINE struct pcm_arena *pcm_arena_of_page(const struct pcm_page *pg)
{
	return (struct pcm_arena *)((uintptr_t)pg & ~(PCM_ARENA_SIZE - 1));
}

PCM_INLINE size_t pcm_page_index(const struct pcm_page *pg)
{
	return (size_t)(pg - pcm_arena_of_page(pg)->pages);
}

PCM_INLINE void *pcm_page_addr(const struct pcm_page *pg)
{
	return (char *)pcm_arena_of_page(pg) + (pcm_page_index(pg) << PCM_PAGE_SHIFT);
}

/* A new arena for `zone`, its descriptors initialised and its pages not yet
 * given to any allocator, or NULL when the OS has no more memory.  Pages
 * [PCM_META_PAGES, frontier) are committed already (its first 1 MiB). */
struct pcm_arena *pcm_arena_create(int zone);

/* Pages an arena has committed when it is made (its first 1 MiB). */
#define PCM_ARENA_FIRST_PAGES ((PCM_HUGEPAGE_SIZE / 2) >> PCM_PAGE_SHIFT)

/* Arena a is about to commit pages past its first PCM_ARENA_FIRST_PAGES
 * (buddy.c's extend): its huge-page policy is set now (MADV_NOHUGEPAGE
 * unless thp:always).  Not at creation: a huge page needs an aligned 2 MiB
 * of one mapping, which the first 1 MiB alone (read-write, the rest
 * PROT_NONE) cannot give, and a small program never commits past it. */
void pcm_arena_first_grow(struct pcm_arena *a);

/* Publishes the arena in the registry (after its pages are set up). */
void pcm_arena_publish(struct pcm_arena *a);

/* Gives an arena none of whose pages is in use back to the OS: 0 on
 * success; -1 (nothing changed) for a brk arena that is not at the top of
 * the break. */
int pcm_arena_destroy(struct pcm_arena *a);

extern size_t pcm_arena_mapped_bytes, pcm_arena_brk_bytes;

void pcm_arena_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
