/* The cache front end's slow paths, thread set-up and exit.  See cache.h. */

#include "cache.h"
#include "background.h"
#include "conf.h"
#include "fmt.h"
#include "lock.h"
#include "prof.h"
#include "secure.h"
#include "slab.h"
#include "tcache.h"

#include <errno.h>
#include <pthread.h>

__thread struct pcm_cache_tls pcm_tc PCM_TLS = {
	.rseq = &pcm_rseq_stand_in,
	.own = PCM_RSEQ_STAND_IN_INIT,
	.class_of = PCM_CLASS_SMALL_INIT,
};

static pthread_key_t exit_key PCM_HOT;
static int exit_key_ok PCM_HOT;

static void thread_exit(void *arg);

void pcm_cache_init_process(void)
{
	if (pthread_key_create(&exit_key, thread_exit) == 0)
		__atomic_store_n(&exit_key_ok, 1, __ATOMIC_RELEASE);
}

/*
 * The warm-up.  The process's first WARMUP_CALLS slow-path calls (in all its
 * threads together) are served straight from the slabs, one object at a
 * time, and leave the thread unset (PCM_CACHE_NEW): a program that makes a
 * handful of allocations neither makes the per-CPU regions (a sysfs read,
 * an mmap, membarrier registration and fences: pcm_percpu_start) nor sets
 * up per-thread bins, nor fills a batch of objects it will not use (page
 * faults).  After it, a thread's first slow path sets it up as before.
 */
#define WARMUP_CALLS 64
static unsigned warm_calls PCM_HOT;

/* 1 when a new thread may be set up now: the warm-up is over and the
 * per-CPU regions, if per-CPU mode was decided, exist (or failed); else it
 * is served from the slabs this time. */
static int may_set_up(void)
{
	if (__atomic_load_n(&warm_calls, __ATOMIC_RELAXED) < WARMUP_CALLS && pcm_conf.tcache) {
		__atomic_fetch_add(&warm_calls, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return pcm_percpu_start(); /* 0: another thread makes them */
}

static void (*setup_hook)(void) PCM_HOT;

void pcm_cache_set_setup_hook(void (*fn)(void))
{
	__atomic_store_n(&setup_hook, fn, __ATOMIC_RELEASE);
}

/* A thread's first slow path: which backend serves it.  The rseq pointer
 * is set last: until then every fast-path operation fails into here. */
static void setup(struct pcm_cache_tls *t)
{
	void (*hook)(void) = __atomic_load_n(&setup_hook, __ATOMIC_ACQUIRE);
	if (hook && !pcm_reentered())
		hook();
	if (!pcm_conf.tcache) {
		t->state = PCM_CACHE_OFF;
		t->rseq = &t->own;
		return;
	}
	struct pcm_rseq *rs = pcm_percpu_thread_area();
	if (!pcm_tcache_register(!rs)) { /* no memory for its bins */
		t->state = PCM_CACHE_OFF;
		t->rseq = &t->own;
		return;
	}
	t->state = rs ? PCM_CACHE_PERCPU : PCM_CACHE_THREAD;
	if (__atomic_load_n(&exit_key_ok, __ATOMIC_ACQUIRE))
		pthread_setspecific(exit_key, t); /* any non-NULL value */
	t->rseq = rs ? rs : &t->own;
}

static void thread_exit(void *arg)
{
	struct pcm_cache_tls *t = &pcm_tc;
	(void)arg;
	if (t->state != PCM_CACHE_PERCPU && t->state != PCM_CACHE_THREAD)
		return;
	int saved = errno;
	/* glibc may unregister rseq after the key destructors: from here on
	 * this thread's calls go straight to the slabs. */
	t->rseq = &t->own;
	t->state = PCM_CACHE_OFF;
	pcm_tcache_unregister();
	errno = saved;
}

static PCM_NOINLINE void *miss_other(unsigned cls)
{
	struct pcm_cache_tls *t = &pcm_tc;
	if (unlikely(t->state == PCM_CACHE_NEW) && may_set_up()) {
		setup(t);
		return pcm_cache_miss(cls);
	}
	void *p;
	if (t->state == PCM_CACHE_PERCPU) {
		p = pcm_percpu_refill(t->rseq, cls, pcm_cache_key());
	} else if (unlikely(!pcm_slab_take_array(cls, &p, 1))) {
		errno = ENOMEM;
		return NULL;
	}
	if (p)
		pcm_obj_mark_live(p);
	return p;
}

PCM_NOINLINE void *pcm_cache_miss(unsigned cls)
{
	if (likely(pcm_tc.state == PCM_CACHE_THREAD)) { /* its every malloc */
		uintptr_t key = pcm_cache_key();
		void *p = pcm_tcache_get(cls, key);
		if (p && unlikely(!pcm_obj_take(p, key)))
			return pcm_cache_corrupt(cls, p);
		return p;
	}
	return miss_other(cls);
}

/* Caches p (marked free) in the thread's backend, or gives it back. */
static void give(struct pcm_cache_tls *t, unsigned cls, void *p)
{
	switch (t->state) {
	case PCM_CACHE_PERCPU:
		pcm_percpu_overflow(t->rseq, cls, p);
		break;
	case PCM_CACHE_THREAD:
		pcm_tcache_put(cls, p);
		break;
	default:
		if (unlikely(pcm_conf.secure)) /* its blocks are never here */
			pcm_secure_bad_free(p);
		pcm_prof_free(p); /* profiling runs without caches */
		pcm_slab_put_array(cls, &p, 1);
		break;
	}
}

static PCM_NOINLINE void overflow_other(void *p, unsigned cls)
{
	int saved = errno;
	struct pcm_cache_tls *t = &pcm_tc;
	if (unlikely(t->state == PCM_CACHE_NEW) && may_set_up())
		setup(t);
	give(t, cls, p);
	/* Memory the CPU caches shed is the worker's to return: wake it if
	 * it sleeps (one load when it runs). */
	pcm_background_check(0);
	errno = saved;
}

PCM_NOINLINE void pcm_cache_overflow(void *p, unsigned long cls)
{
	if (pcm_reentered())
		return; /* from a signal handler inside pcmalloc: p leaks */
	if (likely(pcm_tc.state == PCM_CACHE_THREAD)) { /* its every free */
		pcm_tcache_put((unsigned)cls, p);
		return;
	}
	overflow_other(p, (unsigned)cls);
}

PCM_NOINLINE void pcm_cache_suspect(void *p, unsigned long cls)
{
	if (pcm_reentered())
		return; /* the check takes locks: p leaks */
	int saved = errno;
	struct pcm_cache_tls *t = &pcm_tc;
	if (pcm_percpu_holds((unsigned)cls, p) ||
	    (t->state == PCM_CACHE_THREAD && pcm_tcache_holds((unsigned)cls, p)) ||
	    pcm_slab_is_free((unsigned)cls, p))
		pcm_fatal("free(): double free of %p (size class %u, %u bytes)", p,
			  (unsigned)cls, (unsigned)pcm_class_size(cls));
	/* The program's own data happened to match the key. */
	if (unlikely(t->state == PCM_CACHE_NEW) && may_set_up())
		setup(t);
	pcm_obj_mark_free(p, pcm_cache_key());
	give(t, (unsigned)cls, p);
	errno = saved;
}

PCM_COLD void *pcm_cache_corrupt(unsigned cls, void *p)
{
	pcm_fatal("malloc(): write after free of %p (size class %u, %u bytes: "
		  "its second word changed while it was free, or it was freed "
		  "twice)", p, cls, (unsigned)pcm_class_size(cls));
}

void pcm_cache_flush(void)
{
	if (pcm_tc.state == PCM_CACHE_THREAD) {
		int saved = errno;
		pcm_tcache_flush();
		errno = saved;
	}
}
