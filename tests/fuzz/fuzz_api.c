/* fuzz_api: a libFuzzer harness for pcmalloc's API (issue 11).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined over
 * the static library's objects, themselves built with ASan, UBSan, the
 * fuzzer's coverage and the debug checks.  ASan keeps malloc (libFuzzer's,
 * this harness's model): the library's C names are made local (objcopy),
 * and the harness calls pcmalloc's own entry points (pcm_malloc,
 * pcm_memalign_impl, ...), so the two allocators never meet.
 *
 * The input is decoded into a sequence of calls on 64 slots: malloc,
 * calloc, realloc, reallocarray, free, free_sized, memalign, aligned_alloc,
 * posix_memalign, valloc, pvalloc, usable size, trim, thread cache flush;
 * a block handed to a helper thread that frees or reallocs it
 * (cross-thread frees, its cache, its exit); and bursts in which two
 * threads run calls on their own slots at once.  Against a model (size,
 * alignment, a pattern seed per block), it checks every result: alignment,
 * usable size, calloc's zeros, realloc keeping the prefix, every block's
 * contents before each free and realloc and at the end; errno ENOMEM on a
 * failure, which may only happen above PTRDIFF_MAX.  At the end of each
 * input everything is freed, the heap's invariant walks run (when the
 * library has them), and pcmalloc's count of allocated bytes must be back
 * where it was.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcmalloc.h>

#if __has_include("../../src/check.h")
#include "../../src/check.h"
#define HAVE_CHECK_HEAP 1
#else
#define HAVE_CHECK_HEAP 0
#endif

/* The library's internal entry points (hidden, linked statically). */
void *pcm_reallocarray_impl(void *p, size_t nmemb, size_t size);
void *pcm_memalign_impl(size_t align, size_t n);
void *pcm_valloc_impl(size_t n);
void *pcm_pvalloc_impl(size_t n);
int pcm_trim_impl(size_t pad);
void pcm_free_sized_slow(void *p, size_t n, size_t align, unsigned kind,
			 const char *call);

#define NSLOTS 64
#define HUGE_MAX (8u << 20)

struct blk {
	unsigned char *p;
	size_t n;
	size_t align;
	uint64_t seed;
};

struct in {
	const uint8_t *d;
	size_t len, pos;
};

static uint8_t u8(struct in *in)
{
	return in->pos < in->len ? in->d[in->pos++] : 0;
}

static uint32_t u16(struct in *in)
{
	uint32_t a = u8(in);
	return a | (uint32_t)u8(in) << 8;
}

static void die(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_api: %s (%zu, %zu)\n", what, a, b);
	abort();
}

#define REQUIRE(c, what, a, b)                                                 \
	do {                                                                   \
		if (!(c))                                                      \
			die(what, (size_t)(a), (size_t)(b));                   \
	} while (0)

/* Sizes: mostly small, boundaries of the size classes' ranges, sometimes
 * large or huge, rarely absurd. */
static size_t dec_size(struct in *in)
{
	uint8_t k = u8(in);
	uint32_t v = u16(in);
	switch (k % 16) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		return v % 1025;
	case 6: case 7: case 8:
		return v % 32769;
	case 9: {
		static const size_t edge[] = {0, 1, 15, 16, 17, 1024, 1025, 32767,
					      32768, 32769, 36863, 36864, 36865,
					      (1u << 20) - 1, 1u << 20, (1u << 20) + 1,
					      (4u << 20) - 1, 4u << 20, (4u << 20) + 1};
		size_t e = edge[v % (sizeof edge / sizeof edge[0])], j = k >> 4;
		return e + j >= 8 ? e + j - 8 : 0; /* within 8 bytes of it */
	}
	case 10: case 11: case 12:
		return 32769 + (size_t)v * 16 % (1u << 20);
	case 13:
		return (1u << 20) + (size_t)v * 64;
	case 14:
		return (size_t)v * 192 % HUGE_MAX;
	default:
		return k >= 0xf0 ? (size_t)PTRDIFF_MAX + v : v % 100;
	}
}

static size_t dec_align(struct in *in)
{
	return (size_t)1 << (u8(in) % 17); /* 1 .. 64 KiB */
}

/* The checking loops are not the code under test: no coverage feedback
 * from them (it would cost most of the time, and mean nothing). */
#define NOCOV __attribute__((no_sanitize("coverage")))

NOCOV static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Pattern: byte i of a block is byte i % 8 of mix(seed + i / 8) (blocks
 * are 16-byte aligned: whole words are read and written as such).
 * Writing every byte of an 8 MiB block is slow: bytes past 64 KiB are
 * patterned only in the first 64 of every 4 KiB. */
#define PREFIX (64u << 10)

/* The end of the covered run that starts at or after *i (moved there). */
NOCOV static size_t run_at(size_t *i, size_t to)
{
	if (*i >= PREFIX && (*i & 4095) >= 64)
		*i = (*i | 4095) + 1;
	size_t end = *i < PREFIX ? PREFIX : (*i & ~(size_t)4095) + 64;
	return end < to ? end : to;
}

NOCOV __attribute__((no_sanitize("address"))) static void
fill(struct blk *b, size_t from, size_t to)
{
	for (size_t i = from; i < to;) {
		size_t end = run_at(&i, to);
		for (; i < end && (i & 7); i++)
			b->p[i] = (uint8_t)(mix(b->seed + (i >> 3)) >> (8 * (i & 7)));
		for (; i + 8 <= end; i += 8)
			*(uint64_t *)(void *)(b->p + i) = mix(b->seed + (i >> 3));
		for (; i < end; i++)
			b->p[i] = (uint8_t)(mix(b->seed + (i >> 3)) >> (8 * (i & 7)));
	}
}

NOCOV static void bad_byte(const struct blk *b, size_t i, const char *when)
{
	fprintf(stderr, "fuzz_api: %s: block %p of %zu bytes (align %zu): byte "
			"%zu is %#x, want %#x\n",
		when, (void *)b->p, b->n, b->align, i, b->p[i],
		(unsigned)(uint8_t)(mix(b->seed + (i >> 3)) >> (8 * (i & 7))));
	abort();
}

NOCOV __attribute__((no_sanitize("address"))) static void
verify(const struct blk *b, size_t upto, const char *when)
{
	for (size_t i = 0; i < upto;) {
		size_t end = run_at(&i, upto);
		for (; i < end && (i & 7); i++)
			if (b->p[i] != (uint8_t)(mix(b->seed + (i >> 3)) >> (8 * (i & 7))))
				bad_byte(b, i, when);
		for (; i + 8 <= end; i += 8)
			if (*(const uint64_t *)(const void *)(b->p + i) !=
			    mix(b->seed + (i >> 3)))
				break;
		for (; i < end; i++)
			if (b->p[i] != (uint8_t)(mix(b->seed + (i >> 3)) >> (8 * (i & 7))))
				bad_byte(b, i, when);
	}
}

NOCOV __attribute__((no_sanitize("address"))) static void
check_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t end = run_at(&i, n);
		for (; i < end; i++)
			REQUIRE(p[i] == 0, "calloc not zero", n, i);
	}
}

static void check_new(struct blk *b, void *p, size_t n, size_t align, int zero,
		      uint64_t seed, int err, const char *call)
{
	if (!p) {
		REQUIRE(n > PTRDIFF_MAX - (64u << 10), call, n, align);
		REQUIRE(err == ENOMEM, "failure without ENOMEM", n, err);
		b->p = NULL;
		return;
	}
	REQUIRE(((uintptr_t)p & (align - 1)) == 0, "misaligned", (uintptr_t)p, align);
	REQUIRE(((uintptr_t)p & 15) == 0, "misaligned (16)", (uintptr_t)p, n);
	size_t us = pcm_usable_size(p);
	REQUIRE(us >= n, "usable size too small", us, n);
	REQUIRE(pcmalloc_owns(p), "block not owned", (uintptr_t)p, n);
	if (zero)
		check_zero(p, n);
	b->p = p;
	b->n = n;
	b->align = align;
	b->seed = seed;
	fill(b, 0, n);
}

static void release(struct blk *b, int sized)
{
	verify(b, b->n, "before free");
	errno = 777;
	/* C23: free_sized for blocks of malloc, calloc and realloc;
	 * free_aligned_sized (same alignment, same size) for the others. */
	if (sized && b->align <= 16)
		pcm_free_sized(b->p, b->n);
	else if (sized)
		pcm_free_sized_slow(b->p, b->n, b->align, 0, "free_aligned_sized");
	else
		pcm_free(b->p);
	REQUIRE(errno == 777, "free changed errno", errno, b->n);
	b->p = NULL;
}

static void do_realloc(struct blk *b, size_t n, int arr, uint64_t seed)
{
	if (b->p)
		verify(b, b->n, "before realloc");
	size_t want = arr ? (n / 8 + 1) * 8 : n;
	errno = 0;
	void *q = arr ? pcm_reallocarray_impl(b->p, n / 8 + 1, 8) : pcm_realloc(b->p, n);
	int err = errno;
	if (!q) {
		if (b->p && want == 0 && !arr)
			b->p = NULL; /* realloc(p, 0) freed it (glibc) */
		else {
			REQUIRE(want > PTRDIFF_MAX - (64u << 10), "realloc failed", b->n, want);
			REQUIRE(err == ENOMEM, "failed realloc: errno", err, want);
			if (b->p)
				verify(b, b->n, "after a failed realloc");
		}
		return;
	}
	REQUIRE(((uintptr_t)q & 15) == 0, "realloc misaligned", (uintptr_t)q, want);
	REQUIRE(pcm_usable_size(q) >= want, "realloc usable size", pcm_usable_size(q), want);
	if (!b->p) {
		check_new(b, q, want, 16, 0, seed, 0, "realloc(NULL)");
		return;
	}
	size_t keep = b->n < want ? b->n : want;
	struct blk nb = {q, want, 16, b->seed};
	verify(&nb, keep, "after realloc (the kept part)");
	*b = nb;
	fill(b, keep, want);
}

/* One call on slot table s (the input names the slot). */
static void one(struct in *in, struct blk *s, unsigned nslots, uint64_t *seq)
{
	uint8_t op = u8(in);
	struct blk *b = &s[u8(in) % nslots];
	uint64_t seed = mix(++*seq);
	size_t n, a;
	void *p;
	int err, rc;
	if (b->p && op % 20 < 14 && op % 20 != 3 && op % 20 != 4 &&
	    op % 20 != 11 && op % 20 != 12)
		release(b, op & 0x80);
	switch (op % 20) {
	case 0: case 1: case 2:
		n = dec_size(in);
		errno = 0;
		p = pcm_malloc(n);
		check_new(b, p, n, 16, 0, seed, errno, "malloc");
		break;
	case 3: case 4: /* realloc (of NULL too) */
		do_realloc(b, dec_size(in), 0, seed);
		break;
	case 5: {
		size_t m = u8(in) % 16 + 1;
		n = dec_size(in);
		errno = 0;
		p = pcm_calloc(m, n / m);
		check_new(b, p, n / m * m, 16, 1, seed, errno, "calloc");
		break;
	}
	case 6: case 7: /* memalign, aligned_alloc */
		a = dec_align(in);
		n = dec_size(in);
		errno = 0;
		p = op % 20 == 6 ? pcm_memalign_impl(a, n) : pcm_aligned_alloc(a, n);
		check_new(b, p, n, a, 0, seed, errno, "memalign/aligned_alloc");
		break;
	case 8:
		a = dec_align(in);
		if (a < sizeof(void *))
			a = sizeof(void *);
		n = dec_size(in);
		p = NULL;
		errno = 0;
		rc = pcm_posix_memalign(&p, a, n);
		err = errno;
		REQUIRE(rc == 0 || (rc == ENOMEM && err == ENOMEM),
			"posix_memalign", rc, err);
		check_new(b, rc ? NULL : p, n, a, 0, seed, ENOMEM, "posix_memalign");
		break;
	case 9:
		n = dec_size(in);
		errno = 0;
		p = op & 0x40 ? pcm_pvalloc_impl(n) : pcm_valloc_impl(n);
		check_new(b, p, n, 4096, 0, seed, errno, "valloc");
		if (p && (op & 0x40))
			REQUIRE(pcm_usable_size(p) >= ((n + 4095) & ~(size_t)4095),
				"pvalloc rounds up", pcm_usable_size(p), n);
		break;
	case 10: { /* an odd alignment: not a power of two */
		a = (size_t)u8(in) * 24 + 3;
		n = dec_size(in);
		errno = 0;
		p = pcm_aligned_alloc(a, n);
		REQUIRE(!p && errno == EINVAL, "aligned_alloc(bad alignment)", a, n);
		p = pcm_memalign_impl(a, n); /* rounded up to a power of two */
		size_t pa = 1;
		while (pa < a)
			pa <<= 1;
		check_new(b, p, n, pa, 0, seed, errno, "memalign(odd)");
		break;
	}
	case 11: case 12:
		do_realloc(b, dec_size(in), 1, seed);
		break;
	case 13:
		errno = 777;
		pcm_trim_impl(0);
		REQUIRE(errno == 777, "trim changed errno", errno, 0);
		break;
	case 14:
		pcmalloc_thread_flush();
		break;
	default: /* inspect or free */
		if (!b->p)
			break;
		verify(b, b->n, "live block");
		REQUIRE(pcm_usable_size(b->p) >= b->n, "usable size shrank",
			pcm_usable_size(b->p), b->n);
		if (op % 20 >= 17)
			release(b, op & 0x80);
		break;
	}
}

/* ---- threads ---- */

static struct blk slots[NSLOTS];
static uint64_t seq;

/* The helper: receives one block at a time, frees or reallocs it, hands it
 * back (or NULL).  It exits (flushing its cache) when told to. */
static pthread_mutex_t h_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t h_cond = PTHREAD_COND_INITIALIZER;
static struct blk h_blk;
static int h_cmd; /* 0 idle, 1 free, 2 realloc, 3 exit */
static size_t h_n;
static pthread_t h_thread;
static int h_running;

static void *helper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&h_lock);
	for (;;) {
		while (!h_cmd)
			pthread_cond_wait(&h_cond, &h_lock);
		if (h_cmd == 3)
			break;
		if (h_cmd == 1)
			release(&h_blk, 0);
		else
			do_realloc(&h_blk, h_n, 0, mix(h_n));
		h_cmd = 0;
		pthread_cond_broadcast(&h_cond);
	}
	h_cmd = 0;
	pthread_cond_broadcast(&h_cond);
	pthread_mutex_unlock(&h_lock);
	return NULL;
}

static void helper_do(int cmd)
{
	if (!h_running) {
		if (cmd == 3)
			return;
		REQUIRE(pthread_create(&h_thread, NULL, helper, NULL) == 0, "thread", 0, 0);
		h_running = 1;
	}
	pthread_mutex_lock(&h_lock);
	h_cmd = cmd;
	pthread_cond_broadcast(&h_cond);
	while (h_cmd)
		pthread_cond_wait(&h_cond, &h_lock);
	pthread_mutex_unlock(&h_lock);
	if (cmd == 3) {
		pthread_join(h_thread, NULL);
		h_running = 0;
	}
}

/* Bursts: two threads run calls at once, each on its own half of the slots,
 * decoding from its own copy of the next part of the input. */
struct burst {
	struct in in;
	struct blk *s;
	uint64_t seq;
};

static void *burst_main(void *arg)
{
	struct burst *bu = arg;
	while (bu->in.pos < bu->in.len)
		one(&bu->in, bu->s, NSLOTS / 2, &bu->seq);
	return NULL;
}

static size_t baseline_allocated;
static int have_baseline;

static size_t allocated_now(void)
{
	struct pcmalloc_stats st;
	pcmalloc_stats_get(&st, sizeof st); /* cached objects are not counted */
	return st.allocated;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!have_baseline) {
		pcm_free(pcm_malloc(1)); /* started up */
		baseline_allocated = allocated_now();
		have_baseline = 1;
	}
	struct in in = {data, len, 0};
	while (in.pos < in.len) {
		uint8_t ctl = u8(&in);
		if (ctl < 0xe8) {
			in.pos--; /* a plain call */
			one(&in, slots, NSLOTS, &seq);
			continue;
		}
		struct blk *b = &slots[u8(&in) % NSLOTS];
		if (ctl < 0xf0) { /* hand a block to the helper thread */
			if (!b->p)
				continue;
			h_blk = *b;
			h_n = dec_size(&in);
			if (h_n > PTRDIFF_MAX - (64u << 10))
				h_n = 100;
			helper_do(ctl & 1 ? 2 : 1);
			*b = h_blk; /* freed (NULL), or the realloc'd block */
		} else if (ctl < 0xf8) {
			helper_do(3); /* the helper exits */
		} else { /* a burst of two threads over the next bytes */
			size_t chunk = u8(&in) * 4u + 8;
			if (chunk > in.len - in.pos)
				chunk = in.len - in.pos;
			size_t half = chunk / 2;
			struct burst bu[2] = {
				{{data + in.pos, half, 0}, slots, 1000 + seq},
				{{data + in.pos + half, chunk - half, 0}, slots + NSLOTS / 2,
				 2000 + seq},
			};
			in.pos += chunk;
			pthread_t t;
			REQUIRE(pthread_create(&t, NULL, burst_main, &bu[1]) == 0,
				"thread", 0, 0);
			burst_main(&bu[0]);
			pthread_join(t, NULL);
			seq += 3000;
		}
	}
	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i].p)
			release(&slots[i], i & 1);
	}
	helper_do(3);
#if HAVE_CHECK_HEAP
	REQUIRE(pcm_check_heap(3) == 0, "invariant walk", 0, 0);
#endif
	/* Exact, but read racily: the background worker may be moving objects
	 * between a cache and their slab right now (neither place counts
	 * them for that moment).  A lost block stays lost: ask again a
	 * bounded number of times. */
	size_t now = allocated_now();
	for (int tries = 0; now != baseline_allocated && tries < 2000; tries++) {
		usleep(1000);
		now = allocated_now();
	}
	REQUIRE(now == baseline_allocated, "allocated bytes not back to the start",
		baseline_allocated, now);
	return 0;
}
