/* tsan_mt: ThreadSanitizer over pcmalloc's internals (issue 11).
 *
 * Built by `make tsan` with clang -fsanitize=thread, the library's objects
 * too; run with the per-thread caches (PCMALLOC_CONF=percpu:0): rseq
 * critical sections are invisible to TSan.  As in the fuzzer, TSan keeps
 * malloc (it allocates while it starts, before any allocator could): the
 * library's C names are made local and this program calls pcm_* entry
 * points.
 *
 * Threads allocate, fill, hand blocks to each other through mutex-protected
 * queues (so most frees are remote), realloc and free them; others call
 * malloc_trim, the statistics and thread-cache flushes meanwhile; threads
 * come and go (caches torn down at exit); enough memory is held at times
 * for the background worker to start and purge.  TSan reports any access
 * to the same memory from two threads without a happens-before between
 * them: inside the allocator's structures, and in the blocks themselves (a
 * block freed by one thread and handed to another by the allocator must be
 * ordered by the allocator's own synchronisation).  Statistics counters read
 * without locks by design are listed, with the reason, in
 * tests/tsan/suppressions.txt.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcmalloc.h>

void *pcm_memalign_impl(size_t align, size_t n);
int pcm_trim_impl(size_t pad);

#define THREADS 4
#define ROUNDS 3
#define OPS 20000
#define QLEN 256

struct msg {
	unsigned char *p;
	size_t n;
	unsigned char tag;
};

struct queue {
	pthread_mutex_t lock;
	struct msg m[QLEN];
	int head, len;
};

static struct queue q[THREADS];
static int failures;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, size_t n)
{
	pthread_mutex_lock(&fail_lock);
	failures++;
	fprintf(stderr, "tsan_mt: %s (%zu)\n", what, n);
	pthread_mutex_unlock(&fail_lock);
}

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	uint64_t x = *s;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t size_of(uint64_t *s)
{
	uint64_t r = rnd(s) % 1000;
	if (r < 700)
		return rnd(s) % 512 + 1;
	if (r < 950)
		return rnd(s) % 32768 + 1;
	if (r < 995)
		return rnd(s) % (1u << 20) + 1;
	return rnd(s) % (6u << 20) + 1;
}

static void check(const struct msg *m)
{
	for (size_t i = 0; i < m->n; i += 61)
		if (m->p[i] != m->tag) {
			fail("block corrupted", m->n);
			return;
		}
}

static int push(int to, struct msg m)
{
	pthread_mutex_lock(&q[to].lock);
	int ok = q[to].len < QLEN;
	if (ok)
		q[to].m[(q[to].head + q[to].len++) % QLEN] = m;
	pthread_mutex_unlock(&q[to].lock);
	return ok;
}

static int pop(int self, struct msg *m)
{
	pthread_mutex_lock(&q[self].lock);
	int ok = q[self].len > 0;
	if (ok) {
		*m = q[self].m[q[self].head];
		q[self].head = (q[self].head + 1) % QLEN;
		q[self].len--;
	}
	pthread_mutex_unlock(&q[self].lock);
	return ok;
}

static void dispose(struct msg *m, uint64_t *s)
{
	check(m);
	if (rnd(s) % 4 == 0) { /* realloc, then free */
		size_t n = size_of(s);
		unsigned char *p = pcm_realloc(m->p, n);
		if (!p) {
			fail("realloc failed", n);
			pcm_free(m->p);
			return;
		}
		size_t keep = m->n < n ? m->n : n;
		for (size_t i = 0; i < keep; i += 61)
			if (p[i] != m->tag) {
				fail("realloc lost data", n);
				break;
			}
		memset(p, 0x5a, n);
		pcm_free_sized(p, n);
		return;
	}
	pcm_free(m->p);
}

struct arg {
	int id;
	int round;
};

static void *worker(void *ap)
{
	struct arg *a = ap;
	uint64_t s = (uint64_t)a->id * 1000 + (uint64_t)a->round;
	struct msg keep[64];
	memset(keep, 0, sizeof keep);
	for (int i = 0; i < OPS; i++) {
		struct msg m;
		while (pop(a->id, &m))
			dispose(&m, &s);
		size_t n = size_of(&s);
		unsigned char *p = rnd(&s) % 8 ? pcm_malloc(n)
					       : pcm_memalign_impl((size_t)64 << rnd(&s) % 8, n);
		if (!p) {
			fail("allocation failed", n);
			continue;
		}
		m = (struct msg){p, n, (unsigned char)rnd(&s)};
		memset(p, m.tag, n);
		unsigned r = (unsigned)(rnd(&s) % 10);
		if (r < 6) { /* to another thread */
			if (!push((a->id + 1 + (int)(rnd(&s) % (THREADS - 1))) % THREADS, m))
				dispose(&m, &s);
		} else if (r < 9) { /* kept a while here */
			struct msg *k = &keep[rnd(&s) % 64];
			if (k->p)
				dispose(k, &s);
			*k = m;
		} else {
			dispose(&m, &s);
		}
		if (i % 1000 == 0) {
			switch (rnd(&s) % 3) {
			case 0:
				pcm_trim_impl(0);
				break;
			case 1: {
				struct pcmalloc_stats st;
				pcmalloc_stats_get(&st, sizeof st);
				break;
			}
			default:
				pcmalloc_thread_flush();
			}
		}
	}
	for (int k = 0; k < 64; k++)
		if (keep[k].p)
			dispose(&keep[k], &s);
	return NULL;
}

int main(void)
{
	for (int i = 0; i < THREADS; i++)
		pthread_mutex_init(&q[i].lock, NULL);
	/* pcmalloc itself serves these calls (it does not step aside for the
	 * sanitizer in this build). */
	void *probe = pcm_malloc(100);
	if (!probe || !pcmalloc_owns(probe)) {
		fprintf(stderr, "tsan_mt: pcm_malloc is not served by pcmalloc\n");
		return 1;
	}
	pcm_free(probe);
	/* Enough held for the background worker to start (16 MiB). */
	void *hold[6];
	for (int i = 0; i < 6; i++) {
		hold[i] = pcm_malloc(3u << 20);
		if (hold[i])
			memset(hold[i], 1, 3u << 20);
	}
	for (int round = 0; round < ROUNDS; round++) {
		pthread_t t[THREADS];
		struct arg a[THREADS];
		for (int i = 0; i < THREADS; i++) {
			a[i] = (struct arg){i, round};
			if (pthread_create(&t[i], NULL, worker, &a[i]))
				fail("pthread_create", (size_t)i);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		/* What is left in the queues (its owners are gone). */
		uint64_t s = 1;
		for (int i = 0; i < THREADS; i++) {
			struct msg m;
			while (pop(i, &m))
				dispose(&m, &s);
		}
		if (round == 1)
			for (int i = 0; i < 6; i++)
				pcm_free(hold[i]);
	}
	pcm_trim_impl(0);
	printf("tsan_mt: %d rounds of %d threads x %d allocations: %d failures\n",
	       ROUNDS, THREADS, OPS, failures);
	return failures != 0;
}
