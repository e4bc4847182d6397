/* thread_churn: many short-lived threads.
 * 5000 threads (500 in quick mode) are created and joined in waves of 8.
 * Kinds of thread, in turn:
 *  - allocate a few hundred objects of mixed sizes, verify, free most and
 *    hand ~10% over to the main thread, which verifies and frees them;
 *  - exit holding nothing, having allocated nothing;
 *  - allocate and free everything;
 *  - set pthread_key values whose destructors malloc, free and hand objects
 *    over again in later destructor rounds (so they run after any
 *    thread-exit flush the allocator does in its own key destructor), plus a
 *    __cxa_thread_atexit_impl destructor that allocates too (not when built
 *    with ThreadSanitizer, which crashes in late destructor rounds).
 * Checks: all patterns; hand-over counts; RSS after the churn stays under
 * the early baseline + 64 MiB (not in quick mode: valgrind/sanitizers);
 * when active, pcmalloc_stats.threads goes back to its starting value (+2)
 * after the joins, and slab_objects returns to about its baseline.
 */
#include "pcm_test.h"

struct obj {
	unsigned char *p;
	size_t n;
	uint64_t seed;
};

static pthread_mutex_t hand_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj *handed;
static size_t nhanded, caphanded;
static _Atomic long handed_total, received_total, dtor_calls, tls_dtor_calls;
static pthread_key_t key_a, key_b;

extern int __cxa_thread_atexit_impl(void (*fn)(void *), void *arg, void *dso);
extern void *__dso_handle;

static void obj_new(struct obj *o, size_t n, uint64_t seed)
{
	o->n = n;
	o->p = malloc(n);
	REQUIRE(o->p);
	o->seed = seed;
	pcm_fill(o->p, n, seed);
}

static bool obj_ok(const struct obj *o)
{
	return pcm_verify(o->p, o->n, o->seed) < 0;
}

static void hand_over(const struct obj *o)
{
	pthread_mutex_lock(&hand_lock);
	if (nhanded == caphanded) {
		size_t nc = caphanded ? caphanded * 2 : 1024;
		struct obj *h = realloc(handed, nc * sizeof(*h));
		REQUIRE(h);
		handed = h;
		caphanded = nc;
	}
	handed[nhanded++] = *o;
	pthread_mutex_unlock(&hand_lock);
	atomic_fetch_add(&handed_total, 1);
}

static void collect(void)
{
	pthread_mutex_lock(&hand_lock);
	for (size_t i = 0; i < nhanded; i++) {
		TCHECK(obj_ok(&handed[i]),
		       "handed-over object of %zu bytes corrupted",
		       handed[i].n);
		free(handed[i].p);
	}
	atomic_fetch_add(&received_total, (long)nhanded);
	nhanded = 0;
	pthread_mutex_unlock(&hand_lock);
}

/* Destructor state: one object; the round number lives in its seed. */
struct dstate {
	struct obj o;
	int round;
};

static void dtor_a(void *v)
{
	struct dstate *d = v;
	atomic_fetch_add(&dtor_calls, 1);
	TCHECK(obj_ok(&d->o), "key destructor round %d: object corrupted",
	       d->round);
	if (d->round < 3) {
		/* Allocate in the destructor and ask to be called again. */
		struct dstate *nd = malloc(sizeof(*nd));
		REQUIRE(nd);
		nd->round = d->round + 1;
		obj_new(&nd->o, 100 + (size_t)d->round * 3000,
			d->o.seed + 1);
		struct obj h;
		obj_new(&h, 40 + (size_t)d->round, d->o.seed ^ 0xabc);
		hand_over(&h);
		pthread_setspecific(key_a, nd);
	}
	free(d->o.p);
	free(d);
}

static void dtor_b(void *v)
{
	/* Frees in round 1 then mallocs in round 2. */
	struct obj *o = v;
	atomic_fetch_add(&dtor_calls, 1);
	TCHECK(obj_ok(o), "key_b object corrupted");
	if (o->n == 7) {
		free(o->p);
		free(o);
		return;
	}
	struct obj *n = malloc(sizeof(*n));
	REQUIRE(n);
	obj_new(n, 7, 7);
	free(o->p);
	free(o);
	pthread_setspecific(key_b, n);
}

static void tls_dtor(void *v)
{
	struct obj *o = v;
	atomic_fetch_add(&tls_dtor_calls, 1);
	TCHECK(obj_ok(o), "thread_local destructor: object corrupted");
	free(o->p);
	struct obj h;
	obj_new(&h, 333, 333);
	hand_over(&h);
	free(o);
}

static void *thread_main(void *arg)
{
	long id = (long)(intptr_t)arg;
	struct pcm_rng r = {(uint64_t)id * 7919 + 1};
	switch (id % 4) {
	case 0: {
		enum { N = 300 };
		struct obj o[N];
		for (int i = 0; i < N; i++) {
			size_t n = pcm_rand(&r) % 50 == 0
					   ? pcm_rand_range(&r, 4097, 65536)
					   : pcm_rand_range(&r, 1, 1024);
			obj_new(&o[i], n, pcm_rand(&r));
		}
		for (int i = 0; i < N; i++) {
			TCHECK(obj_ok(&o[i]), "thread %ld: object corrupted", id);
			if (i % 10 == 0)
				hand_over(&o[i]);
			else
				free(o[i].p);
		}
		break;
	}
	case 1:
		break; /* holds nothing, allocated nothing */
	case 2: {
		void *p[200];
		for (int i = 0; i < 200; i++) {
			p[i] = malloc(pcm_rand_range(&r, 1, 3000));
			REQUIRE(p[i]);
			memset(p[i], 1, 1);
		}
		for (int i = 199; i >= 0; i--)
			free(p[i]);
		break;
	}
	case 3: {
		if (PCM_TSAN)
			break; /* TSan crashes in late destructor rounds */
		struct dstate *d = malloc(sizeof(*d));
		REQUIRE(d);
		d->round = 0;
		obj_new(&d->o, 64, (uint64_t)id);
		pthread_setspecific(key_a, d);
		struct obj *b = malloc(sizeof(*b));
		REQUIRE(b);
		obj_new(b, 5000, 5000);
		pthread_setspecific(key_b, b);
		struct obj *t = malloc(sizeof(*t));
		REQUIRE(t);
		obj_new(t, 2222, 2222);
		__cxa_thread_atexit_impl(tls_dtor, t, &__dso_handle);
		/* Some ordinary work too. */
		for (int i = 0; i < 100; i++) {
			void *q = malloc(pcm_rand_range(&r, 1, 512));
			REQUIRE(q);
			free(q);
		}
		break;
	}
	}
	return NULL;
}

int main(void)
{
	pcm_test_begin("thread_churn");
	REQUIRE(pthread_key_create(&key_b, dtor_b) == 0);
	REQUIRE(pthread_key_create(&key_a, dtor_a) == 0);
	long total = pcm_scale(5000, 10);
	enum { WAVE = 8 };

	struct pcmalloc_stats s0, s1;
	pcm_quiesce();
	bool have = pcm_stats(&s0);
	size_t rss_base = 0, rss_max = 0;
	double t0 = pcm_now();
	for (long w = 0; w < total; w += WAVE) {
		pthread_t th[WAVE];
		int n = 0;
		for (long i = w; i < w + WAVE && i < total; i++, n++)
			REQUIRE(pthread_create(&th[n], NULL, thread_main,
					       (void *)(intptr_t)i) == 0);
		for (int i = 0; i < n; i++)
			REQUIRE(pthread_join(th[i], NULL) == 0);
		collect();
		if (w == 200)
			rss_base = pcm_rss();
		if (w > 200) {
			size_t rss = pcm_rss();
			if (rss > rss_max)
				rss_max = rss;
		}
	}
	double t1 = pcm_now();
	collect();
	free(handed);
	handed = NULL;
	caphanded = 0;

	long threads_of_kind3 = PCM_TSAN ? 0 : total / 4;
	CHECKF(atomic_load(&handed_total) == atomic_load(&received_total),
	       "handed %ld, received %ld", (long)atomic_load(&handed_total),
	       (long)atomic_load(&received_total));
	/* key_a: 4 calls (rounds 0..3), key_b: 2 calls, per kind-3 thread. */
	CHECKF(atomic_load(&dtor_calls) == 6 * threads_of_kind3,
	       "%ld key destructor calls, want %ld",
	       (long)atomic_load(&dtor_calls), 6 * threads_of_kind3);
	CHECKF(atomic_load(&tls_dtor_calls) == threads_of_kind3,
	       "%ld thread_local destructor calls, want %ld",
	       (long)atomic_load(&tls_dtor_calls), threads_of_kind3);

	size_t rss_end = pcm_rss();
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr,
			"thread_churn: %ld threads in %.2fs; RSS base %zu KiB, "
			"max %zu KiB, end %zu KiB\n",
			total, t1 - t0, rss_base >> 10, rss_max >> 10,
			rss_end >> 10);
	if (!pcm_quick()) {
		CHECKF(rss_max <= rss_base + 64 * PCM_MIB,
		       "RSS grew from %zu KiB to %zu KiB during the churn",
		       rss_base >> 10, rss_max >> 10);
		CHECKF(rss_end <= rss_base + 64 * PCM_MIB,
		       "RSS %zu KiB after the churn, baseline %zu KiB",
		       rss_end >> 10, rss_base >> 10);
	}
	if (have) {
		pcm_quiesce();
		pcm_stats(&s1);
		CHECKF(s1.threads <= s0.threads + 2,
		       "pcmalloc threads: %zu before, %zu after all joins",
		       s0.threads, s1.threads);
		CHECKF(s1.slab_objects <= s0.slab_objects + 256,
		       "slab_objects %zu before, %zu after the churn",
		       s0.slab_objects, s1.slab_objects);
	}
	return pcm_done("thread_churn");
}
