/* Start-up, fork repair and exit report.  See lifecycle.h. */

#include "lifecycle.h"
#include "arena.h"
#include "background.h"
#include "buddy.h"
#include "cache.h"
#include "conf.h"
#include "fmt.h"
#include "huge.h"
#include "meta.h"
#include "os.h"
#include "percpu.h"
#include "prof.h"
#include "publish.h"
#include "secure.h"
#include "sizeclass.h"
#include "slab.h"
#include "stats.h"
#include "tcache.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

int pcm_init_state PCM_HOT;
static int report_fd = 2; /* stderr, kept open for the exit report */

static void after_fork_child(void);

PCM_NOINLINE void pcm_init_slow(void)
{
	int expect = PCM_INIT_NONE;
	if (!__atomic_compare_exchange_n(&pcm_init_state, &expect, PCM_INIT_RUNNING, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* Another thread is initialising: wait for it. */
		while (__atomic_load_n(&pcm_init_state, __ATOMIC_ACQUIRE) != PCM_INIT_DONE)
			__builtin_ia32_pause();
		return;
	}
	int saved = errno; /* start-up's system calls must not show */
	pcm_secret = (uintptr_t)pcm_os_random() | 1;
	pcm_conf_init();
	if (!pcm_conf.vma_names)
		pcm_os_names_off();
	pcm_sizeclass_init();
	pcm_zones_init();
	pcm_slabs_init();
	pcm_percpu_init_process();
	__atomic_store_n(&pcm_init_state, PCM_INIT_DONE, __ATOMIC_RELEASE);

	if (pcm_conf.stats || pcm_conf.stats_signal || pcm_conf.stats_interval_ns)
		report_fd = pcm_os_dup_fd(2);

	/* These two may allocate: the allocator is ready for it now. */
	pcm_cache_init_process();
	pthread_atfork(NULL, NULL, after_fork_child);
	pcm_publish_init(report_fd);

	if (pcm_conf.verbose)
		pcm_log("ready: %s caches%s%s, THP policy %s (kernel: %s), brk %s",
			!pcm_conf.tcache ? "no" : pcm_percpu_base ? "per-CPU (rseq)"
				: pcm_percpu_pending() ? "per-CPU (rseq, from the first calls)" : "per-thread",
			pcm_percpu_off_reason() && pcm_conf.tcache ? ": per-CPU off, " : "",
			pcm_percpu_off_reason() && pcm_conf.tcache ? pcm_percpu_off_reason() : "",
			pcm_conf.thp == 0 ? "never" : pcm_conf.thp == 1 ? "madvise" : "always",
			pcm_conf_sys_thp() == 0 ? "never" : pcm_conf_sys_thp() == 1 ? "madvise" : "always",
			pcm_conf.brk ? "on" : "off");
	if (pcm_conf.verbose)
		pcm_conf_print();
	errno = saved;
}

/* See lifecycle.h.  Runs in the child, in the thread that called fork(). */
static void after_fork_child(void)
{
	/* This thread's number, the same as in the parent (lock.h): what the
	 * locks it held there record; 0 when it never took one. */
	uint32_t forker = (uint32_t)pcm_tls_tid;

	/* Each layer repairs itself (pcm_lock_vanished), top down. */
	pcm_slabs_after_fork_child(forker);
	pcm_zones_after_fork_child(forker);
	pcm_arena_after_fork_child(forker);
	pcm_huge_after_fork_child(forker);
	pcm_prof_after_fork_child(forker);
	pcm_meta_after_fork_child(forker);
	pcm_secure_after_fork_child(forker);
	pcm_percpu_after_fork_child(forker);
	pcm_tcache_after_fork_child(forker);
	pcm_background_after_fork_child();
	pcm_publish_after_fork_child();
}

/* The heap profiler starts once libc is ready (see prof.h).  A program that
 * does not ask for it is not initialised from here. */
__attribute__((constructor)) static void at_start(void)
{
	char conf[512];
	if (!pcm_is_initialised() &&
	    (!pcm_os_getenv("PCMALLOC_CONF", conf, sizeof conf) || !strstr(conf, "prof")))
		return;
	pcm_init();
	if (pcm_conf.prof)
		pcm_prof_start();
}

__attribute__((destructor)) static void at_exit(void)
{
	pcm_prof_at_exit();
	if (pcm_is_initialised() && pcm_conf.stats)
		pcm_stats_print_conf(report_fd);
}
