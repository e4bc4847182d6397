/*
 * Calls that re-enter pcmalloc from a signal handler.
 *
 * malloc is not async-signal-safe, but programs do call it from handlers,
 * and glibc lets a program fork() from a handler: the child then runs the
 * handler's code with the interrupted allocator call half done and its
 * locks held by this very thread, which would wait for itself forever.
 *
 * pcm_reentered() (lock.h) tells, at no cost to the fast paths, that this
 * thread holds a pcmalloc lock.  Then the API serves an allocation from a
 * fresh mapping of its own, recorded in a small lock-free table so that
 * free, realloc and malloc_usable_size know it later; a free that would
 * need a lock is left undone (the block leaks: never a hang, never a
 * corrupted structure).  The rseq fast paths need no such care: a signal
 * restarts the sequence it interrupts.
 */
#ifndef PCM_REENTRY_H
#define PCM_REENTRY_H

#include <stddef.h>

#include "util.h"

PCM_BEGIN_DECLS

/* A block of at least n bytes aligned to align, from a mapping of its own;
 * NULL (ENOMEM) when the OS or the table has no room. */
void *pcm_reentry_alloc(size_t n, size_t align);

/* Usable size of such a block, or 0 when p is not one. */
size_t pcm_reentry_usable(const void *p);

/* Unmaps p if it is such a block: 1, else 0. */
int pcm_reentry_free(void *p);

PCM_END_DECLS

#endif
