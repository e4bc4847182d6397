/* memcheck_seeded: a program with exactly three seeded errors, run under
 * valgrind's memcheck linked with libpcmalloc.a (tests/tools/memcheck.sh):
 *   - a leak: one 24-byte block, never freed, its last pointer dropped;
 *   - an invalid read: the byte just past a 10-byte block;
 *   - a use after free: byte 5 of a freed 40-byte block, read after more
 *     40-byte blocks were allocated (pcmalloc must not hand its address out
 *     again at once, or memcheck would see a live block there).
 * Everything else uses the whole API correctly (sizes from 0 to huge,
 * calloc, realloc growing and shrinking across size ranges, the aligned
 * calls, malloc_usable_size, strdup, threads), and memcheck must report
 * nothing about it: no error from inside pcmalloc. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

static void fail(const char *what)
{
	fprintf(stderr, "memcheck_seeded: %s\n", what);
	exit(1);
}

/* Correct use of everything; contents checked. */
static void clean_use(void)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 1000, 4096, 40000,
					300000, 2u << 20, 9u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		unsigned char *p = malloc(n);
		if (!p)
			fail("malloc");
		memset(p, 0x5a, n);
		if (malloc_usable_size(p) < n)
			fail("malloc_usable_size");
		unsigned char *z = calloc(1, n + 1);
		if (!z || z[n] != 0 || (n && z[n / 2] != 0))
			fail("calloc");
		free(z);
		/* Grow into the next range and back, keeping the contents. */
		p = realloc(p, 3 * n + 10);
		if (!p || (n && (p[0] != 0x5a || p[n - 1] != 0x5a)))
			fail("realloc up");
		memset(p, 0x3c, 3 * n + 10);
		p = realloc(p, n / 2 + 1);
		if (!p || p[n / 2] != 0x3c)
			fail("realloc down");
		free(p);
	}
	for (size_t align = 16; align <= (1u << 16); align <<= 2) {
		void *a = aligned_alloc(align, 4 * align);
		void *m = memalign(align, 100);
		void *q = NULL;
		if (!a || !m || posix_memalign(&q, align, 3000) != 0)
			fail("aligned");
		if (((size_t)a | (size_t)m | (size_t)q) & (align - 1))
			fail("alignment");
		memset(a, 1, 4 * align);
		memset(m, 2, 100);
		memset(q, 3, 3000);
		free(a);
		free(m);
		free(q);
	}
	char *s = strdup("valgrind sees pcmalloc");
	if (!s || strcmp(s, "valgrind sees pcmalloc"))
		fail("strdup");
	free(s);
	free(NULL);
	sink = realloc(NULL, 50);
	free(realloc(sink, 0) ? sink : NULL);
}

static void *worker(void *arg)
{
	(void)arg;
	void *keep[64];
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 64; i++) {
			keep[i] = malloc((size_t)(i * 37 + round) % 2000 + 1);
			if (!keep[i])
				fail("malloc in thread");
			memset(keep[i], i, (size_t)(i * 37 + round) % 2000 + 1);
		}
		for (int i = 0; i < 64; i++)
			free(keep[i]);
	}
	return NULL;
}

static __attribute__((noinline)) void seeded_leak(void)
{
	char *leak = malloc(24);
	if (!leak)
		fail("malloc");
	memset(leak, 1, 24);
	sink = leak;
	sink = NULL; /* the only pointer to it is gone */
}

static __attribute__((noinline)) void seeded_invalid_read(void)
{
	char *p = malloc(10);
	if (!p)
		fail("malloc");
	memset(p, 'x', 10);
	volatile size_t at = 10; /* hidden from the compiler's own checks */
	volatile char c = p[at]; /* one past the end */
	(void)c;
	free(p);
}

static __attribute__((noinline)) void seeded_use_after_free(void)
{
	char *volatile q = malloc(40); /* volatile: hidden from the compiler */
	if (!q)
		fail("malloc");
	memset(q, 2, 40);
	free(q);
	void *more[100];
	for (int i = 0; i < 100; i++) /* the same size class, again and again */
		more[i] = malloc(40);
	volatile char d = q[5]; /* after free */
	(void)d;
	for (int i = 0; i < 100; i++)
		free(more[i]);
}

int main(void)
{
	clean_use();
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, worker, NULL))
			fail("pthread_create");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	seeded_leak();
	seeded_invalid_read();
	seeded_use_after_free();
	clean_use();
	printf("memcheck_seeded: done\n");
	return 0;
}
