/*
 * The debug build: PCM_DEBUG (make debug builds level 3; 0 by default).
 *
 *   0  release: none of the checks below run (they still compile: every
 *      check is an ordinary `if (PCM_DEBUG >= n)` the compiler drops, as
 *      jemalloc's `if (config_debug)`, so debug code cannot rot)
 *   1  cheap assertions: lock order and ownership (lock.h), arguments and
 *      counters at layer boundaries
 *   2  internal invariants after every slow-path operation: the O(1)
 *      consistency of the zone or size class it touched (pcm_zone_check,
 *      pcm_class_check at level 2)
 *   3  expensive walks after every slow-path operation: the zone's buddy
 *      free lists and dirty map, the size class's partial slabs and their
 *      free lists (the same checks at level 3)
 *
 * Misuse of the API (double free, bad pointer) is diagnosed in every build;
 * these are checks of pcmalloc's own invariants.  A failed check writes
 * "pcmalloc: assertion failed at FILE:LINE: EXPR (details)" with write(2),
 * formatting on the stack (fmt.c), and aborts: no allocation, no lock.
 *
 * pcm_check_heap() (heapcheck.h) runs the walks on demand in every build.
 */
#ifndef PCM_DEBUG_H
#define PCM_DEBUG_H

#include "util.h"

#ifndef PCM_DEBUG
#define PCM_DEBUG 0
#endif

PCM_BEGIN_DECLS

_Noreturn void pcm_assert_fail(const char *file, int line, const char *expr,
			       const char *fmt, ...)
	__attribute__((format(printf, 4, 5), cold));

PCM_END_DECLS

/* Checked in every build (invariant walks run on demand). */
#define PCM_VERIFY(cond, ...)                                                  \
	do {                                                                   \
		if (unlikely(!(cond)))                                         \
			pcm_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* Checked when PCM_DEBUG >= level. */
#define PCM_ASSERTF(level, cond, ...)                                          \
	do {                                                                   \
		if (PCM_DEBUG >= (level) && unlikely(!(cond)))                 \
			pcm_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

#define PCM_ASSERT(level, cond) PCM_ASSERTF(level, cond, "%s", "")

#endif
