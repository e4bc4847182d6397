/*
 * Glossary of pcmalloc's types, bottom layer first.
 *
 *   pcm_page    descriptor of one 4 KiB page (like Linux's struct page); an
 *               arena keeps one per page, so any pointer finds its
 *               descriptor by masking and shifting
 *   pcm_arena   64 MiB of address space aligned to 64 MiB: descriptors first,
 *               then the header, then pages for the buddy allocator
 *   pcm_zone    a buddy allocator: free lists by order over a set of arenas.
 *               Slabs and large runs live in separate zones, so slab memory
 *               can take THP hints without inflating sparse large runs
 *   pcm_class   a small size class: its slabs (SLUB style, free list threaded
 *               through free objects) and its lock
 *   (the caches in front of the slabs: cache.h, percpu.h, tcache.h)
 *   pcm_huge    header of a direct mapping, found through a radix registry
 *
 * The locks and their order: lock.h.
 */
#ifndef PCM_TYPES_H
#define PCM_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lock.h"

/* pcm_page.kind */
enum pcm_page_kind {
	PCM_PG_NONE = 0, /* inside a free block, or never described */
	PCM_PG_FREE,     /* first page of a free buddy block */
	PCM_PG_SLAB,     /* a page of a slab */
	PCM_PG_LARGE,    /* a page of a large run */
	PCM_PG_BUSY,     /* a free block out of the lists while purged */
};

/* pcm_page.flags */
#define PCM_PGF_GEN_SHIFT 1   /* slab: generation of its class (fork repair) */

/*
 * Page descriptor, 32 bytes.  Every page of a slab or large run has kind and
 * head_off set (head = this - head_off); only the first page (the head)
 * carries the block's state.  Free blocks mark only their first page.
 */
struct pcm_page {
	union {
		void *freelist;   /* slab head: first free object */
		size_t run_pages; /* large head: pages in the run */
	};
	struct pcm_page *next; /* zone free list / class partial list */
	struct pcm_page *prev;
	uint16_t head_off; /* pages back to the head of this slab / run */
	uint8_t kind;
	uint8_t order; /* free block or slab: its order */
	uint8_t cls;   /* slab pages: size class (0: not a slab) */
	uint8_t flags;
	uint16_t inuse; /* slab head: objects out of the slab */
};

_Static_assert(sizeof(struct pcm_page) == 32, "page descriptor size");

enum pcm_zone_id { PCM_ZONE_SLAB = 0, PCM_ZONE_LARGE = 1, PCM_NR_ZONES = 2 };

/* Why memory was purged (statistics). */
enum pcm_purge_reason {
	PCM_PURGE_BUDGET = 0, /* dirty memory over the budget, on a free */
	PCM_PURGE_DECAY,      /* unused for a decay period, on a free */
	PCM_PURGE_TRIM,       /* malloc_trim */
	PCM_PURGE_BACKGROUND, /* the background worker (budget or decay) */
	PCM_NR_PURGE
};

#define PCM_ARENA_MAGIC 0x70636d6172656e61ull /* "pcmarena" */

struct pcm_arena {
	struct pcm_page pages[PCM_ARENA_PAGES]; /* at offset 0 */
	/* Header, in the page after the descriptors. */
	uint64_t magic;
	struct pcm_arena *next; /* zone's arena list */
	uint8_t zone;
	uint8_t from_brk;
	uint8_t gen; /* zone generation at creation (fork repair) */
	uint32_t thp_mask; /* 2 MiB regions that got MADV_HUGEPAGE */
	/* Hinted regions not known to be one huge page, waiting for the
	 * background worker to collapse them once dense (pcm_zone_collapse):
	 * a partial purge broke their huge page, or they were hinted only
	 * once dense, their pages having come as small ones.  Atomic. */
	uint32_t split_mask;
	/* Of those, the ones dense and waiting at the worker's previous pass:
	 * collapsed at its next (pcm_zone_collapse).  Atomic. */
	uint32_t ripe_mask;
	/* Pages [PCM_META_PAGES, frontier) are committed (read-write) and
	 * belong to the buddy allocator; the rest is reserved, PROT_NONE. */
	uint32_t frontier;
	size_t free_pages;
	/* Pages handed out, per 2 MiB region (hugepage-aware placement). */
	uint16_t region_used[PCM_ARENA_SIZE >> PCM_HUGEPAGE_SHIFT];
	/* One bit a page: set while the page is free and may be resident
	 * with non-zero contents (freed after use, not yet purged).  Clear for
	 * pages in use, fresh from the OS, or purged. */
	uint64_t dirty_map[PCM_ARENA_PAGES / 64];
	/* Per page, the size class free()'s fast path sees (alloc.h): the
	 * descriptor's cls on the pages of small-class slabs and on a large
	 * class's head page, else 0.  Written with slabs (slab.c). */
	uint8_t page_cls[PCM_ARENA_PAGES];
};

/* Pages at the start of an arena that hold its metadata. */
#define PCM_META_PAGES                                                         \
	((sizeof(struct pcm_arena) + PCM_PAGE_SIZE - 1) >> PCM_PAGE_SHIFT)

struct pcm_zone {
	pcm_lock_t lock;
	uint8_t id;
	/* Free lists (sentinels) per order, most recently freed first.  Free
	 * blocks coalesce whatever their pages' state: which pages are dirty
	 * is in the arenas' dirty_map. */
	struct pcm_page free_area[PCM_NR_ORDERS];
	size_t nr_free[PCM_NR_ORDERS];
	size_t free_pages;  /* in free blocks */
	size_t dirty_pages; /* of which may be resident (dirty_map bits) */
	/* dirty_pages when a decay last found every dirty free page inside a
	 * dense huge page, which it keeps: while unchanged, none decays. */
	size_t dense_dirty;
	size_t busy_pages;  /* out of the lists while being purged */
	struct pcm_arena *arenas;
	size_t nr_arenas;
	size_t used_pages; /* handed out */
	size_t committed_pages; /* arenas' pages below their frontiers */
	uint64_t last_purge_ns;
	/* Recent demand (buddy.c, recent_demand(), reserve_of()): the most
	 * pages used in the decay period that began at demand_start_ns, and
	 * in the one before; block allocations, their count when a purge
	 * decision last saw it change, and when that was; when the background
	 * worker last made a decision. */
	size_t demand_peak, demand_prev;
	uint64_t demand_start_ns;
	uint64_t allocs, allocs_seen, active_ns, worker_ns;
	int purge_failed; /* madvise refused (locked memory): stop purging */
	uint64_t purge_calls, purged_pages;
	uint64_t purge_calls_by[PCM_NR_PURGE], purged_pages_by[PCM_NR_PURGE];
} __attribute__((aligned(PCM_CACHE_LINE)));

/* Read-only after start-up: the geometry of a size class. */
struct pcm_class_info {
	uint32_t size;
	uint16_t nobjs;     /* objects per slab */
	uint16_t slab_pages; /* pages a slab spans */
	uint8_t order;      /* slab order (small classes: a buddy block) */
	uint16_t cache_max; /* thread-cache bound (objects) */
	uint16_t batch;     /* objects moved per refill / drain */
	uint64_t div_magic; /* off % size == 0 <=> off * magic <= magic - 1 */
};

/* One cache line a class (pcm_classes is page-aligned: the classes a small
 * program uses, 1 to 63, share one page). */
struct pcm_class {
	pcm_lock_t lock;
	union {
		/* Sentinel of the list of slabs with free objects: only its
		 * next and prev are used (list.h), so its other words hold
		 * the class's two statistics counters. */
		struct pcm_page partial;
		struct {
			uint64_t refills;             /* its freelist word */
			struct pcm_page *sentinel_links[2]; /* its next, prev */
			uint64_t drains;              /* its head_off..inuse */
		};
	};
	uint32_t nr_partial;
	uint16_t nr_empty;         /* empty slabs kept on the partial list */
	uint8_t gen;               /* bumped when fork repair abandons slabs */
	size_t nr_slabs;
	size_t objs_out;           /* objects taken out of slabs */
} __attribute__((aligned(PCM_CACHE_LINE)));
_Static_assert(sizeof(struct pcm_class) == PCM_CACHE_LINE, "a class is one cache line");
_Static_assert(__builtin_offsetof(struct pcm_class, drains) ==
		       __builtin_offsetof(struct pcm_class, partial) +
			       __builtin_offsetof(struct pcm_page, head_off),
	       "drains overlays the sentinel's unused fields, not its links");

struct pcm_huge {
	void *ptr;       /* what the user got */
	size_t size;     /* mapping length, page multiple */
	size_t align;    /* alignment the mapping keeps on remap */
	uint32_t guard_lo, guard_hi; /* inaccessible gaps placed around it */
	size_t request;  /* secure mode: bytes asked for */
	uint8_t kind;    /* secure mode: what allocated it (secure.h) */
};

#endif
