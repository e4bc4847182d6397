/*
 * The small-object caches in front of the slabs, behind one pop/push
 * interface: per-CPU caches on rseq (percpu.h) where the thread's rseq area
 * allows, else this file's thread caches: per thread, per size class, a
 * bounded free list of objects (encoded like slab free lists) refilled from
 * and drained to the slabs in batches.
 *
 * Either way a freed object's second word holds pcm_free_key, which makes a
 * double free cheap to suspect; the suspicion is then checked exactly.
 *
 * A thread's cache starts with every bin empty and bounded at 0, so its
 * first malloc and first free take the slow path, which sets it up.  At
 * thread exit the cache is flushed and left "dead": bounds stay 0, and the
 * thread's remaining calls go straight to the slabs.
 */
#ifndef PCM_TCACHE_H
#define PCM_TCACHE_H

#include "percpu.h"
#include "slab.h"
#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

extern __thread struct pcm_tcache pcm_tc PCM_TLS;

/* Slow paths. */
void *pcm_tcache_miss(size_t n);                 /* bin empty: refill, pop */
void pcm_tcache_overflow(unsigned cls, void *p); /* bin full: push, drain */
void pcm_tcache_suspect(unsigned cls, void *p);  /* word 1 == free key */
void pcm_tcache_free(unsigned cls, void *p);     /* per-thread mode's free */
/* Per-CPU free of an object that looks freed already: checks, then frees. */
void pcm_percpu_free_suspect(struct pcm_rseq *rs, unsigned cls, void *p);

PCM_INLINE void *pcm_tcache_pop(unsigned cls)
{
	struct pcm_bin *b = &pcm_tc.bins[cls];
	void *p = b->head;
	if (likely(p)) {
		b->head = pcm_link_get(p);
		b->count--;
		((uintptr_t *)p)[1] = 0; /* no longer looks freed */
	}
	return p;
}

PCM_INLINE void pcm_tcache_push(unsigned cls, void *p)
{
	struct pcm_bin *b = &pcm_tc.bins[cls];
	if (unlikely(((uintptr_t *)p)[1] == pcm_free_key))
		pcm_tcache_suspect(cls, p); /* returns unless a double free */
	if (unlikely(b->count >= b->max)) {
		pcm_tcache_overflow(cls, p);
		return;
	}
	pcm_link_set(p, b->head);
	((uintptr_t *)p)[1] = pcm_free_key;
	b->head = p;
	b->count++;
}

/* The interface the fast paths use: a cached object of class cls or NULL,
 * and giving one back. */
PCM_INLINE void *pcm_cache_pop(unsigned cls)
{
	struct pcm_rseq *rs = pcm_tc.rseq;
	if (likely(rs)) {
		void *p = pcm_percpu_pop(rs, cls);
		if (likely(p))
			((uintptr_t *)p)[1] = 0;
		return p;
	}
	return pcm_tcache_pop(cls);
}

PCM_INLINE void pcm_cache_push(unsigned cls, void *p)
{
	struct pcm_rseq *rs = pcm_tc.rseq;
	/* Every call below is a tail call: the fast path saves no registers. */
	if (unlikely(!rs)) {
		pcm_tcache_free(cls, p);
		return;
	}
	if (unlikely(((uintptr_t *)p)[1] == pcm_free_key)) {
		pcm_percpu_free_suspect(rs, cls, p);
		return;
	}
	((uintptr_t *)p)[1] = pcm_free_key;
	if (unlikely(!pcm_percpu_push(rs, cls, p)))
		pcm_percpu_overflow(rs, cls, p);
}

void pcm_tcache_flush(void);
void pcm_tcache_init_process(void);
/* Racy sums over live caches: objects and bytes cached, caches alive. */
void pcm_tcache_totals(size_t *objs, size_t *bytes, size_t *large_bytes,
		       size_t *threads);
/* Fork repair: only the calling thread's cache survives in the child. */
void pcm_tcache_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
