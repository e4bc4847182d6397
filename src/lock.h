/*
 * pcm_lock: a futex mutex whose word is the owner's thread number.
 *
 * The number (pcm_tls_tid) is pcmalloc's own, not the kernel's tid: given
 * from a process-wide counter when a thread first takes a lock, so that no
 * system call (gettid) is made for it.  A fork child's thread keeps its
 * number (TLS is copied), and threads made in the child count on from
 * where the parent was, so a number is never that of another thread of the
 * process (unless 2^31 threads take locks while one of the first is alive).
 *
 * Knowing the owner is what makes fork safe without holding locks across
 * it: in the child, a lock owned by a thread that no longer exists guards a
 * structure that may be half-updated, and the child abandons or repairs that
 * structure (each layer's *_after_fork_child, called by lifecycle.c; they
 * all ask pcm_lock_vanished()); a lock owned by the forking thread itself
 * (fork from a signal handler that interrupted pcmalloc) is left alone, and
 * the interrupted code finishes and releases it.
 *
 * Lock order (outer first; a thread takes a lock only when every lock it
 * holds has a lower rank):
 *
 *   1. drain      percpu.c   drain_lock: draining CPU caches, region set-up
 *   2. xfer       percpu.c   a class's transfer cache (under drain: drain_xfer)
 *   3. class      slab.c     a size class's slabs (pcm_classes[c].lock)
 *   4. zone       buddy.c    a zone's free lists (pcm_zones[z].lock); a zone
 *                            holding its lock only *tries* the other zone's
 *                            (steal_arena), so the two need no order
 *   5. arena      arena.c    arena_lock: brk growth and shrinking
 *   6. registry   tcache.c   the thread-cache registry     } leaves: nothing
 *   6. huge       huge.c     the huge registry, counters   } is taken while
 *   6. meta       meta.c     the metadata record pool      } they are held
 *   7. prof       prof.c     the heap profiler's tables: innermost, as its
 *                            signal handler may interrupt any of the above
 *
 * In practice the class lock is released before the zone is called (slabs
 * are made and released outside it), and the transfer-cache lock before the
 * slabs are; the order above is what the code may rely on.  The debug build
 * (PCM_DEBUG >= 1) checks it: every lock has its rank, each thread counts
 * the locks it holds per rank (pcm_tls_ranks), and taking a lock while one
 * of the same or a higher rank is held aborts, naming both.  A trylock
 * never waits, so it is exempt from the order (it is still counted).
 */
#ifndef PCM_LOCK_H
#define PCM_LOCK_H

#include <stdint.h>

#include "debug.h"
#include "util.h"

PCM_BEGIN_DECLS

#define PCM_LOCK_WAITERS 0x80000000u

/* Ranks, outer first (the lock order above).  0: not ranked (not checked). */
enum pcm_lock_rank {
	PCM_RANK_NONE = 0,
	PCM_RANK_DRAIN,
	PCM_RANK_XFER,
	PCM_RANK_CLASS,
	PCM_RANK_ZONE,
	PCM_RANK_ARENA,
	PCM_RANK_LEAF, /* tcache registry, huge registry, meta pool */
	PCM_RANK_PROF,
	PCM_NR_RANKS
};

typedef struct {
	uint32_t word; /* 0, or owner tid | PCM_LOCK_WAITERS */
	uint32_t rank; /* enum pcm_lock_rank */
} pcm_lock_t;

#define PCM_LOCK_INIT(r) { 0, (r) }

static inline void pcm_lock_init(pcm_lock_t *l, enum pcm_lock_rank rank)
{
	l->word = 0;
	l->rank = rank;
}

/* This thread's number (0: none yet; pcm_self_tid). */
extern __thread int pcm_tls_tid PCM_TLS;
/* pcmalloc locks this thread holds now.  Non-zero on entry to the allocator
 * means the call comes from a signal handler that interrupted pcmalloc in
 * this thread (or, in a child, interrupted it before fork()): see
 * reentry.h.  Copied into a fork child with the thread that forks. */
extern __thread unsigned pcm_tls_locks PCM_TLS;
/* Debug builds: locks this thread holds, 4 bits of count per rank. */
extern __thread uint32_t pcm_tls_ranks PCM_TLS;

int pcm_tid_slow(void);
void pcm_lock_order_violation(const pcm_lock_t *l);

static inline uint32_t pcm_self_tid(void)
{
	int t = pcm_tls_tid;
	return (uint32_t)(likely(t) ? t : pcm_tid_slow());
}

void pcm_lock_slow(pcm_lock_t *l, uint32_t me);
void pcm_unlock_wake(pcm_lock_t *l);

static inline void pcm_lock(pcm_lock_t *l)
{
	uint32_t me = pcm_self_tid(), expect = 0;
	/* Counted before the lock is taken and uncounted after it is given
	 * back (signal fences keep the compiler to that order), so that a
	 * signal handler never finds a lock of its thread held uncounted. */
	pcm_tls_locks++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (PCM_DEBUG >= 1 && l->rank) {
		if (unlikely(pcm_tls_ranks >> (4 * l->rank)))
			pcm_lock_order_violation(l);
		pcm_tls_ranks += 1u << (4 * l->rank);
	}
	if (unlikely(!__atomic_compare_exchange_n(&l->word, &expect, me, 0,
						  __ATOMIC_ACQUIRE,
						  __ATOMIC_RELAXED)))
		pcm_lock_slow(l, me);
}

/* Takes l if it is free: 1, else 0 (never waits). */
static inline int pcm_trylock(pcm_lock_t *l)
{
	uint32_t me = pcm_self_tid(), expect = 0;
	pcm_tls_locks++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__atomic_compare_exchange_n(&l->word, &expect, me, 0, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED)) {
		if (PCM_DEBUG >= 1 && l->rank)
			pcm_tls_ranks += 1u << (4 * l->rank);
		return 1;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pcm_tls_locks--;
	return 0;
}

/* 1 when this thread holds a pcmalloc lock (see pcm_tls_locks). */
static inline int pcm_reentered(void)
{
	return unlikely(pcm_tls_locks != 0);
}

/* The owner's number, 0 when free (a racy read: for fork repair and asserts). */
static inline uint32_t pcm_lock_owner(const pcm_lock_t *l)
{
	return __atomic_load_n(&l->word, __ATOMIC_RELAXED) & ~PCM_LOCK_WAITERS;
}

/* 1 when this thread holds l (in a fork child: held by the forking thread
 * in the parent, which this thread is: same number). */
static inline int pcm_lock_held(const pcm_lock_t *l)
{
	uint32_t owner = pcm_lock_owner(l);
	return owner && owner == pcm_self_tid();
}

static inline void pcm_unlock(pcm_lock_t *l)
{
	PCM_ASSERTF(1, pcm_lock_held(l), "unlock of lock %p owned by thread %u",
		    (const void *)l, pcm_lock_owner(l));
	if (PCM_DEBUG >= 1 && l->rank)
		pcm_tls_ranks -= 1u << (4 * l->rank);
	uint32_t old = __atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pcm_tls_locks--;
	if (unlikely(old & PCM_LOCK_WAITERS))
		pcm_unlock_wake(l);
}

/* Fork repair, in the child: 1 when l is held by a thread that does not
 * exist in the child (neither free nor held by forker, the forking
 * thread's number, 0 when it has none): the structure it guards may be
 * half-updated. */
static inline int pcm_lock_vanished(const pcm_lock_t *l, uint32_t forker)
{
	uint32_t owner = pcm_lock_owner(l);
	return owner && owner != forker;
}

/* Fork repair: 1 when l is held by the forking thread itself (fork from a
 * signal handler that interrupted pcmalloc): the interrupted code finishes
 * the update and releases l. */
static inline int pcm_lock_forker_holds(const pcm_lock_t *l, uint32_t forker)
{
	return pcm_lock_owner(l) && !pcm_lock_vanished(l, forker);
}

static inline void pcm_lock_reset(pcm_lock_t *l)
{
	__atomic_store_n(&l->word, 0, __ATOMIC_RELAXED);
}

PCM_END_DECLS

#endif
