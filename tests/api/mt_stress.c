/* mt_stress: cross-thread allocation traffic.
 * 8 threads (3 in quick mode) allocate objects of random sizes (mostly small,
 * some large, a few huge), fill them with a pattern seeded by address and
 * size, and hand them to random other threads; a receiver verifies the
 * pattern, sometimes reallocs the object (growing or shrinking, checking the
 * kept part) and passes it on, and after a few hops verifies and frees it.
 * Phase 1 passes objects through mutex-protected queues, phase 2 through
 * lock-free single-producer/single-consumer rings (the message records
 * themselves are malloc'd and freed by other threads too).  Every thread
 * also churns a private working set.
 * Checks: every pattern; created == verified-at-end == freed, exactly; when
 * active, pcmalloc's slab_objects and allocated return to their baselines
 * after the threads are gone (flush + trim).
 */
#include "pcm_test.h"

#define MAXT 8
#define RING 512
#define MAX_HOPS 4

struct msg {
	unsigned char *p;
	size_t n;
	uint64_t seed;
	int hops;
	int origin;
	struct msg *next;
};

struct queue {
	pthread_mutex_t lock;
	struct msg *head, *tail;
	long len;
};

struct ring {
	_Atomic size_t head; /* written by consumer */
	_Atomic size_t tail; /* written by producer */
	struct msg *slot[RING];
};

static int nthreads;
static long iters;
static int phase; /* 1: mutex queues, 2: SPSC rings */
static struct queue queues[MAXT];
static struct ring (*rings)[MAXT]; /* rings[from][to] */
static _Atomic long created, verified_final, freed, reallocs, hops_total,
	msgs_alloc, msgs_free, in_flight, done_producing, local_ops;

static void msg_new(struct msg *m, size_t n, int self)
{
	m->n = n;
	m->p = malloc(n);
	REQUIRE(m->p);
	m->seed = pcm_mix64((uintptr_t)m->p * 31 + n);
	pcm_fillw_range(m->p, 0, n, m->seed);
	m->hops = 0;
	m->origin = self;
	atomic_fetch_add(&created, 1);
	atomic_fetch_add(&in_flight, 1);
}

static void msg_finish(struct msg *m)
{
	long bad = pcm_verifyw_range(m->p, 0, m->n, m->seed);
	TCHECK(bad < 0, "object of %zu bytes from thread %d corrupted at %ld "
			"after %d hops",
	       m->n, m->origin, bad, m->hops);
	atomic_fetch_add(&verified_final, 1);
	free(m->p);
	atomic_fetch_add(&freed, 1);
	free(m);
	atomic_fetch_add(&msgs_free, 1);
	atomic_fetch_add(&in_flight, -1);
}

static void send_to(int from, int to, struct msg *m);

/* A received message: verify, maybe realloc, forward or finish. */
static void handle(int self, struct msg *m, struct pcm_rng *r)
{
	m->hops++;
	atomic_fetch_add(&hops_total, 1);
	if (m->hops >= MAX_HOPS || atomic_load(&done_producing) == nthreads) {
		msg_finish(m);
		return;
	}
	long bad = pcm_verifyw_range(m->p, 0, m->n, m->seed);
	TCHECK(bad < 0, "hop %d: object of %zu bytes corrupted at %ld", m->hops,
	       m->n, bad);
	if (pcm_rand(r) % 3 == 0) {
		size_t nn = pcm_rand_size(r, 2 * PCM_MIB);
		unsigned char *q = realloc(m->p, nn);
		REQUIRE(q || nn == 0);
		if (nn == 0) {
			/* realloc(p, 0) freed it (glibc); start over. */
			atomic_fetch_add(&freed, 1);
			atomic_fetch_add(&verified_final, 1);
			atomic_fetch_add(&in_flight, -1);
			msg_new(m, 1, self);
		} else {
			size_t keep = m->n < nn ? m->n : nn;
			bad = pcm_verifyw_range(q, 0, keep, m->seed);
			TCHECK(bad < 0, "realloc %zu -> %zu lost byte %ld", m->n,
			       nn, bad);
			pcm_fillw_range(q, keep, nn, m->seed);
			m->p = q;
			m->n = nn;
		}
		atomic_fetch_add(&reallocs, 1);
	}
	int to = (int)(pcm_rand(r) % (uint64_t)nthreads);
	if (to == self)
		to = (to + 1) % nthreads;
	send_to(self, to, m);
}

static int receive(int self, struct pcm_rng *r)
{
	int got = 0;
	if (phase == 1) {
		struct queue *q = &queues[self];
		pthread_mutex_lock(&q->lock);
		struct msg *list = q->head;
		q->head = q->tail = NULL;
		q->len = 0;
		pthread_mutex_unlock(&q->lock);
		while (list) {
			struct msg *next = list->next;
			handle(self, list, r);
			list = next;
			got++;
		}
	} else {
		for (int from = 0; from < nthreads; from++) {
			struct ring *rg = &rings[from][self];
			size_t h = atomic_load_explicit(&rg->head,
							memory_order_relaxed);
			size_t t = atomic_load_explicit(&rg->tail,
							memory_order_acquire);
			while (h != t) {
				struct msg *m = rg->slot[h % RING];
				h++;
				atomic_store_explicit(&rg->head, h,
						      memory_order_release);
				handle(self, m, r);
				got++;
			}
		}
	}
	return got;
}

static void send_to(int from, int to, struct msg *m)
{
	if (phase == 1) {
		struct queue *q = &queues[to];
		m->next = NULL;
		pthread_mutex_lock(&q->lock);
		if (q->tail)
			q->tail->next = m;
		else
			q->head = m;
		q->tail = m;
		q->len++;
		pthread_mutex_unlock(&q->lock);
		return;
	}
	struct ring *rg = &rings[from][to];
	size_t t = atomic_load_explicit(&rg->tail, memory_order_relaxed);
	size_t h = atomic_load_explicit(&rg->head, memory_order_acquire);
	if (t - h >= RING) {
		/* Full: finish it here instead of blocking. */
		msg_finish(m);
		return;
	}
	rg->slot[t % RING] = m;
	atomic_store_explicit(&rg->tail, t + 1, memory_order_release);
}

struct local {
	unsigned char *p;
	size_t n;
	uint64_t seed;
};

static void *worker(void *arg)
{
	int self = (int)(intptr_t)arg;
	struct pcm_rng r = {(uint64_t)self * 1000003 + (uint64_t)phase};
	enum { NL = 64 };
	struct local loc[NL];
	memset(loc, 0, sizeof(loc));
	for (long it = 0; it < iters; it++) {
		struct msg *m = malloc(sizeof(*m));
		REQUIRE(m);
		atomic_fetch_add(&msgs_alloc, 1);
		msg_new(m, pcm_rand_size(&r, 4 * PCM_MIB), self);
		int to = (int)(pcm_rand(&r) % (uint64_t)nthreads);
		if (to == self)
			to = (to + 1) % nthreads;
		send_to(self, to, m);
		/* Private working set. */
		int k = (int)(pcm_rand(&r) % NL);
		if (loc[k].p) {
			TCHECK(pcm_verifyw_range(loc[k].p, 0, loc[k].n,
						 loc[k].seed) < 0,
			       "private object of %zu bytes corrupted", loc[k].n);
			free(loc[k].p);
		}
		loc[k].n = pcm_rand_range(&r, 1, 2048);
		loc[k].p = malloc(loc[k].n);
		REQUIRE(loc[k].p);
		loc[k].seed = pcm_rand(&r);
		pcm_fillw_range(loc[k].p, 0, loc[k].n, loc[k].seed);
		atomic_fetch_add(&local_ops, 1);
		if ((it & 7) == 0)
			receive(self, &r);
		/* Keep the amount in flight bounded. */
		while (atomic_load(&in_flight) > 4000L * nthreads)
			if (!receive(self, &r))
				sched_yield();
	}
	atomic_fetch_add(&done_producing, 1);
	while (atomic_load(&done_producing) < nthreads ||
	       atomic_load(&in_flight) > 0)
		if (!receive(self, &r))
			sched_yield();
	for (int k = 0; k < NL; k++) {
		if (loc[k].p)
			TCHECK(pcm_verifyw_range(loc[k].p, 0, loc[k].n,
						 loc[k].seed) < 0,
			       "private object corrupted at end");
		free(loc[k].p);
	}
	return NULL;
}

static void run_phase(int ph)
{
	phase = ph;
	atomic_store(&created, 0);
	atomic_store(&verified_final, 0);
	atomic_store(&freed, 0);
	atomic_store(&msgs_alloc, 0);
	atomic_store(&msgs_free, 0);
	atomic_store(&in_flight, 0);
	atomic_store(&done_producing, 0);
	pthread_t th[MAXT];
	for (int i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) ==
			0);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	long c = atomic_load(&created), v = atomic_load(&verified_final),
	     f = atomic_load(&freed);
	long expect = atomic_load(&msgs_alloc);
	CHECKF(expect == (long)nthreads * iters,
	       "phase %d: %ld of %ld objects made", ph, expect,
	       (long)nthreads * iters);
	CHECKF(c >= expect, "phase %d: created %ld < %ld", ph, c, expect);
	CHECKF(c == v && v == f,
	       "phase %d: created %ld, verified %ld, freed %ld", ph, c, v, f);
	CHECKF(atomic_load(&msgs_free) == expect,
	       "phase %d: message records %ld allocated, %ld freed", ph,
	       (long)atomic_load(&msgs_alloc), (long)atomic_load(&msgs_free));
	CHECK(atomic_load(&in_flight) == 0);
	for (int i = 0; i < nthreads; i++) {
		CHECK(queues[i].head == NULL);
		for (int j = 0; j < nthreads; j++)
			CHECK(atomic_load(&rings[i][j].head) ==
			      atomic_load(&rings[i][j].tail));
	}
}

int main(void)
{
	pcm_test_begin("mt_stress");
	nthreads = pcm_quick() ? 3 : MAXT;
	iters = pcm_scale(25000, 10);
	rings = calloc(MAXT, sizeof(*rings));
	REQUIRE(rings);
	for (int i = 0; i < MAXT; i++)
		pthread_mutex_init(&queues[i].lock, NULL);

	struct pcmalloc_stats s0, s1;
	pcm_quiesce();
	bool have = pcm_stats(&s0);
	double t0 = pcm_now();
	run_phase(1);
	double t1 = pcm_now();
	run_phase(2);
	double t2 = pcm_now();
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr,
			"mt_stress: %d threads x %ld: phase 1 %.2fs, phase 2 "
			"%.2fs, %ld reallocs, %ld hops\n",
			nthreads, iters, t1 - t0, t2 - t1,
			(long)atomic_load(&reallocs),
			(long)atomic_load(&hops_total));
	if (have) {
		pcm_quiesce();
		pcm_stats(&s1);
		size_t slack = 64 + 16 * (size_t)nthreads;
		CHECKF(s1.slab_objects <= s0.slab_objects + slack,
		       "slab_objects %zu at start, %zu after all threads freed "
		       "everything (flush + trim)",
		       s0.slab_objects, s1.slab_objects);
		CHECKF(s1.allocated <= s0.allocated + 64 * 1024,
		       "allocated %zu at start, %zu at end", s0.allocated,
		       s1.allocated);
		CHECKF(s1.huge_count == s0.huge_count, "huge_count %zu -> %zu",
		       s0.huge_count, s1.huge_count);
	}
	free(rings);
	return pcm_done("mt_stress");
}
