/*
 * pcmalloc: a per-CPU slab allocator for Linux.
 *
 * Linking libpcmalloc.a into a program, or preloading libpcmalloc.so, replaces
 * malloc, free, the rest of the C and glibc malloc API and C++ operator
 * new/delete.  This header adds pcmalloc's own entry points: the same
 * functions under a pcm_ prefix, and introspection.
 */
#ifndef PCMALLOC_H
#define PCMALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCMALLOC_VERSION_MAJOR 0
#define PCMALLOC_VERSION_MINOR 1
#define PCMALLOC_VERSION "0.1.0"

void *pcm_malloc(size_t size);
void pcm_free(void *ptr);
void *pcm_calloc(size_t nmemb, size_t size);
void *pcm_realloc(void *ptr, size_t size);
void *pcm_aligned_alloc(size_t alignment, size_t size);
int pcm_posix_memalign(void **out, size_t alignment, size_t size);
size_t pcm_usable_size(const void *ptr);
void pcm_free_sized(void *ptr, size_t size);

/* 1 if ptr points into memory that pcmalloc manages (any byte of any live or
 * free block), 0 otherwise.  O(1), lock-free. */
int pcmalloc_owns(const void *ptr);

/* Which small-object cache serves this thread. */
enum pcmalloc_cache_mode {
	PCMALLOC_CACHE_PER_THREAD = 0, /* thread-local caches (fallback) */
	PCMALLOC_CACHE_PER_CPU = 1,    /* rseq per-CPU caches */
};

/* A snapshot of the allocator's counters.  Figures read from other threads'
 * caches are racy by nature: exact when the process is quiescent. */
struct pcmalloc_stats {
	size_t mapped;          /* address space taken from the OS (arenas + huge) */
	size_t brk_bytes;       /* of which grown with brk/sbrk */
	size_t resident;        /* mapped minus what was returned with madvise */
	size_t allocated;       /* bytes in live allocations (usable sizes) */
	size_t small_allocated; /* of which small objects */
	size_t large_allocated; /* of which buddy page runs */
	size_t huge_allocated;  /* of which direct mmaps */
	size_t slab_objects;    /* objects taken out of slabs: live + cached */
	size_t cached_objects;  /* objects sitting in thread / CPU caches */
	size_t cached_bytes;    /* bytes of those */
	size_t slabs;           /* slabs in existence */
	size_t slab_bytes;      /* pages held by slabs */
	size_t free_pages;      /* pages free in the buddy allocator */
	size_t dirty_pages;     /* of which still backed by memory */
	size_t purged_bytes;    /* total ever returned to the OS with madvise */
	size_t arenas;          /* arenas in existence */
	size_t huge_count;      /* live direct mappings */
	size_t threads;         /* thread caches alive */
	int cache_mode;         /* enum pcmalloc_cache_mode */
	size_t purge_calls;     /* madvise calls that returned memory, ever */
	size_t committed;       /* of mapped, what is accessible (the rest of
				   the arenas is reserved, PROT_NONE) */
	size_t allocated_peak;  /* the most `allocated` was when sampled (at
				   each statistics call, report or snapshot,
				   and each background worker round) */
	size_t resident_peak;   /* the most `resident` was (tracked as pages
				   are handed out) */
	size_t mapped_peak;     /* the most `mapped` was (exact) */
};

/* Fills *st; size is sizeof(struct pcmalloc_stats) as the caller knows it.
 * Returns 0, or -1 if size is too small. */
int pcmalloc_stats_get(struct pcmalloc_stats *st, size_t size);

/* Writes the full human-readable report (the one PCMALLOC_CONF=stats:1
 * prints at exit) to a file descriptor. */
void pcmalloc_stats_print(int fd);

/* The same report as one JSON object ({"schema": 1, ...}; the schema is
 * described in pcmalloc(3)), written to a file descriptor.  Neither
 * allocates. */
void pcmalloc_stats_print_json(int fd);

/* Flushes the calling thread's cache back to the slabs. */
void pcmalloc_thread_flush(void);

/* Writes the heap profile of PCMALLOC_CONF=prof:1 (live sampled allocations
 * and their call stacks, in the text format google-pprof reads) to path.
 * Returns 0, or -1 with errno set: EINVAL when the profiler is off, or the
 * error of creating the file. */
int pcmalloc_prof_dump(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* PCMALLOC_H */
