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

#include "slab.h"
#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

struct pcm_bin {
	void *head; /* encoded free list (pcm_link_*) */
	uint32_t count;
	uint32_t max; /* 0 until the thread cache is set up */
};

/* Per thread, in TLS; the bins only for a thread this backend serves (a
 * slab object: the TLS of the many threads on per-CPU caches stays small). */
struct pcm_tcache {
	struct pcm_bin *bins; /* PCM_NR_CLASSES of them, or NULL */
	uint32_t scale;   /* share of the process-wide budget its bounds follow */
	uint8_t registered;
	struct pcm_tcache *next, *prev; /* registry of live threads */
};

extern __thread struct pcm_tcache pcm_tcache_self PCM_TLS;

/* The calling thread joins the registry; with bins, it is served here:
 * 0 when its bins could not be had (it is not). */
int pcm_tcache_register(int with_bins);
/* Thread exit: its bins go back to the slabs, it leaves the registry. */
void pcm_tcache_unregister(void);

/* An object of class cls marked free (key word = key), refilled from the
 * slabs when the bin is empty; NULL (errno ENOMEM) when they have none. */
void *pcm_tcache_refill(unsigned cls, uintptr_t key);
/* Caches p (of class cls, marked free), draining the bin when full. */
void pcm_tcache_drain(unsigned cls);

PCM_INLINE void *pcm_tcache_get(unsigned cls, uintptr_t key)
{
	struct pcm_bin *b = &pcm_tcache_self.bins[cls];
	void *p = b->head;
	if (unlikely(!p))
		return pcm_tcache_refill(cls, key);
	b->head = pcm_link_get(p);
	b->count--;
	return p;
}

PCM_INLINE void pcm_tcache_put(unsigned cls, void *p)
{
	struct pcm_bin *b = &pcm_tcache_self.bins[cls];
	pcm_link_set(p, b->head);
	b->head = p;
	if (unlikely(++b->count > b->max))
		pcm_tcache_drain(cls);
}
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
