/*
 * The small-object cache front end: the inline pop and push that malloc
 * and free use, the protocol of a freed object's key word, and the slow
 * paths' entry points.  Two backends sit beneath it as siblings that never
 * call each other:
 *
 *   percpu.h   per-CPU caches on rseq, the default where the kernel has rseq
 *   tcache.h   per-thread caches, where a thread cannot use the per-CPU ones
 *
 * Dispatch costs the fast path nothing: every thread has an rseq pointer,
 * and a thread not served by the per-CPU caches (not yet set up, per-thread
 * mode, caches off, exiting) points it at a stand-in whose slot index
 * selects the null region, where every pop and push fails (percpu.h).  The
 * slow path (cache.c) then serves it from its own backend.
 *
 * The key word.  Word 1 of a free object that sits in a cache holds the
 * key; an object handed out has word 1 == 0 until the program writes it.
 *   free:   word 1 == key already -> suspected double free, checked exactly
 *           (every cache and the slab) before anything else; else word 1 :=
 *           key and push.
 *   malloc: pop, then word 1 ^= key, which clears it when intact; a non-zero
 *           result means the word was written while the object was free (a
 *           write after free, or a double free whose first copy was handed
 *           out and written): diagnosed.
 * The key is the thread-pointer offset of this file's TLS block: the same in
 * every thread, never a valid heap value, and already in a register on the
 * fast path (the TLS access needs it), so neither check loads anything.
 * Free-list links (word 0) stay encoded (slab.h).
 *
 * The size class is computed once, at the API's entry (pcm_cache_class()
 * for up to PCM_FAST_MAX bytes, from a copy of sizeclass.h's table kept in
 * TLS so that its address costs nothing), and passed down to the slabs.
 */
#ifndef PCM_CACHE_H
#define PCM_CACHE_H

#include "percpu.h"
#include "sizeclass.h"
#include "util.h"

PCM_BEGIN_DECLS

/* The front end's per-thread state. */
enum pcm_cache_state {
	PCM_CACHE_NEW = 0, /* no call has set the thread up yet */
	PCM_CACHE_PERCPU,  /* served by the per-CPU caches */
	PCM_CACHE_THREAD,  /* served by its per-thread cache (tcache.h) */
	PCM_CACHE_OFF,     /* caches disabled, or the thread is exiting */
};

struct pcm_cache_tls {
	struct pcm_rseq *rseq; /* first: the fast path reads it at the key */
	uint8_t state;         /* enum pcm_cache_state */
	struct pcm_rseq own;   /* this thread's stand-in (reads -1) */
	uint8_t class_of[PCM_FAST_MAX + 1]; /* = pcm_class_small */
};

extern __thread struct pcm_cache_tls pcm_tc PCM_TLS;

/* The key: pcm_tc's offset from the thread pointer (constant). */
PCM_INLINE uintptr_t pcm_cache_key(void)
{
	uintptr_t k;
	__asm__("movq pcm_tc@gottpoff(%%rip), %0" : "=r"(k));
	return k;
}

/* ---- the key word protocol ---- */

PCM_INLINE uintptr_t *pcm_obj_word(void *p)
{
	return (uintptr_t *)p + 1;
}

/* p is going into a cache. */
PCM_INLINE void pcm_obj_mark_free(void *p, uintptr_t key)
{
	*pcm_obj_word(p) = key;
}

/* p goes to the program without having been in a cache. */
PCM_INLINE void pcm_obj_mark_live(void *p)
{
	*pcm_obj_word(p) = 0;
}

/* p leaves a cache for the program: 1 when its key word was intact
 * (cleared now), 0 when written while p was free. */
PCM_INLINE int pcm_obj_take(void *p, uintptr_t key)
{
#if PCM_CHECKS
	int bad;
	__asm__("xorq %[k], %[w]" : [w] "+m"(*pcm_obj_word(p)), "=@ccnz"(bad)
		: [k] "r"(key));
	return !bad;
#else
	(void)key;
	pcm_obj_mark_live(p);
	return 1;
#endif
}

/* p looks freed already (suspected double free). */
PCM_INLINE int pcm_obj_looks_free(void *p, uintptr_t key)
{
	return *pcm_obj_word(p) == key;
}

/* ---- slow paths (cache.c) ---- */

/* The cache missed: an object of class cls (word 1 cleared), or NULL with
 * errno ENOMEM.  The allocator must be started (the API does it). */
void *pcm_cache_miss(unsigned cls);
/* The push failed (full, stopped, or the thread not on per-CPU caches).
 * (p first: free's argument register stays where it is.) */
void pcm_cache_overflow(void *p, unsigned long cls);
/* free of p whose key word matches: diagnoses a double free, else frees. */
void pcm_cache_suspect(void *p, unsigned long cls);
/* malloc popped p with its key word written while free: diagnoses. */
void *pcm_cache_corrupt(unsigned cls, void *p);

/* ---- the fast paths ---- */

/* Class of n <= PCM_FAST_MAX bytes, from the thread's copy of the table. */
PCM_INLINE unsigned pcm_cache_class(size_t n, uintptr_t key)
{
	return *(const uint8_t __seg_fs *)(key + __builtin_offsetof(struct pcm_cache_tls, class_of) + n);
}

PCM_INLINE struct pcm_rseq *pcm_cache_rseq(uintptr_t key)
{
	return *(struct pcm_rseq *const __seg_fs *)key;
}

/* Pops an object of class cls from the cache into *out (its key word
 * checked and cleared): 1, or 0 when the cache has none and the caller
 * takes a slow path (pcm_cache_miss once the allocator is started).  The
 * one pop sequence of every entry point: malloc, operator new, and the
 * slow path's for classes above PCM_FAST_MAX. */
PCM_INLINE int pcm_cache_try(unsigned cls, uintptr_t key, void **out)
{
	void *p;
	if (unlikely(!pcm_percpu_pop(pcm_cache_rseq(key), cls, &p)))
		return 0;
	*out = likely(pcm_obj_take(p, key)) ? p : pcm_cache_corrupt(cls, p);
	return 1;
}

/* pcm_cache_try() for n <= PCM_FAST_MAX bytes, whose class it leaves in
 * *cls for the miss path. */
PCM_INLINE int pcm_cache_try_size(size_t n, unsigned *cls, void **out)
{
	uintptr_t key = pcm_cache_key();
	*cls = pcm_cache_class(n, key);
	return pcm_cache_try(*cls, key, out);
}

/* Gives p (of class cls) back to the cache.  Every call below is a tail
 * call: the fast path saves no registers. */
PCM_INLINE void pcm_cache_push(void *p, unsigned long cls)
{
	uintptr_t key = pcm_cache_key();
	if (unlikely(pcm_obj_looks_free(p, key))) {
		pcm_cache_suspect(p, cls);
		return;
	}
	pcm_obj_mark_free(p, key);
	if (unlikely(!pcm_percpu_push(pcm_cache_rseq(key), cls, p)))
		pcm_cache_overflow(p, cls);
}

/* ---- set-up, flush, statistics, fork ---- */

/* After start-up (may allocate): the thread-exit hook. */
void pcm_cache_init_process(void);
/* fn runs at each thread's set-up (its first slow path after the warm-up,
 * cache.c), with no lock held; it must not allocate. */
void pcm_cache_set_setup_hook(void (*fn)(void));
/* The calling thread's own cache goes back to the slabs (malloc_trim). */
void pcm_cache_flush(void);

PCM_END_DECLS

#endif
