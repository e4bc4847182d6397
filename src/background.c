/* The background worker.  See background.h. */
#include "background.h"
#include "buddy.h"
#include "conf.h"
#include "lock.h"
#include "os.h"
#include "percpu.h"
#include "slab.h"

int pcm_bg_state;

static uint32_t wake_word; /* bumped by every wake-up (futex) */
static uint64_t rounds, drained_objs, purged_pages, wakeups;

#define START_BYTES (16ul << 20) /* memory held before a worker pays off */
#define PERIOD_NS 250000000ull   /* between rounds while there is work */
#define IDLE_ROUNDS 8            /* rounds with nothing done before sleeping */

/* One round; returns how much it did (objects drained, pages purged, and
 * dirty pages still decaying). */
static size_t one_round(void)
{
	size_t work = pcm_percpu_drain(1);
	__atomic_fetch_add(&drained_objs, work, __ATOMIC_RELAXED);
	if (rounds % (1000000000ull / PERIOD_NS) == 0)
		pcm_slab_release_empty();
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		size_t done = pcm_zone_maybe_purge(&pcm_zones[z], 1);
		__atomic_fetch_add(&purged_pages, done, __ATOMIC_RELAXED);
		work += done;
		/* Dirty memory still decaying keeps us awake, unless the
		 * kernel refuses to purge it (mlockall): then it never will. */
		work += pcm_zone_decaying_pages(&pcm_zones[z]);
	}
	__atomic_fetch_add(&rounds, 1, __ATOMIC_RELAXED);
	return work;
}

static void *worker(void *arg)
{
	(void)arg;
	unsigned idle = 0;
	for (;;) {
		idle = one_round() ? 0 : idle + 1;
		if (idle < IDLE_ROUNDS) {
			pcm_os_sleep_ns(PERIOD_NS);
			continue;
		}
		/* Asleep until a slow path wakes us: it moves the state back
		 * to running first, then bumps the word, so a wake-up between
		 * our reading the word and waiting is not lost. */
		__atomic_store_n(&pcm_bg_state, PCM_BG_ASLEEP, __ATOMIC_SEQ_CST);
		for (;;) {
			uint32_t w = __atomic_load_n(&wake_word, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&pcm_bg_state, __ATOMIC_SEQ_CST) != PCM_BG_ASLEEP)
				break;
			pcm_os_futex_wait(&wake_word, w);
		}
		idle = 0;
	}
	return NULL;
}

PCM_NOINLINE void pcm_background_check_slow(int may_start)
{
	int st = __atomic_load_n(&pcm_bg_state, __ATOMIC_RELAXED);
	if (st == PCM_BG_ASLEEP) {
		if (__atomic_compare_exchange_n(&pcm_bg_state, &st, PCM_BG_RUNNING, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			__atomic_fetch_add(&wake_word, 1, __ATOMIC_SEQ_CST);
			pcm_os_futex_wake(&wake_word);
			__atomic_fetch_add(&wakeups, 1, __ATOMIC_RELAXED);
		}
		return;
	}
	if (st != PCM_BG_NONE || !may_start || pcm_reentered())
		return;
	if (!pcm_conf.background) {
		__atomic_store_n(&pcm_bg_state, PCM_BG_OFF, __ATOMIC_RELAXED);
		return;
	}
	if (pcm_zones_held_pages() < (START_BYTES >> PCM_PAGE_SHIFT))
		return;
	if (!__atomic_compare_exchange_n(&pcm_bg_state, &st, PCM_BG_RUNNING, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return;
	if (pcm_os_thread_start(worker, "pcmalloc-bg") != 0)
		__atomic_store_n(&pcm_bg_state, PCM_BG_OFF, __ATOMIC_RELAXED);
}

void pcm_background_totals(struct pcm_bg_totals *t)
{
	t->rounds = __atomic_load_n(&rounds, __ATOMIC_RELAXED);
	t->drained_objs = __atomic_load_n(&drained_objs, __ATOMIC_RELAXED);
	t->purged_pages = __atomic_load_n(&purged_pages, __ATOMIC_RELAXED);
	t->wakeups = __atomic_load_n(&wakeups, __ATOMIC_RELAXED);
	t->state = __atomic_load_n(&pcm_bg_state, __ATOMIC_RELAXED);
}

void pcm_background_after_fork_child(void)
{
	/* The worker is not in the child: started again when needed (its
	 * locks, if it held any, are repaired like any vanished thread's). */
	if (pcm_bg_state != PCM_BG_OFF)
		pcm_bg_state = PCM_BG_NONE;
}
