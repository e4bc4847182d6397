/* Per-thread caches (a backend of cache.h).  See tcache.h. */

#include "tcache.h"
#include "cache.h"
#include "sizeclass.h"
#include "slab.h"

#include <errno.h>

__thread struct pcm_tcache pcm_tcache_self PCM_TLS;
#define tc_self pcm_tcache_self

/* Registry of live threads, for statistics and the budget. */
static pcm_lock_t registry_lock = PCM_LOCK_INIT(PCM_RANK_LEAF);
static struct pcm_tcache *registry;
static size_t nr_threads;

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
	uint64_t s = nr_threads ? (uint64_t)TC_BUDGET * SCALE_ONE / ((uint64_t)nr_threads * full_bytes)
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

/* The bins live in a slab object of this class. */
static unsigned bins_class(void)
{
	return pcm_size_class(PCM_NR_CLASSES * sizeof(struct pcm_bin));
}

int pcm_tcache_register(int with_bins)
{
	struct pcm_tcache *tc = &tc_self;
	if (with_bins) {
		void *b;
		if (!pcm_slab_take_array(bins_class(), &b, 1))
			return 0;
		__builtin_memset(b, 0, PCM_NR_CLASSES * sizeof(struct pcm_bin));
		tc->bins = b;
	}
	pcm_lock(&registry_lock);
	tc->prev = NULL;
	tc->next = registry;
	if (registry)
		registry->prev = tc;
	registry = tc;
	nr_threads++;
	rescale();
	pcm_unlock(&registry_lock);
	tc->registered = 1;
	if (with_bins)
		apply_scale(tc);
	return 1;
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

static void flush(struct pcm_tcache *tc)
{
	for (unsigned c = 1; tc->bins && c < PCM_NR_CLASSES; c++)
		drain_bin(c, &tc->bins[c], tc->bins[c].count);
}

void pcm_tcache_unregister(void)
{
	struct pcm_tcache *tc = &tc_self;
	if (!tc->registered)
		return;
	pcm_lock(&registry_lock);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		registry = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	nr_threads--;
	rescale();
	pcm_unlock(&registry_lock);
	flush(tc);
	if (tc->bins) {
		void *b = tc->bins;
		tc->bins = NULL;
		pcm_slab_put_array(bins_class(), &b, 1);
	}
	tc->registered = 0;
}

PCM_NOINLINE void *pcm_tcache_refill(unsigned cls, uintptr_t key)
{
	struct pcm_bin *b = &tc_self.bins[cls];
	unsigned want = b->max / 2 + 1;
	if (want > pcm_class_info[cls].batch)
		want = pcm_class_info[cls].batch;
	void *list;
	unsigned got = pcm_slab_take(cls, &list, want);
	if (unlikely(!got)) {
		errno = ENOMEM;
		return NULL;
	}
	for (void *f = list; f; f = pcm_link_get(f))
		pcm_obj_mark_free(f, key);
	void *p = list;
	b->head = pcm_link_get(p);
	b->count += got - 1;
	return p;
}

PCM_NOINLINE void pcm_tcache_drain(unsigned cls)
{
	struct pcm_tcache *tc = &tc_self;
	struct pcm_bin *b = &tc->bins[cls];
	int saved = errno;
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

int pcm_tcache_holds(unsigned cls, const void *p)
{
	if (!tc_self.bins)
		return 0;
	struct pcm_bin *b = &tc_self.bins[cls];
	unsigned limit = b->count;
	for (void *f = b->head; f && limit--; f = pcm_link_get(f))
		if (f == p)
			return 1;
	return 0;
}

void pcm_tcache_flush(void)
{
	flush(&tc_self);
}

void pcm_tcache_totals(size_t *objs, size_t *bytes, size_t *large_bytes,
		       size_t *threads)
{
	size_t o = 0, by = 0, lb = 0;
	pcm_lock(&registry_lock);
	for (struct pcm_tcache *tc = registry; tc; tc = tc->next)
		for (unsigned c = 1; tc->bins && c < PCM_NR_CLASSES; c++) {
			size_t n = __atomic_load_n(&tc->bins[c].count, __ATOMIC_RELAXED);
			o += n;
			by += n * pcm_class_info[c].size;
			if (pcm_class_is_large(c))
				lb += n * pcm_class_info[c].size;
		}
	*threads = nr_threads;
	pcm_unlock(&registry_lock);
	*objs = o;
	*bytes = by;
	*large_bytes = lb;
}

void pcm_tcache_after_fork_child(uint32_t forker_tid)
{
	if (pcm_lock_forker_holds(&registry_lock, forker_tid))
		return; /* fork in a signal handler: the interrupted code finishes */
	pcm_lock_reset(&registry_lock);
	/* Other threads are gone: so are their caches (their objects leak). */
	if (tc_self.registered) {
		registry = &tc_self;
		tc_self.next = tc_self.prev = NULL;
		nr_threads = 1;
	} else {
		registry = NULL;
		nr_threads = 0;
	}
	rescale();
}
