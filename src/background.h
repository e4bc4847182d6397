/*
 * The background worker: gives memory back while the program runs, even
 * when it makes no further call.
 *
 * A thread, started lazily from an allocation or free slow path once the
 * process holds enough memory to matter (so short-lived and small programs
 * never get one), that every period
 *   - drains the CPU caches left untouched since its previous round, and
 *     the transfer caches (objects go back to their slabs, empty slabs to
 *     the buddy allocator);
 *   - once a second gives the classes' kept empty slabs back;
 *   - lets each zone's dirty memory decay (pcm_zone_maybe_purge);
 *   - once a second, collapses the slab regions that have waited for
 *     huge pages, dense, since the previous second (pcm_zone_collapse):
 *     neither a malloc nor a short phase of the program pays for the copy.
 * With nothing to do for a few rounds it sleeps on a futex until an
 * allocator slow path wakes it.  It blocks every signal.  In a fork child
 * it does not exist until it is needed again.  PCMALLOC_CONF=background:0
 * turns it off.
 */
#ifndef PCM_BACKGROUND_H
#define PCM_BACKGROUND_H

#include <stdint.h>

#include "util.h"

PCM_BEGIN_DECLS

enum pcm_bg_state { PCM_BG_NONE = 0, PCM_BG_RUNNING, PCM_BG_ASLEEP, PCM_BG_OFF };
extern int pcm_bg_state; /* enum pcm_bg_state */

void pcm_background_check_slow(int may_start);

/* From allocator slow paths, with no pcmalloc lock held: wakes the worker
 * if it sleeps, and with may_start starts it when there is memory for it to
 * look after.  Only malloc's slow path starts it: glibc frees memory while
 * holding locks that pthread_create takes (the stack cache's, when it
 * frees a cached thread's TLS), so a free must never create a thread. */
PCM_INLINE void pcm_background_check(int may_start)
{
	if (unlikely(__atomic_load_n(&pcm_bg_state, __ATOMIC_RELAXED) != PCM_BG_RUNNING))
		pcm_background_check_slow(may_start);
}

struct pcm_bg_totals {
	uint64_t rounds, drained_objs, purged_pages, wakeups;
	int state; /* enum pcm_bg_state */
};
void pcm_background_totals(struct pcm_bg_totals *t);

void pcm_background_after_fork_child(void);

/* The service the worker also gives (publish.h): fn runs each round, when
 * the worker is woken and (asleep) at least every interval_ns; with no
 * worker, from allocator slow paths while *req != *ack or after a kick.
 * shared_wake, if not NULL, replaces the worker's wake-up word (a word in
 * memory shared with other processes).  interval_ns starts the worker even
 * with little memory (or background:0). */
void pcm_background_set_service(void (*fn)(void), uint32_t *shared_wake,
				const uint32_t *req, const uint32_t *ack, uint64_t interval_ns);
/* fn runs before the worker starts (from a slow path, no lock held); it
 * returns 0 when the worker cannot start yet (another thread is preparing:
 * fn must never block). */
void pcm_background_set_prepare(int (*fn)(void));
/* Asks for the service soon (async-signal-safe). */
void pcm_background_kick(void);
extern int pcm_bg_service_pending; /* cleared by the service */

PCM_END_DECLS

#endif
