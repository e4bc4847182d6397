/*
 * Start-up, fork and exit.
 *
 * Start-up is lazy: the first call that needs the allocator's state runs
 * pcm_init(), which makes only system calls, so it works when the first
 * malloc comes from the dynamic loader or from a constructor that runs
 * before libc is set up.
 *
 * Fork: pcmalloc holds no lock across fork().  In the child, each lock is
 * examined: free, fine; held by the forking thread itself (fork() from a
 * signal handler that interrupted pcmalloc), left for the interrupted code
 * to finish; held by a thread that does not exist in the child, the
 * structure it guards may be half-updated, so the child abandons it (a
 * size class forgets its slabs, a zone its arenas) and starts afresh, leaking
 * what was there.  No deadlock is possible, in parent or child.
 */
#ifndef PCM_LIFECYCLE_H
#define PCM_LIFECYCLE_H

#include "util.h"

PCM_BEGIN_DECLS

enum pcm_init_state { PCM_INIT_NONE = 0, PCM_INIT_RUNNING, PCM_INIT_DONE };
extern int pcm_init_state; /* enum pcm_init_state */

void pcm_init_slow(void);

PCM_INLINE void pcm_init(void)
{
	if (unlikely(__atomic_load_n(&pcm_init_state, __ATOMIC_ACQUIRE) != PCM_INIT_DONE))
		pcm_init_slow();
}

PCM_INLINE int pcm_is_initialised(void)
{
	return __atomic_load_n(&pcm_init_state, __ATOMIC_ACQUIRE) == PCM_INIT_DONE;
}

PCM_END_DECLS

#endif
