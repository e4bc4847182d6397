/*
 * Per-thread caches: the cache front end's second backend (cache.h), for
 * threads the per-CPU caches cannot serve (no rseq).  Per thread, per size
 * class, a bounded free list of objects (encoded like slab free lists, each
 * object marked free by the front end's key word) refilled from and drained
 * to the slabs in batches.  All thread caches together stay under a
 * process-wide budget (tcache.c).
 *
 * The registry of live threads (for statistics and the budget) lives here
 * too: every thread the front end sets up registers, whichever backend
 * serves it.
 */
#ifndef PCM_TCACHE_H
#define PCM_TCACHE_H

#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

struct pcm_bin {
	void *head; /* encoded free list (pcm_link_*) */
	uint32_t count;
	uint32_t max; /* 0 until the thread cache is set up */
};

struct pcm_tcache {
	struct pcm_bin bins[PCM_NR_CLASSES];
	uint32_t scale;   /* share of the process-wide budget its bounds follow */
	uint8_t registered;
	uint8_t has_bins; /* served by this backend */
	struct pcm_tcache *next, *prev; /* registry of live threads */
};

/* The calling thread joins the registry; with bins, it is served here. */
void pcm_tcache_register(int with_bins);
/* Thread exit: its bins go back to the slabs, it leaves the registry. */
void pcm_tcache_unregister(void);

/* An object of class cls marked free (key word = key), refilled from the
 * slabs when the bin is empty; NULL (errno ENOMEM) when they have none. */
void *pcm_tcache_get(unsigned cls, uintptr_t key);
/* Caches p (of class cls, marked free), draining the bin when full. */
void pcm_tcache_put(unsigned cls, void *p);
/* 1 if p sits in the calling thread's bin for cls. */
int pcm_tcache_holds(unsigned cls, const void *p);

/* The calling thread's bins go back to the slabs. */
void pcm_tcache_flush(void);
/* Racy sums over live caches: objects and bytes cached, threads alive. */
void pcm_tcache_totals(size_t *objs, size_t *bytes, size_t *large_bytes,
		       size_t *threads);
/* Fork repair: only the calling thread's cache survives in the child. */
void pcm_tcache_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
