/* Slow paths of pcm_lock (lock.h): spin briefly, then sleep on the futex. */
#include "lock.h"
#include "fmt.h"
#include "os.h"

__thread int pcm_tls_tid PCM_TLS;
__thread unsigned pcm_tls_locks PCM_TLS;
__thread uint32_t pcm_tls_ranks PCM_TLS;

/* Waiting for a lock this thread holds itself can only hang: a signal
 * handler re-entered pcmalloc on a path that does not check
 * pcm_reentered().  Say so and stop. */
PCM_COLD static void self_deadlock(const pcm_lock_t *l)
{
	pcm_fatal("lock %p is held by this thread: pcmalloc was re-entered from "
		  "a signal handler that interrupted it (malloc is not "
		  "async-signal-safe)", (const void *)l);
}

static const char rank_names[PCM_NR_RANKS][16] = {
	"unranked", "drain", "transfer-cache", "class", "zone", "arena", "leaf",
	"profiler",
};

/* Debug builds: a lock taken while one of the same or a higher rank is held
 * (see the order in lock.h). */
PCM_COLD void pcm_lock_order_violation(const pcm_lock_t *l)
{
	if (pcm_lock_held(l))
		self_deadlock(l);
	unsigned held = 0;
	for (unsigned r = PCM_NR_RANKS - 1; r > 0 && !held; r--)
		if (pcm_tls_ranks >> (4 * r) & 15)
			held = r;
	pcm_assert_fail(__FILE__, __LINE__, "lock order",
			"taking %s lock %p while holding a %s lock",
			rank_names[l->rank < PCM_NR_RANKS ? l->rank : 0],
			(const void *)l, rank_names[held]);
}

/* The last thread number given (lock.h). */
static uint32_t last_tid PCM_HOT;

int pcm_tid_slow(void)
{
	uint32_t t;
	do /* 31 bits: the word's top bit is PCM_LOCK_WAITERS; never 0 */
		t = __atomic_add_fetch(&last_tid, 1, __ATOMIC_RELAXED) & ~PCM_LOCK_WAITERS;
	while (!t);
	pcm_tls_tid = (int)t;
	return pcm_tls_tid;
}

PCM_NOINLINE void pcm_lock_slow(pcm_lock_t *l, uint32_t me)
{
	uint32_t owner = pcm_lock_owner(l);
	/* This acquisition is counted already: holding the lock too means
	 * a count of two at least. */
	if (pcm_tls_locks > 1 && owner == me)
		self_deadlock(l);
	for (int spin = 0; spin < 100; spin++) {
		uint32_t expect = 0;
		if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->word, &expect, me, 0,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		__builtin_ia32_pause();
	}
	for (;;) {
		uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
		if (v == 0) {
			/* Others may be asleep: keep the waiters bit. */
			if (__atomic_compare_exchange_n(&l->word, &v,
							me | PCM_LOCK_WAITERS, 0,
							__ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return;
			continue;
		}
		if (!(v & PCM_LOCK_WAITERS) &&
		    !__atomic_compare_exchange_n(&l->word, &v, v | PCM_LOCK_WAITERS,
						 0, __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
			continue;
		pcm_os_futex_wait(&l->word, v | PCM_LOCK_WAITERS);
	}
}

PCM_NOINLINE void pcm_unlock_wake(pcm_lock_t *l)
{
	pcm_os_futex_wake(&l->word);
}
