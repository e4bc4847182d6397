/* api_errno: failures, errno and OOM.  (Fine under UBSan; under ASan/TSan
 * their allocators report giant and overflowing requests as fatal errors
 * unless allocator_may_return_null=1.)
 *  - free (and __libc_free) preserves errno for every kind of block,
 *    including huge mappings and frees that return memory to the system;
 *  - calloc / reallocarray overflow -> NULL, ENOMEM;
 *  - any request above PTRDIFF_MAX -> NULL, ENOMEM (malloc, calloc, realloc,
 *    reallocarray, memalign, aligned_alloc, valloc, pvalloc, the __libc_
 *    forms); posix_memalign returns ENOMEM; sizes that would wrap around when
 *    rounded up (SIZE_MAX - small) fail the same way;
 *  - pvalloc/valloc(SIZE_MAX - 100) -> NULL, ENOMEM;
 *  - a failed realloc returns NULL, ENOMEM and leaves the old block intact
 *    and usable (small, large and huge blocks);
 *  - after failed giant requests (1 << 46, SIZE_MAX / 2) the heap works;
 *  - requests larger than RAM + swap (30 GiB, 64 GiB, 1 TiB above it) fail
 *    with ENOMEM as glibc's do, when the kernel's overcommit policy is the
 *    heuristic (0) or strict (2): malloc, calloc, memalign, aligned_alloc,
 *    posix_memalign (which returns ENOMEM and sets errno, as glibc does);
 *  - real exhaustion (a child under RLIMIT_AS): every allocation call -
 *    malloc, calloc, realloc of NULL and growing, reallocarray, memalign,
 *    aligned_alloc, posix_memalign, valloc, pvalloc and the __libc_ forms -
 *    for small, large and huge blocks, called until it fails, fails with
 *    NULL and ENOMEM, and works again once everything is freed.
 */
#include "pcm_test.h"

#define SENTINEL 12345

static const size_t too_big[] = {
	(size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX + 4096,
	SIZE_MAX / 2 + 100,      SIZE_MAX - 4096 * 2,
	SIZE_MAX - 4095,         SIZE_MAX - 100,
	SIZE_MAX - 16,           SIZE_MAX - 15,
	SIZE_MAX - 1,            SIZE_MAX,
};
#define NBIG (sizeof(too_big) / sizeof(too_big[0]))

#define EXPECT_ENOMEM(expr, desc, arg)                                         \
	do {                                                                   \
		errno = 0;                                                     \
		void *r_ = pcm_hide_ptr(expr);                                 \
		int e_ = errno;                                                \
		CHECKF(r_ == NULL && e_ == ENOMEM,                             \
		       "%s(%#zx) = %p, errno %d; want NULL, ENOMEM", desc,     \
		       (size_t)(arg), r_, e_);                                 \
		if (r_)                                                        \
			free(r_);                                              \
	} while (0)

static void test_free_errno(void)
{
	size_t huge = pcm_quick() ? 64 * PCM_MIB : 256 * PCM_MIB;
	size_t sizes[] = {0,      1,          16,         100,
			  1000,   5000,       32768,      40000,
			  200000, PCM_MIB,    8 * PCM_MIB, 64 * PCM_MIB,
			  huge};
	int sentinels[] = {SENTINEL, 0, ENOMEM, EINVAL};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		for (int k = 0; k < 4; k++) {
			void *p[7];
			p[0] = malloc(n);
			p[1] = calloc(1, n);
			p[2] = realloc(malloc(1), n ? n : 1);
			p[3] = memalign(4096, n);
			p[4] = aligned_alloc(64 * PCM_KIB, n);
			p[5] = valloc(n);
			p[6] = __libc_malloc(n);
			for (int j = 0; j < 7; j++) {
				REQUIRE(p[j]);
				memset(p[j], 0x5c, n < 65536 ? n : 65536);
			}
			for (int j = 0; j < 7; j++) {
				errno = sentinels[k];
				if (j == 6)
					__libc_free(p[j]);
				else
					free(p[j]);
				CHECKF(errno == sentinels[k],
				       "free of block #%d of %zu bytes changed "
				       "errno %d -> %d",
				       j, n, sentinels[k], errno);
			}
		}
	}
	errno = SENTINEL;
	free(NULL);
	CHECK(errno == SENTINEL);

	/* Many small frees: caches overflow, slabs empty and get released
	 * while errno must stay untouched. */
	enum { M = 100000 };
	void **v = malloc(M * sizeof(void *));
	REQUIRE(v);
	int bad = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < M; i++) {
			v[i] = malloc((size_t)(i % 64) * 16 + 8 + (size_t)round * 1000);
			REQUIRE(v[i]);
		}
		for (int i = 0; i < M; i++) {
			errno = SENTINEL;
			free(v[(i * 7919) % M]);
			bad += errno != SENTINEL;
		}
		malloc_trim(0);
	}
	CHECKF(bad == 0, "%d of %d small frees changed errno", bad, 3 * M);
	free(v);
}

static void test_overflow(void)
{
	size_t pairs[][2] = {
		{SIZE_MAX / 2, 3},
		{(size_t)1 << 33, (size_t)1 << 33},
		{SIZE_MAX, SIZE_MAX},
		{2, SIZE_MAX / 2 + 1},
		{65536, (size_t)1 << 48},
		{SIZE_MAX, 2},
		{3, SIZE_MAX / 3 + 1},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		size_t a = pcm_hide(pairs[i][0]), b = pcm_hide(pairs[i][1]);
		EXPECT_ENOMEM(calloc(a, b), "calloc", a);
		EXPECT_ENOMEM(calloc(b, a), "calloc(swapped)", b);
		EXPECT_ENOMEM(__libc_calloc(a, b), "__libc_calloc", a);
		EXPECT_ENOMEM(reallocarray(NULL, a, b), "reallocarray(NULL)", a);
		unsigned char *p = malloc(100);
		REQUIRE(p);
		pcm_fill(p, 100, i);
		errno = 0;
		void *q = reallocarray(pcm_hide_ptr(p), a, b);
		CHECKF(q == NULL && errno == ENOMEM,
		       "reallocarray(p, %#zx, %#zx) = %p errno %d", a, b, q,
		       errno);
		CHECK(pcm_verify(p, 100, i) < 0);
		free(q ? q : p);
	}
	/* Products just above PTRDIFF_MAX without size_t overflow. */
	size_t pmax = pcm_hide((size_t)PTRDIFF_MAX);
	EXPECT_ENOMEM(calloc(1, pmax + 1), "calloc(1, n)", pmax + 1);
	EXPECT_ENOMEM(calloc(pmax / 2 + 1, 2), "calloc(n, 2)", pmax / 2 + 1);
	EXPECT_ENOMEM(reallocarray(NULL, 1, pmax + 1),
		      "reallocarray(NULL, 1, n)", pmax + 1);
}

static void test_too_big(void)
{
	for (size_t i = 0; i < NBIG; i++) {
		size_t n = pcm_hide(too_big[i]);
		EXPECT_ENOMEM(malloc(n), "malloc", n);
		EXPECT_ENOMEM(__libc_malloc(n), "__libc_malloc", n);
		EXPECT_ENOMEM(calloc(n, 1), "calloc(n, 1)", n);
		EXPECT_ENOMEM(calloc(1, n), "calloc(1, n)", n);
		EXPECT_ENOMEM(realloc(NULL, n), "realloc(NULL)", n);
		EXPECT_ENOMEM(__libc_realloc(NULL, n), "__libc_realloc(NULL)", n);
		EXPECT_ENOMEM(memalign(16, n), "memalign(16)", n);
		EXPECT_ENOMEM(memalign(64 * PCM_MIB, n), "memalign(64M)", n);
		EXPECT_ENOMEM(__libc_memalign(4096, n), "__libc_memalign", n);
		EXPECT_ENOMEM(aligned_alloc(16, n), "aligned_alloc(16)", n);
		EXPECT_ENOMEM(aligned_alloc(PCM_MIB, n), "aligned_alloc(1M)", n);
		EXPECT_ENOMEM(valloc(n), "valloc", n);
		EXPECT_ENOMEM(pvalloc(n), "pvalloc", n);
		EXPECT_ENOMEM(__libc_valloc(n), "__libc_valloc", n);
		EXPECT_ENOMEM(__libc_pvalloc(n), "__libc_pvalloc", n);
		size_t aligns[] = {8, 16, 4096, PCM_MIB, 64 * PCM_MIB};
		for (size_t k = 0; k < sizeof(aligns) / sizeof(aligns[0]); k++) {
			void *p = (void *)0x1;
			int rc = posix_memalign(&p, aligns[k], n);
			CHECKF(rc == ENOMEM,
			       "posix_memalign(%zu, %#zx) = %d, want ENOMEM",
			       aligns[k], n, rc);
			if (rc == 0)
				free(p);
			if (__posix_memalign) {
				rc = __posix_memalign(&p, aligns[k], n);
				CHECKF(rc == ENOMEM, "__posix_memalign(%zu, %#zx) "
						     "= %d", aligns[k], n, rc);
			}
		}
	}
	/* The spec's named cases. */
	size_t m100 = pcm_hide(SIZE_MAX - 100), half = pcm_hide(SIZE_MAX / 2);
	EXPECT_ENOMEM(pvalloc(m100), "pvalloc", m100);
	EXPECT_ENOMEM(valloc(m100), "valloc", m100);
	EXPECT_ENOMEM(__libc_pvalloc(m100), "__libc_pvalloc", m100);
	EXPECT_ENOMEM(__libc_valloc(m100), "__libc_valloc", m100);
	EXPECT_ENOMEM(malloc(half), "malloc", half);
	EXPECT_ENOMEM(memalign(64 * PCM_MIB, half), "memalign(64M)", half);
}

/* malloc(1 << 46) fails unless the system overcommits without limit. */
static void test_giant(void)
{
	size_t giants[] = {(size_t)1 << 46, (size_t)1 << 45, SIZE_MAX / 2,
			   ((size_t)1 << 46) + 12345};
	for (size_t i = 0; i < sizeof(giants) / sizeof(giants[0]); i++) {
		size_t n = pcm_hide(giants[i]);
		errno = 0;
		void *p = malloc(n);
		if (p) {
			CHECKF(n < SIZE_MAX / 2, "malloc(%#zx) succeeded", n);
			pcm_note("malloc(%#zx) succeeded (overcommit?)", n);
			free(p);
		} else {
			CHECKF(errno == ENOMEM, "malloc(%#zx): errno %d", n,
			       errno);
		}
		errno = 0;
		p = calloc(n / 16, 16);
		if (p)
			free(p);
		else
			CHECK(errno == ENOMEM);
		void *q = NULL;
		int rc = posix_memalign(&q, 4096, n);
		CHECK(rc == 0 || rc == ENOMEM);
		if (rc == 0)
			free(q);
	}
}

static int overcommit_mode(void)
{
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = -1;
	if (f) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = -1;
		fclose(f);
	}
	return mode;
}

static size_t ram_and_swap(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	size_t total = (size_t)pages * (size_t)psize, swap = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		unsigned long kb;
		if (sscanf(line, "SwapTotal: %lu kB", &kb) == 1)
			swap = kb * 1024ul;
	}
	if (f)
		fclose(f);
	return total + swap;
}

static void test_absurd(void)
{
	int mode = overcommit_mode();
	if (mode != 0 && mode != 2) {
		pcm_note("overcommit mode %d: absurd requests may succeed", mode);
		return;
	}
	size_t base = ram_and_swap();
	size_t sizes[] = {base + 30 * PCM_GIB, base + 64 * PCM_GIB, base + 1024 * PCM_GIB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = pcm_hide(sizes[i]);
		EXPECT_ENOMEM(malloc(n), "malloc(beyond RAM+swap)", n);
		EXPECT_ENOMEM(calloc(1, n), "calloc(beyond RAM+swap)", n);
		EXPECT_ENOMEM(calloc(n / 4096, 4096), "calloc(n/4096, 4096)", n);
		EXPECT_ENOMEM(memalign(4096, n), "memalign(4096)", n);
		EXPECT_ENOMEM(memalign(64 * PCM_MIB, n), "memalign(64M)", n);
		EXPECT_ENOMEM(aligned_alloc(PCM_MIB, n), "aligned_alloc(1M)", n);
		/* Called through a volatile pointer: GCC assumes the builtin
		 * posix_memalign leaves errno alone and would not reload it. */
		int (*volatile pm)(void **, size_t, size_t) = posix_memalign;
		void *q = (void *)0x1;
		errno = 0;
		int rc = pm(&q, 4096, n);
		CHECKF(rc == ENOMEM && errno == ENOMEM,
		       "posix_memalign(%#zx) = %d, errno %d: want ENOMEM, ENOMEM", n, rc,
		       errno);
		if (rc == 0)
			free(q);
		void *small = malloc(100); /* the heap stays usable */
		CHECK(small != NULL);
		free(small);
	}
}

static void test_failed_realloc(void)
{
	size_t olds[] = {1, 10, 100, 5000, 32768, 200000, 8 * PCM_MIB};
	static const size_t news_c[] = {(size_t)PTRDIFF_MAX + 1, SIZE_MAX / 2,
					SIZE_MAX - 8, SIZE_MAX - 4095, SIZE_MAX};
	size_t news[5];
	for (int k = 0; k < 5; k++)
		news[k] = pcm_hide(news_c[k]);
	for (size_t i = 0; i < sizeof(olds) / sizeof(olds[0]); i++) {
		size_t n = olds[i];
		unsigned char *p = malloc(n);
		REQUIRE(p);
		size_t us = malloc_usable_size(p);
		pcm_fill_fast(p, n, n * 3);
		for (size_t k = 0; k < sizeof(news) / sizeof(news[0]); k++) {
			errno = 0;
			void *q = realloc(pcm_hide_ptr(p), news[k]);
			CHECKF(q == NULL && errno == ENOMEM,
			       "realloc(%zu-byte block, %#zx) = %p errno %d", n,
			       news[k], q, errno);
			if (q) {
				p = q;
				continue;
			}
			errno = 0;
			q = __libc_realloc(pcm_hide_ptr(p), news[k]);
			CHECKF(q == NULL && errno == ENOMEM,
			       "__libc_realloc(%zu-byte block, %#zx) failed "
			       "wrongly",
			       n, news[k]);
			if (q) {
				p = q;
				continue;
			}
			CHECKF(pcm_verify_fast(p, n, n * 3) < 0,
			       "failed realloc damaged the %zu-byte block", n);
			CHECK(malloc_usable_size(p) == us);
		}
		/* The old block is still fully usable. */
		unsigned char *q = realloc(p, n * 2 + 1);
		REQUIRE(q);
		CHECKF(pcm_verify_fast(q, n, n * 3) < 0,
		       "block lost data after failed realloc + realloc(%zu)",
		       n * 2 + 1);
		memset(q, 1, n * 2 + 1);
		free(q);
	}
}

static void test_heap_still_works(void)
{
	enum { N = 5000 };
	struct {
		unsigned char *p;
		size_t n;
	} *o = calloc(N, sizeof(*o));
	REQUIRE(o);
	struct pcm_rng r = {4242};
	for (int i = 0; i < N; i++) {
		/* Interleave more failing requests. */
		if (i % 500 == 0) {
			errno = 0;
			void *g = pcm_hide_ptr(malloc(pcm_hide(SIZE_MAX / 2)));
			CHECK(g == NULL && errno == ENOMEM);
		}
		o[i].n = pcm_rand_size(&r, 4 * PCM_MIB);
		o[i].p = malloc(o[i].n);
		REQUIRE(o[i].p);
		pcm_fill(o[i].p, o[i].n, (uint64_t)i);
	}
	for (int i = 0; i < N; i++) {
		CHECKF(pcm_verify(o[i].p, o[i].n, (uint64_t)i) < 0,
		       "object %d (%zu bytes) corrupted after OOMs", i, o[i].n);
		free(o[i].p);
	}
	free(o);
}

/* ---- real exhaustion: every allocation path under RLIMIT_AS ---- */

enum { EX_MALLOC, EX_CALLOC, EX_REALLOC_NULL, EX_REALLOC_GROW, EX_REALLOCARRAY,
       EX_MEMALIGN, EX_ALIGNED_ALLOC, EX_POSIX_MEMALIGN, EX_VALLOC, EX_PVALLOC,
       EX_LIBC_MALLOC, EX_LIBC_CALLOC, EX_LIBC_MEMALIGN, EX_NR };
static const char *const ex_name[EX_NR] = {
	"malloc", "calloc", "realloc(NULL)", "realloc(grow)", "reallocarray",
	"memalign", "aligned_alloc", "posix_memalign", "valloc", "pvalloc",
	"__libc_malloc", "__libc_calloc", "__libc_memalign"};

/* One call of kind k for n bytes: the block, or NULL with *err the errno
 * (posix_memalign: its return value, which must equal errno). */
static void *ex_call(int k, size_t n, int *err)
{
	void *p = NULL;
	errno = 0;
	switch (k) {
	case EX_MALLOC: p = malloc(n); break;
	case EX_CALLOC: p = calloc(1, n); break;
	case EX_REALLOC_NULL: p = realloc(NULL, n); break;
	case EX_REALLOC_GROW: {
		/* a small block grown to n: on failure it stays */
		void *volatile q = malloc(16); /* (volatile: kept after a failed realloc) */
		if (!q) {
			*err = errno;
			return NULL;
		}
		p = realloc(q, n);
		if (!p) {
			int e = errno;
			free(q);
			errno = e;
		}
		break;
	}
	case EX_REALLOCARRAY: p = reallocarray(NULL, n / 8 + 1, 8); break;
	case EX_MEMALIGN: p = memalign(256, n); break;
	case EX_ALIGNED_ALLOC: p = aligned_alloc(4096, n); break;
	case EX_POSIX_MEMALIGN: {
		int (*volatile pm)(void **, size_t, size_t) = posix_memalign;
		int rc = pm(&p, 64, n);
		if (rc) {
			*err = rc == errno ? rc : -rc; /* returned and set: the same */
			return NULL;
		}
		break;
	}
	case EX_VALLOC: p = valloc(n); break;
	case EX_PVALLOC: p = pvalloc(n); break;
	case EX_LIBC_MALLOC: p = __libc_malloc(n); break;
	case EX_LIBC_CALLOC: p = __libc_calloc(n, 1); break;
	default: p = __libc_memalign(64, n); break;
	}
	*err = errno;
	return p;
}

#define EX_MAX 16000000

/* In a child whose address space ends 32 MiB above what it uses: for every
 * kind of call and every kind of block (small, large run, huge mapping),
 * allocate until it fails: the failure must be NULL with ENOMEM
 * (posix_memalign returns ENOMEM and sets errno); then all is freed and the
 * same call must succeed again. */
static int exhaustion_child(void)
{
	static const size_t sizes[] = {24, 3000, 200000, 6 * PCM_MIB};
	malloc_trim(0); /* what the parent freed is not headroom */
	void **held = mmap(NULL, EX_MAX * sizeof(void *), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (held == MAP_FAILED)
		return 10;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t vm = 0;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmSize:", 7))
			vm = strtoul(line + 7, NULL, 10) * 1024;
	if (f)
		fclose(f);
	struct rlimit rl = {vm + 32 * PCM_MIB, vm + 32 * PCM_MIB};
	if (!vm || setrlimit(RLIMIT_AS, &rl) != 0)
		return 11;
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "api_errno: exhaustion child: VmSize %zu MiB\n", vm >> 20);
	int bad = 0;
	for (int k = 0; k < EX_NR; k++) {
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			size_t n = sizes[s], count = 0;
			int err = 0;
			void *p;
			while (count < EX_MAX && (p = ex_call(k, n, &err)) != NULL)
				held[count++] = p;
			if (count == EX_MAX || err != ENOMEM) {
				fprintf(stderr, "api_errno: %s(%zu) under RLIMIT_AS: %zu "
						"calls, then errno %d, want NULL with ENOMEM\n",
					ex_name[k], n, count, err);
				bad = 1;
			}
			while (count)
				free(held[--count]);
			malloc_trim(0);
			p = ex_call(k, n, &err);
			if (!p) {
				fprintf(stderr, "api_errno: %s(%zu) fails (errno %d) after "
						"everything was freed\n", ex_name[k], n, err);
				bad = 1;
			}
			free(p);
		}
	}
	return bad;
}

static void test_exhaustion(void)
{
	if (pcm_quick()) /* sanitizer and valgrind runtimes map their own */
		return;
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(exhaustion_child());
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "exhaustion child: %s %d", WIFEXITED(st) ? "exit" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void)
{
	pcm_test_begin("api_errno");
	test_free_errno();
	test_overflow();
	test_too_big();
	test_giant();
	test_absurd();
	test_failed_realloc();
	test_heap_still_works();
	test_exhaustion();
	test_free_errno();
	return pcm_done("api_errno");
}
