/*
 * Zero-size blocks.  malloc(0) returns a unique pointer into one reserved,
 * inaccessible arena-sized region (PROT_NONE past its descriptors, which
 * stay zero: every pointer into it reaches the slow paths), so reading or
 * writing through it faults, before and after free.  A bitmap beside it
 * says which 16-byte slots are live: free, realloc and malloc_usable_size
 * accept them (usable size 0), and a second free is diagnosed.  Lock-free
 * (atomic bitmap and bump index), so fork and signal handlers need nothing.
 */
#ifndef PCM_ZERO_H
#define PCM_ZERO_H

#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

/* pcm_arena.zone of the zero region (not a buddy zone). */
#define PCM_ZONE_ZERO 0xff

/* A new zero-size block, or NULL (ENOMEM) when no address space is left. */
void *pcm_zero_alloc(void);

/* 1 when a (an arena) is the zero region. */
PCM_INLINE int pcm_zero_arena(const struct pcm_arena *a)
{
	return a->zone == PCM_ZONE_ZERO;
}

/* Frees zero-size block p of the zero region; diagnoses a pointer that is
 * not a live one, naming `call`. */
void pcm_zero_free(const char *call, void *p);

/* Checks that p is a live zero-size block (diagnoses, naming `call`). */
void pcm_zero_check(const char *call, const void *p);

PCM_END_DECLS

#endif
