/* The background worker.  See background.h. */
#include "background.h"
#include "secure.h"
#include "buddy.h"
#include "conf.h"
#include "lock.h"
#include "os.h"
#include "percpu.h"
#include "slab.h"

int pcm_bg_state PCM_HOT;

static uint32_t wake_word; /* bumped by every wake-up (futex) */
/* The word the worker sleeps on: wake_word, or one in the page published
 * for pcmstat (shared with other processes: shared futex operations). */
static uint32_t *wake = &wake_word;
static int wake_shared PCM_HOT;
/* The service (publish.h): run by the worker, or from a slow path when
 * there is no worker, whenever service_needed(). */
static void (*service_fn)(void) PCM_HOT;
static const uint32_t *svc_req PCM_HOT, *svc_ack PCM_HOT;
static uint64_t svc_interval_ns PCM_HOT;
static int (*prepare_fn)(void) PCM_HOT;
int pcm_bg_service_pending PCM_HOT;

static int service_needed(void)
{
	/* svc_req is set last (release): with it, svc_ack is there. */
	const uint32_t *req = __atomic_load_n(&svc_req, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&pcm_bg_service_pending, __ATOMIC_RELAXED) ||
	       (req && __atomic_load_n(req, __ATOMIC_ACQUIRE) !=
			       __atomic_load_n(__atomic_load_n(&svc_ack, __ATOMIC_RELAXED), __ATOMIC_RELAXED));
}

/* The service's settings are set once, possibly while other threads'
 * slow paths read them (the page is made lazily, publish.c): every access
 * is atomic; service_fn is stored last (release), so a reader that loads
 * it (service()) sees the rest. */
static void (*service(void))(void)
{
	return __atomic_load_n(&service_fn, __ATOMIC_ACQUIRE);
}

static uint64_t interval(void)
{
	return __atomic_load_n(&svc_interval_ns, __ATOMIC_RELAXED);
}

static uint32_t *wake_word_now(void)
{
	return __atomic_load_n(&wake, __ATOMIC_RELAXED);
}

static void wait_wake(uint32_t w, uint64_t timeout_ns)
{
	uint32_t *word = wake_word_now();
	if (__atomic_load_n(&wake_shared, __ATOMIC_RELAXED))
		pcm_os_futex_wait_shared(word, w, timeout_ns);
	else if (timeout_ns)
		pcm_os_sleep_ns(timeout_ns);
	else
		pcm_os_futex_wait(word, w);
}

static void wake_up(void)
{
	uint32_t *word = wake_word_now();
	__atomic_fetch_add(word, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&wake_shared, __ATOMIC_RELAXED))
		pcm_os_futex_wake_shared(word);
	else
		pcm_os_futex_wake(word);
}

void pcm_background_set_service(void (*fn)(void), uint32_t *shared_wake,
				const uint32_t *req, const uint32_t *ack, uint64_t interval_ns)
{
	__atomic_store_n(&wake, shared_wake ? shared_wake : &wake_word, __ATOMIC_RELAXED);
	__atomic_store_n(&wake_shared, shared_wake != NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&svc_ack, ack, __ATOMIC_RELAXED);
	__atomic_store_n(&svc_req, req, __ATOMIC_RELEASE);
	__atomic_store_n(&svc_interval_ns, interval_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&service_fn, fn, __ATOMIC_RELEASE);
}

void pcm_background_set_prepare(int (*fn)(void))
{
	__atomic_store_n(&prepare_fn, fn, __ATOMIC_RELEASE);
}

void pcm_background_kick(void)
{
	__atomic_store_n(&pcm_bg_service_pending, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&pcm_bg_state, __ATOMIC_RELAXED) == PCM_BG_ASLEEP ||
	    __atomic_load_n(&pcm_bg_state, __ATOMIC_RELAXED) == PCM_BG_RUNNING)
		wake_up();
}
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
	int second = rounds % (1000000000ull / PERIOD_NS) == 0; /* once a second */
	if (second) {
		if (pcm_conf.secure) /* blocks wait a second at most */
			pcm_secure_drain();
		pcm_slab_release_empty();
	}
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		size_t done = pcm_zone_maybe_purge(&pcm_zones[z], 1);
		__atomic_fetch_add(&purged_pages, done, __ATOMIC_RELAXED);
		work += done;
		/* A region is collapsed once it has waited, dense, from one
		 * second's pass to the next: a collapse copies the region
		 * while the program's accesses to it wait, which a short
		 * phase of the program would pay for without gaining. */
		if (second) {
			size_t ripening;
			work += pcm_zone_collapse(&pcm_zones[z], &ripening) + ripening;
		}
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
		if (pcm_conf.background)
			idle = one_round() ? 0 : idle + 1;
		else /* started only for the service (stats_interval) */
			idle = IDLE_ROUNDS;
		void (*fn)(void) = service();
		if (fn)
			fn();
		if (idle < IDLE_ROUNDS) {
			/* A reader of the published page may wake us early. */
			wait_wake(__atomic_load_n(wake_word_now(), __ATOMIC_SEQ_CST), PERIOD_NS);
			continue;
		}
		/* Asleep until a slow path wakes us: it moves the state back
		 * to running first, then bumps the word, so a wake-up between
		 * our reading the word and waiting is not lost. */
		__atomic_store_n(&pcm_bg_state, PCM_BG_ASLEEP, __ATOMIC_SEQ_CST);
		for (;;) {
			uint32_t w = __atomic_load_n(wake_word_now(), __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&pcm_bg_state, __ATOMIC_SEQ_CST) != PCM_BG_ASLEEP)
				break;
			fn = service();
			if (fn && (interval() || service_needed())) {
				fn();
				if (service_needed())
					continue;
			}
			wait_wake(w, interval());
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
			wake_up();
			__atomic_fetch_add(&wakeups, 1, __ATOMIC_RELAXED);
		}
		return;
	}
	/* No worker: a reader waiting for a snapshot, or a report a signal
	 * handler could not write, is served here (no lock held). */
	void (*fn)(void) = service();
	if (fn && !pcm_reentered() && service_needed())
		fn();
	if (st != PCM_BG_NONE || !may_start || pcm_reentered())
		return;
	if (!pcm_conf.background && !interval()) {
		__atomic_store_n(&pcm_bg_state, PCM_BG_OFF, __ATOMIC_RELAXED);
		return;
	}
	/* Started by the memory to look after, by stats_interval, or once a
	 * reader (pcmstat) has asked for a snapshot: it answers the next
	 * requests at once. */
	const uint32_t *req = __atomic_load_n(&svc_req, __ATOMIC_ACQUIRE);
	if (pcm_zones_held_pages() < (START_BYTES >> PCM_PAGE_SHIFT) && !interval() &&
	    !(req && __atomic_load_n(req, __ATOMIC_RELAXED)))
		return;
	int (*prepare)(void) = __atomic_load_n(&prepare_fn, __ATOMIC_ACQUIRE);
	if (prepare && !prepare())
		return; /* another thread prepares: a later call starts it */
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
