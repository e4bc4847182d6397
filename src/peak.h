/*
 * Peaks of the memory figures, kept where the figures grow (slow paths
 * only: arena creation, huge mappings, metadata chunks, pages handed out by
 * the buddy allocator), so that a report can show the highest value, not
 * only the current one.  The bottom layer: every other layer may call it.
 *
 *   mapped    arenas + huge mappings + metadata chunks: exact.
 *   resident  the report's estimate (pages in use or dirty in the arenas,
 *             their descriptors, huge mappings, metadata): updated each
 *             time pages are handed out or purged, so exact up to races
 *             between the two zones.
 */
#ifndef PCM_PEAK_H
#define PCM_PEAK_H

#include <stddef.h>
#include <sys/types.h>
#include "util.h"

PCM_BEGIN_DECLS

struct pcm_peaks {
	size_t mapped, mapped_peak;     /* bytes */
	size_t direct;                  /* huge + metadata bytes (resident) */
	size_t arena_pages;             /* the buddy's resident pages, last seen */
	size_t resident_peak;           /* bytes */
};
extern struct pcm_peaks pcm_peaks;

/* An arena mapped (+) or unmapped (-). */
void pcm_peak_mapped_add(ssize_t delta);
/* A huge mapping or metadata chunk: mapped and resident. */
void pcm_peak_direct_add(ssize_t delta);
/* The buddy allocator's resident pages (used + dirty + descriptors, both
 * zones) after a change. */
void pcm_peak_arena_pages(size_t pages);
/* *peak = max(*peak, v), atomically. */
void pcm_peak_note(size_t *peak, size_t v);

PCM_END_DECLS

#endif
