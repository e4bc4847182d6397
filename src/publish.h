/*
 * Publishing the statistics for pcmstat (the protocol is at struct pcm_pub
 * in snapshot.h), and the service the background worker gives on request:
 * a fresh snapshot for a reader, the report on a signal (stats_signal) or
 * every interval (stats_interval).
 */
#ifndef PCM_PUBLISH_H
#define PCM_PUBLISH_H

#include "util.h"

PCM_BEGIN_DECLS

/* At start-up (after the configuration): installs the signal handler and
 * registers the service with the background worker.  The page is mapped
 * later: when the first thread's caches are set up (after the process's
 * first slow-path calls, cache.c) or before the worker starts. */
void pcm_publish_init(int report_fd);
/* From malloc's slow path: the page is made at the PCM_PUBLISH_AFTER-th
 * call at the latest (for the calls no cache serves: secure mode's). */
#define PCM_PUBLISH_AFTER 64
extern int pcm_publish_waiting;
void pcm_publish_poll_slow(void);
PCM_INLINE void pcm_publish_poll(void)
{
	if (unlikely(__atomic_load_n(&pcm_publish_waiting, __ATOMIC_RELAXED)))
		pcm_publish_poll_slow();
}
/* In a fork child: a page of its own at the same address. */
void pcm_publish_after_fork_child(void);
/* Writes a fresh snapshot into the page (no-op without one). */
void pcm_publish_now(void);

PCM_END_DECLS

#endif
