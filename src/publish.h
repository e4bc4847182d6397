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

/* At start-up (after the configuration): maps the page, installs the
 * signal handler, and registers the service with the background worker. */
void pcm_publish_init(int report_fd);
/* In a fork child: a page of its own at the same address. */
void pcm_publish_after_fork_child(void);
/* Writes a fresh snapshot into the page (no-op without one). */
void pcm_publish_now(void);

PCM_END_DECLS

#endif
