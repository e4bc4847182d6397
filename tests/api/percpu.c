/*
 * The per-CPU caches under preemption and migration: many more threads
 * than CPUs, each moving itself between CPUs (sched_setaffinity) while it
 * allocates, writes patterns, frees its own objects and objects handed over
 * by other threads.  Every object's contents are verified, and the objects
 * the allocator has out of its slabs are conserved exactly: after all is
 * freed and malloc_trim(0) has drained the CPU caches, the count is back to
 * what it was (checked through pcmalloc_stats_get).  Also: the cache mode
 * is the one asked for (PCM_EXPECT_MODE=percpu|thread).
 */
#include "pcm_test.h"

#define NSLOTS 64

struct handoff {
	pthread_mutex_t lock;
	void *obj[NSLOTS];
	size_t size[NSLOTS];
};

static struct handoff box;
static int nthreads = 64, rounds = 4000, ncpus;
static atomic_long made, freed;

static void fill(unsigned char *p, size_t n, uintptr_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((seed >> (i & 7)) + i);
}

static int intact(const unsigned char *p, size_t n, uintptr_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)((seed >> (i & 7)) + i))
			return 0;
	return 1;
}

static size_t pick_size(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	unsigned r = (unsigned)(*s >> 33);
	switch (r % 8) {
	case 0: return 1 + r % 16;
	case 1: case 2: case 3: return 16 + r % 256;
	case 4: case 5: return 256 + r % 2048;
	case 6: return 2048 + r % 30000;
	default: return 1 + r % 128;
	}
}

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t s = id * 7919 + 1;
	void *mine[32] = { 0 };
	size_t msize[32] = { 0 };
	for (int r = 0; r < rounds; r++) {
		if (ncpus > 1 && r % 97 == 0) { /* migrate mid-stream */
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET((int)((id + (uintptr_t)r) % (uintptr_t)ncpus), &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		int k = r % 32;
		if (mine[k]) {
			TCHECK(intact(mine[k], msize[k], (uintptr_t)mine[k]), "own object corrupted");
			free(mine[k]);
			atomic_fetch_add(&freed, 1);
		}
		msize[k] = pick_size(&s);
		mine[k] = malloc(msize[k]);
		TCHECK(mine[k] != NULL, "malloc failed");
		atomic_fetch_add(&made, 1);
		fill(mine[k], msize[k], (uintptr_t)mine[k]);
		if (r % 3 == 0) { /* swap an object with another thread */
			size_t n = pick_size(&s);
			void *p = malloc(n);
			TCHECK(p != NULL, "malloc failed");
			atomic_fetch_add(&made, 1);
			fill(p, n, (uintptr_t)p);
			int slot = (int)(s % NSLOTS);
			pthread_mutex_lock(&box.lock);
			void *q = box.obj[slot];
			size_t qn = box.size[slot];
			box.obj[slot] = p;
			box.size[slot] = n;
			pthread_mutex_unlock(&box.lock);
			if (q) {
				TCHECK(intact(q, qn, (uintptr_t)q), "handed-over object corrupted");
				free(q);
				atomic_fetch_add(&freed, 1);
			}
		}
	}
	for (int k = 0; k < 32; k++)
		if (mine[k]) {
			TCHECK(intact(mine[k], msize[k], (uintptr_t)mine[k]), "own object corrupted");
			free(mine[k]);
			atomic_fetch_add(&freed, 1);
		}
	return NULL;
}

int main(void)
{
	pcm_test_begin("percpu");
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (pcm_quick())
		nthreads = 16, rounds = 400;
	pthread_mutex_init(&box.lock, NULL);
	const char *mode = getenv("PCM_EXPECT_MODE");
	size_t before = 0;
	if (pcm_active()) {
		struct pcmalloc_stats st;
		REQUIRE(pcmalloc_stats_get(&st, sizeof st) == 0);
		if (mode && !strcmp(mode, "percpu"))
			CHECKF(st.cache_mode == PCMALLOC_CACHE_PER_CPU, "mode %d", st.cache_mode);
		if (mode && !strcmp(mode, "thread"))
			CHECKF(st.cache_mode == PCMALLOC_CACHE_PER_THREAD, "mode %d", st.cache_mode);
		pcm_warm_up(nthreads);
		before = pcm_slab_objects();
	}
	pthread_t t[64];
	for (int i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NSLOTS; i++)
		if (box.obj[i]) {
			CHECK(intact(box.obj[i], box.size[i], (uintptr_t)box.obj[i]));
			free(box.obj[i]);
			atomic_fetch_add(&freed, 1);
		}
	CHECK(atomic_load(&made) == atomic_load(&freed));
	CHECK(atomic_load(&pcm_thread_failures) == 0);
	if (pcm_active()) {
		size_t after = pcm_slab_objects();
		CHECKF(after == before, "objects out of slabs: %zu before, %zu after "
		       "(%ld made and freed)", before, after, atomic_load(&made));
		struct pcmalloc_stats st;
		pcmalloc_stats_get(&st, sizeof st);
		CHECKF(st.cached_objects == 0, "%zu objects still cached after trim",
		       st.cached_objects);
	}
	return check_done("percpu");
}
