/*
 * Compile-time geometry of pcmalloc.  Everything else derives from these.
 *
 *   page   4 KiB, the buddy allocator's unit
 *   arena  64 MiB of address space aligned to 64 MiB: its header and page
 *          descriptors are found by masking any pointer into it
 *   order  a buddy block of 2^order pages; the largest is 16 MiB
 *   class  a size class, 16 B .. 1 MiB, cached per CPU: up to 32 KiB
 *          objects of slabs, above that runs of pages holding one object
 *   large  an exact run of pages from the buddy allocator, above 1 MiB up
 *          to 4 MiB (and calloc or large alignments above 32 KiB)
 *   huge   a direct mmap, above 4 MiB or for alignments the buddy can't give
 */
#ifndef PCM_CONFIG_H
#define PCM_CONFIG_H

#define PCM_PAGE_SHIFT 12
#define PCM_PAGE_SIZE (1UL << PCM_PAGE_SHIFT)

#define PCM_ARENA_SHIFT 26
#define PCM_ARENA_SIZE (1UL << PCM_ARENA_SHIFT)
#define PCM_ARENA_PAGES (PCM_ARENA_SIZE >> PCM_PAGE_SHIFT)

#define PCM_HUGEPAGE_SHIFT 21 /* x86-64 THP size; arenas are a multiple */
#define PCM_HUGEPAGE_SIZE (1UL << PCM_HUGEPAGE_SHIFT)

#define PCM_MAX_ORDER 12 /* 2^12 pages = 16 MiB */
#define PCM_NR_ORDERS (PCM_MAX_ORDER + 1)

/* User addresses on x86-64 with 4-level paging.  Mappings above are refused. */
#define PCM_VA_BITS 47

#define PCM_MIN_ALIGN 16
#define PCM_SMALL_MAX 32768UL         /* largest class with many objects a slab */
#define PCM_CLASS_MAX (1UL << 20)     /* largest size class */
#define PCM_LARGE_MAX (4UL << 20)     /* largest buddy page run */
#define PCM_NR_CLASSES 113            /* class 0 is "not a slab" */
#define PCM_MAX_SLAB_ORDER 5          /* slabs are at most 128 KiB */

#define PCM_CACHE_LINE 64

/* The default mode's misuse checks: a cached object's key word checked when
 * it is handed out again (cache.h), sized deallocation checked (api.h),
 * malloc(0)'s blocks in an inaccessible region (zero.h), guard gaps around
 * huge mappings (huge.c), a small heap committed 1 MiB at a time (buddy.c).
 * Always on; -DPCM_CHECKS=0 builds libpcmalloc-nochecks.so, which exists
 * only so that the benchmark can measure what the checks cost. */
#ifndef PCM_CHECKS
#define PCM_CHECKS 1
#endif

#endif
