/*
 * The sampling heap profiler (PCMALLOC_CONF=prof:1, prof_rate:BYTES).
 *
 * Sampling: each thread counts down the bytes it allocates; when the count
 * passes zero the allocation is sampled and a new distance is drawn from an
 * exponential distribution of mean prof_rate, so that every byte has the
 * same chance of being sampled and a block of n bytes is sampled with
 * probability 1 - exp(-n / prof_rate), independently of the others (what
 * google-pprof's "heap_v2/RATE" un-sampling assumes).
 *
 * Hooks: profiling turns the caches off (tcache:0), so every malloc and free
 * reaches a slow path; the hooks sit there (api.c's slow paths, cache.c's
 * cache-less free) behind one test of pcm_prof_on.  The fast paths are
 * untouched: with prof:0 the profiler costs nothing there.
 *
 * Stacks: glibc's backtrace(3) (DWARF unwind tables through libgcc_s, which
 * glibc loads on its first call: done once at start-up, from a constructor,
 * before sampling is switched on; later calls do not allocate).  Leading
 * frames inside pcmalloc are cut: the build puts all of pcmalloc's code in a
 * section of its own, pcm_text (see the Makefile), whose bounds the linker
 * provides.  At most PCM_PROF_DEPTH frames are kept.
 *
 * Knowing, on free, that a block was sampled: a fixed open-addressing table
 * of live samples keyed by address, in the profiler's own mapping; a free
 * looks its pointer up there (one hashed probe, usually an empty slot) before
 * the block is given back, so that no other thread can have been handed the
 * same address yet.  A count of live samples per home slot, read without
 * the lock, answers "not sampled" for most frees; the table lock is taken
 * only on an insert and when that count is not zero.
 *
 * Dumps: at exit, on prof_signal, and by pcmalloc_prof_dump(path), in the
 * legacy text format google-pprof reads: "heap profile: ... @ heap_v2/RATE",
 * one line per live sample ("1: size [1: size] @ pc..."), one line per stack
 * with the samples already freed ("0: 0 [n: bytes] @ pc..."), then
 * MAPPED_LIBRARIES: and /proc/self/maps.  Written without allocating.
 */
#ifndef PCM_PROF_H
#define PCM_PROF_H

#include <stddef.h>
#include "util.h"

PCM_BEGIN_DECLS

#define PCM_PROF_DEPTH 32

extern int pcm_prof_on;

void pcm_prof_sample(void *p, size_t n);
void pcm_prof_forget(void *p);

/* After an allocation of n bytes that returned p (in a slow path). */
PCM_INLINE void *pcm_prof_alloc(void *p, size_t n)
{
	if (unlikely(pcm_prof_on) && p)
		pcm_prof_sample(p, n);
	return p;
}

/* Before p is given back (in a slow path). */
PCM_INLINE void pcm_prof_free(void *p)
{
	if (unlikely(pcm_prof_on))
		pcm_prof_forget(p);
}

/* Switches sampling on (lifecycle.c's constructor, when prof:1): maps the
 * tables and calls backtrace() once, which loads libgcc_s.  Allocations made
 * before (by the dynamic loader, by constructors that ran first) are not
 * sampled. */
void pcm_prof_start(void);
/* The dump at exit (lifecycle.c's destructor). */
void pcm_prof_at_exit(void);
/* Writes the profile to path: 0, or -1 (errno EINVAL when off). */
int pcm_prof_dump_path(const char *path);
/* Fork repair (lifecycle.c). */
void pcm_prof_after_fork_child(unsigned forker_tid);

PCM_END_DECLS

#endif
