/*
 * pcm_lock: a futex mutex whose word is the owner's thread id.
 *
 * Knowing the owner is what makes fork safe without holding locks across
 * it: in the child, a lock owned by a thread that no longer exists guards a
 * structure that may be half-updated, and the child abandons that structure
 * (see lifecycle.c); a lock owned by the forking thread itself (fork from a
 * signal handler that interrupted pcmalloc) is left alone, and the
 * interrupted code finishes and releases it.
 */
#ifndef PCM_LOCK_H
#define PCM_LOCK_H

#include <stdint.h>

#include "util.h"

PCM_BEGIN_DECLS

#define PCM_LOCK_WAITERS 0x80000000u

typedef struct {
	uint32_t word; /* 0, or owner tid | PCM_LOCK_WAITERS */
} pcm_lock_t;

extern __thread int pcm_tls_tid PCM_TLS;
/* pcmalloc locks this thread holds now.  Non-zero on entry to the allocator
 * means the call comes from a signal handler that interrupted pcmalloc in
 * this thread (or, in a child, interrupted it before fork()): see
 * reentry.h.  Copied into a fork child with the thread that forks. */
extern __thread unsigned pcm_tls_locks PCM_TLS;
/* In a fork child, the forking thread's tid in the parent: what the locks
 * it held record. */
extern __thread int pcm_tls_parent_tid PCM_TLS;

int pcm_tid_slow(void);

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
					__ATOMIC_RELAXED))
		return 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pcm_tls_locks--;
	return 0;
}

/* 1 when this thread holds a pcmalloc lock (see pcm_tls_locks). */
static inline int pcm_reentered(void)
{
	return unlikely(pcm_tls_locks != 0);
}

static inline void pcm_unlock(pcm_lock_t *l)
{
	uint32_t old = __atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	pcm_tls_locks--;
	if (unlikely(old & PCM_LOCK_WAITERS))
		pcm_unlock_wake(l);
}

/* The owner's tid, 0 when free (a racy read: for fork repair and asserts). */
static inline uint32_t pcm_lock_owner(const pcm_lock_t *l)
{
	return __atomic_load_n(&l->word, __ATOMIC_RELAXED) & ~PCM_LOCK_WAITERS;
}

static inline void pcm_lock_reset(pcm_lock_t *l)
{
	__atomic_store_n(&l->word, 0, __ATOMIC_RELAXED);
}

PCM_END_DECLS

#endif
