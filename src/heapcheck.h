/*
 * Invariant walks on demand: the checks the debug build runs after every
 * slow-path operation (debug.h), over the whole heap, in any build.  For
 * tests (unit tests, fuzzers, fault injection): a failed check writes
 * "pcmalloc: assertion failed at FILE:LINE: ..." and aborts, so run it in a
 * child to observe a failure.
 */
#ifndef PCM_HEAPCHECK_H
#define PCM_HEAPCHECK_H

#include "util.h"

PCM_BEGIN_DECLS

/* Checks every zone and every size class at `level` (2: counters, 3: also
 * the buddy free lists, dirty maps, partial slabs and their free lists),
 * taking each one's lock in turn; returns 0 when all hold.  Call with no
 * pcmalloc lock held; before start-up there is nothing to check. */
int pcm_check_heap(int level);

PCM_END_DECLS

#endif
