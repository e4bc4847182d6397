/* Thread-cache slow paths, set-up and thread exit.  See tcache.h. */

#include "tcache.h"
#include "conf.h"
#include "fmt.h"
#include "lifecycle.h"
#include "prof.h"
#include "sizeclass.h"

#include <errno.h>
#include <pthread.h>

__thread struct pcm_tcache pcm_tc PCM_TLS;

/* Registry of live caches, for statistics and the budget. */
static pcm_lock_t registry_lock;
static struct pcm_tcache *registry;
static size_t nr_caches;
static pthread_key_t exit_key;

/*
 * The budget.  All thread caches together hold at most about TC_BUDGET
 * bytes, as the per-CPU caches are bounded per CPU: each bin's bound is its
 * class's full bound scaled by tc_scale (Q16), which shrinks as threads
 * multiply, with a floor of a couple of objects for small classes so that
 * alloc/free pairs still hit the cache.  A thread applies a new scale on
 * its next overflow, draining what is above the new bounds.
 */
#define TC_BUDGET (16ul << 20)
#define SCALE_ONE 65536u
static uint32_t tc_scale = SCALE_ONE;
static size_t full_bytes; /* one thread cache at full bounds */

static void rescale(void) /* registry lock held */
{
	if (!full_bytes)
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
			full_bytes += (size_t)pcm_class_info[c].cache_max * pcm_class_info[c].size;
	uint64_t s = nr_caches ? (uint64_t)TC_BUDGET * SCALE_ONE / ((uint64_t)nr_caches * full_bytes)
			       : SCALE_ONE;
	__atomic_store_n(&tc_scale, s > SCALE_ONE ? SCALE_ONE : (uint32_t)s, __ATOMIC_RELAXED);
}

static void apply_scale(struct pcm_tcache *tc)
{
	uint32_t s = __atomic_load_n(&tc_scale, __ATOMIC_RELAXED);
	tc->scale = s;
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		const struct pcm_class_info *ci = &pcm_class_info[c];
		uint32_t floor = ci->size <= 1024 ? 2 : ci->size <= 4096 ? 1 : 0;
		uint32_t m = (uint32_t)(((uint64_t)ci->cache_max * s) >> 16);
		tc->bins[c].max = m > floor ? m : floor;
	}
}

static void thread_exit(void *arg);

void pcm_tcache_init_process(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

static void activate(struct pcm_tcache *tc)
{
	if (!pcm_conf.tcache) {
		tc->state = PCM_TC_DEAD;
		return;
	}
	tc->rseq = pcm_percpu_thread_area();
	tc->state = PCM_TC_ACTIVE;
	pcm_lock(&registry_lock);
	tc->prev = NULL;
	tc->next = registry;
	if (registry)
		registry->prev = tc;
	registry = tc;
	nr_caches++;
	rescale();
	pcm_unlock(&registry_lock);
	if (!tc->rseq)
		apply_scale(tc);
	/* Any non-NULL value: the destructor gets the cache from TLS. */
	pthread_setspecific(exit_key, tc);
}

static void drain_bin(unsigned cls, struct pcm_bin *b, unsigned n)
{
	if (!n)
		return;
	void *head = b->head, *cut = head;
	for (unsigned i = 1; i < n; i++)
		cut = pcm_link_get(cut);
	b->head = pcm_link_get(cut);
	pcm_link_set(cut, NULL);
	b->count -= n;
	pcm_slab_put(cls, head, n);
}

PCM_NOINLINE void *pcm_tcache_miss(size_t n)
{
	pcm_init();
	unsigned cls = pcm_size_class(n);
	struct pcm_tcache *tc = &pcm_tc;
	if (unlikely(tc->state == PCM_TC_NEW))
		activate(tc);
	if (tc->rseq)
		return pcm_percpu_refill(tc->rseq, cls);
	struct pcm_bin *b = &tc->bins[cls];
	if (b->head) /* callers other than the fast path may find objects */
		return pcm_tcache_pop(cls);
	unsigned want = tc->state == PCM_TC_ACTIVE ? b->max / 2 + 1 : 1;
	if (want > pcm_class_info[cls].batch)
		want = pcm_class_info[cls].batch;
	void *list;
	unsigned got = pcm_slab_take(cls, &list, want);
	if (unlikely(!got)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = list;
	b->head = pcm_link_get(p);
	b->count += got - 1;
	((uintptr_t *)p)[1] = 0;
	return pcm_prof_alloc(p, n); /* profiling runs without caches */
}

PCM_NOINLINE void pcm_tcache_overflow(unsigned cls, void *p)
{
	struct pcm_tcache *tc = &pcm_tc;
	if (pcm_reentered())
		return; /* from a signal handler inside pcmalloc: p leaks */
	int saved = errno;
	if (tc->state == PCM_TC_NEW && pcm_is_initialised())
		activate(tc);
	if (tc->rseq) {
		((uintptr_t *)p)[1] = pcm_free_key;
		if (!pcm_percpu_push(tc->rseq, cls, p))
			pcm_percpu_overflow(tc->rseq, cls, p);
		errno = saved;
		return;
	}
	struct pcm_bin *b = &tc->bins[cls];
	if (tc->state != PCM_TC_ACTIVE) {
		/* Dead or disabled cache: straight back to the slab. */
		pcm_prof_free(p);
		pcm_link_set(p, NULL);
		((uintptr_t *)p)[1] = pcm_free_key;
		pcm_slab_put(cls, p, 1);
		errno = saved;
		return;
	}
	pcm_link_set(p, b->head);
	((uintptr_t *)p)[1] = pcm_free_key;
	b->head = p;
	b->count++;
	if (unlikely(tc->scale != __atomic_load_n(&tc_scale, __ATOMIC_RELAXED))) {
		apply_scale(tc); /* the thread count changed: new bounds */
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
			if (c != cls && tc->bins[c].count > tc->bins[c].max)
				drain_bin(c, &tc->bins[c],
					  tc->bins[c].count - tc->bins[c].max);
	}
	if (b->count > b->max)
		drain_bin(cls, b, b->count - b->max / 2);
	errno = saved;
}

PCM_NOINLINE void pcm_tcache_free(unsigned cls, void *p)
{
	if (pcm_reentered())
		return; /* the bins may be half-updated by the interrupted call */
	pcm_tcache_push(cls, p);
}

PCM_NOINLINE void pcm_percpu_free_suspect(struct pcm_rseq *rs, unsigned cls,
					  void *p)
{
	if (pcm_reentered())
		return; /* the check takes locks: p leaks */
	pcm_tcache_suspect(cls, p); /* returns unless a double free */
	if (!pcm_percpu_push(rs, cls, p))
		pcm_percpu_overflow(rs, cls, p);
}

PCM_NOINLINE void pcm_tcache_suspect(unsigned cls, void *p)
{
	int saved = errno;
	struct pcm_bin *b = &pcm_tc.bins[cls];
	unsigned limit = b->count;
	if (pcm_tc.rseq && pcm_percpu_holds(pcm_tc.rseq, cls, p))
		goto double_free;
	for (void *f = b->head; f && limit--; f = pcm_link_get(f))
		if (f == p)
			goto double_free;
	if (pcm_slab_is_free(cls, p))
		goto double_free;
	errno = saved;
	return; /* the program's own data happened to match the key */
double_free:
	pcm_fatal("free(): double free of %p (size class %u, %u bytes)", p, cls,
		  (unsigned)pcm_class_size(cls));
}

static void flush(struct pcm_tcache *tc)
{
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
		drain_bin(c, &tc->bins[c], tc->bins[c].count);
}

void pcm_tcache_flush(void)
{
	if (pcm_tc.state == PCM_TC_ACTIVE) {
		int saved = errno;
		flush(&pcm_tc);
		errno = saved;
	}
}

static void thread_exit(void *arg)
{
	struct pcm_tcache *tc = &pcm_tc;
	(void)arg;
	if (tc->state != PCM_TC_ACTIVE)
		return;
	int saved = errno;
	pcm_lock(&registry_lock);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		registry = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	nr_caches--;
	rescale();
	pcm_unlock(&registry_lock);
	flush(tc);
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
		tc->bins[c].max = 0;
	/* glibc may unregister rseq after the key destructors: from here on
	 * this thread's calls go straight to the slabs. */
	tc->rseq = NULL;
	tc->state = PCM_TC_DEAD;
	errno = saved;
}

void pcm_tcache_totals(size_t *objs, size_t *bytes, size_t *large_bytes,
		       size_t *threads)
{
	size_t o = 0, by = 0, lb = 0;
	pcm_lock(&registry_lock);
	for (struct pcm_tcache *tc = registry; tc; tc = tc->next)
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
			size_t n = __atomic_load_n(&tc->bins[c].count, __ATOMIC_RELAXED);
			o += n;
			by += n * pcm_class_info[c].size;
			if (pcm_class_is_large(c))
				lb += n * pcm_class_info[c].size;
		}
	*threads = nr_caches;
	pcm_unlock(&registry_lock);
	*objs = o;
	*bytes = by;
	*large_bytes = lb;
}

void pcm_tcache_after_fork_child(uint32_t forker_tid)
{
	uint32_t owner = pcm_lock_owner(&registry_lock);
	if (owner == forker_tid && owner)
		return; /* fork in a signal handler: the interrupted code finishes */
	pcm_lock_reset(&registry_lock);
	/* Other threads are gone: so are their caches (their objects leak). */
	if (pcm_tc.state == PCM_TC_ACTIVE) {
		registry = &pcm_tc;
		pcm_tc.next = pcm_tc.prev = NULL;
		nr_caches = 1;
	} else {
		registry = NULL;
		nr_caches = 0;
	}
	rescale();
}
