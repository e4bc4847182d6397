/*
 * Fault injection, for a test build only (make fault: -DPCM_FAULT_INJECT).
 * The platform layer's memory calls (mmap, mremap, madvise, brk/sbrk,
 * mprotect) then fail on a schedule, as the kernel would under memory
 * pressure, commit limits or mlockall; every other build compiles the
 * checks away (PCM_OS_FAIL is the constant 0).
 */
#ifndef PCM_FAULT_H
#define PCM_FAULT_H

#include <stdint.h>
#include "util.h"

enum pcm_fault_kind {
	PCM_FAULT_MMAP,
	PCM_FAULT_MREMAP,
	PCM_FAULT_MADVISE,
	PCM_FAULT_BRK,
	PCM_FAULT_MPROTECT,
	PCM_NR_FAULTS
};

#ifdef PCM_FAULT_INJECT
PCM_BEGIN_DECLS
/* 1 when this call of that kind must fail (counts it either way). */
int pcm_fault_hit(unsigned kind);
/* The schedule: calls of the kinds in mask `kinds` (bit 1 << kind) fail,
 * every `every`-th of them when every > 0, else each with probability
 * permille / 1000 drawn from `seed` and the call's sequence number (the
 * same run fails the same calls).  kinds = 0 turns failures off.  Also set
 * from the environment at the first call: PCM_FAULT=kinds,every,permille,seed
 * (numbers; kinds a mask). */
void pcm_fault_set(unsigned kinds, unsigned every, unsigned permille,
		   uint64_t seed);
/* Calls seen and failures injected, per kind, since the start. */
void pcm_fault_counts(unsigned long calls[PCM_NR_FAULTS],
		      unsigned long fails[PCM_NR_FAULTS]);
PCM_END_DECLS
#define PCM_OS_FAIL(kind) unlikely(pcm_fault_hit(kind))
#else
#define PCM_OS_FAIL(kind) 0
#endif

#endif
