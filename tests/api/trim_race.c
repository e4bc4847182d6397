/*
 * trim_race: malloc_trim(0) racing with allocating threads (issue 12).
 *
 * Eight threads each make a fixed number of malloc/free operations on
 * objects of mostly one size class (200 B, with a few neighbours), fill
 * every object with a pattern derived from its address and a serial number,
 * and verify it before freeing; every few hundred operations a thread moves
 * itself to another CPU (sched_setaffinity).  Meanwhile one more thread
 * calls malloc_trim(0) in a loop, which in per-CPU mode drains every CPU's
 * cache while the workers pop and push on it.  A drain that races with a
 * pop or push hands an object out twice: a pattern then changes under its
 * owner, or pcmalloc finds a double free or a corrupted free list.
 *
 * Judged by counts only: every object verified intact, as many frees as
 * mallocs, and (when pcmalloc is active) the objects out of the slabs
 * conserved exactly once everything is freed and trimmed.  The trimmer
 * stops when the workers are done; nothing waits on a clock.
 */
#include "pcm_test.h"

#ifndef WORKERS
#define WORKERS 8
#endif
#define SLOTS 48

static long ops_per_worker = 1000000;
static int ncpus;
static atomic_int workers_done;
static atomic_long made, freed, trims;

struct obj {
	uint64_t *p;
	size_t n;
	uint64_t seed;
};

static void fill(struct obj *o)
{
	for (size_t i = 0; i < o->n / 8; i++)
		o->p[i] = o->seed ^ (i * 0x9e3779b97f4a7c15ull);
}

static long first_bad(const struct obj *o)
{
	for (size_t i = 0; i < o->n / 8; i++)
		if (o->p[i] != (o->seed ^ (i * 0x9e3779b97f4a7c15ull)))
			return (long)i;
	return -1;
}

static void release(struct obj *o)
{
	long bad = first_bad(o);
	TCHECK(bad < 0, "live object %p (%zu bytes) overwritten at word %ld",
	       (void *)o->p, o->n, bad);
	free(o->p);
	o->p = NULL;
	atomic_fetch_add(&freed, 1);
}

static void migrate(unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	struct pcm_rng r = {id * 0x5851f42d4c957f2dull + 17};
	struct obj live[SLOTS];
	memset(live, 0, sizeof live);
	uint64_t serial = id << 48;
	for (long k = 0; k < ops_per_worker; k++) {
		if (ncpus > 1 && k % 333 == 0)
			migrate((unsigned)((id + (uint64_t)k / 333) % (unsigned)ncpus));
		struct obj *o = &live[pcm_rand(&r) % SLOTS];
		if (o->p)
			release(o);
		/* Mostly one class, so that every drain hits the headers
		 * the workers are using. */
		unsigned d = (unsigned)(pcm_rand(&r) % 16);
		o->n = d < 12 ? 200 : d < 14 ? 64 : 1024;
		o->p = malloc(o->n);
		TCHECK(o->p != NULL, "malloc(%zu) failed", o->n);
		if (!o->p)
			continue;
		atomic_fetch_add(&made, 1);
		o->seed = (uint64_t)(uintptr_t)o->p ^ ++serial;
		fill(o);
	}
	for (int i = 0; i < SLOTS; i++)
		if (live[i].p)
			release(&live[i]);
	atomic_fetch_add(&workers_done, 1);
	return NULL;
}

static void *trimmer(void *arg)
{
	(void)arg;
	unsigned n = 0;
	while (atomic_load(&workers_done) < WORKERS) {
		if (ncpus > 1 && ++n % 64 == 0)
			migrate(n / 64 % (unsigned)ncpus);
		malloc_trim(0);
		atomic_fetch_add(&trims, 1);
	}
	return NULL;
}

int main(void)
{
	pcm_test_begin("trim_race");
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > CPU_SETSIZE)
		ncpus = CPU_SETSIZE;
	if (getenv("TRIM_RACE_OPS"))
		ops_per_worker = atol(getenv("TRIM_RACE_OPS"));
	else if (pcm_quick())
		ops_per_worker /= 20;
	size_t before = 0;
	if (pcm_active()) {
		pcm_warm_up(WORKERS + 1);
		before = pcm_slab_objects();
	}

	pthread_t w[WORKERS], t;
	REQUIRE(pthread_create(&t, NULL, trimmer, NULL) == 0);
	for (uintptr_t i = 0; i < WORKERS; i++)
		REQUIRE(pthread_create(&w[i], NULL, worker, (void *)i) == 0);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(t, NULL);

	CHECKF(atomic_load(&made) == atomic_load(&freed), "%ld made, %ld freed",
	       atomic_load(&made), atomic_load(&freed));
	CHECK(atomic_load(&made) == WORKERS * ops_per_worker);
	if (pcm_active()) {
		size_t after = pcm_slab_objects();
		CHECKF(after == before,
		       "objects out of slabs: %zu before, %zu after (%ld made and freed)",
		       before, after, atomic_load(&made));
	}
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "trim_race: %ld objects, %ld trims\n",
			atomic_load(&made), atomic_load(&trims));
	return pcm_done("trim_race");
}
