/* api_introspect: glibc's introspection API, and pcmalloc's own.
 *  - malloc_stats() prints glibc's 8 lines in glibc's format ("Arena 0:",
 *    system and in use bytes, "Total (incl. mmap):", the same with the
 *    mappings, "max mmap regions", "max mmap bytes"), with figures that
 *    count a mapping held; and "Arena 0:", "system bytes", "in use bytes",
 *    "Total (incl. mmap):" lines to stderr;
 *  - malloc_info(0, fp) writes "<malloc version=..." ... "</malloc>";
 *  - mallopt(M_MMAP_THRESHOLD, x) returns 1; malloc_trim(0) returns 0 or 1
 *    and the heap works after; mallinfo() is callable;
 *  - mallinfo2().uordblks grows by >= N after N bytes in small objects and
 *    drops after they are freed (asserted when pcmalloc is active);
 *  - when active: pcmalloc_owns is 1 for (any byte of) blocks from every
 *    allocation function and 0 for stack, static and mmap memory;
 *    pcmalloc_stats_get's figures are consistent and move as expected;
 *    slab_objects returns to its baseline after free + flush + trim;
 *    pcmalloc_stats_print writes a report; the pcm_ entry points work.
 */
#include "pcm_test.h"

/* Runs fn with fd 2 redirected to a memfd; returns the NUL-terminated text
 * written (malloc'd), or NULL. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	fflush(stderr);
	int mfd = memfd_create("pcm-capture", 0);
	REQUIRE(mfd >= 0);
	int saved = dup(2);
	REQUIRE(saved >= 0);
	REQUIRE(dup2(mfd, 2) == 2);
	fn(arg);
	fflush(stderr);
	REQUIRE(dup2(saved, 2) == 2);
	close(saved);
	off_t len = lseek(mfd, 0, SEEK_END);
	REQUIRE(len >= 0);
	char *buf = malloc((size_t)len + 1);
	REQUIRE(buf);
	ssize_t got = pread(mfd, buf, (size_t)len, 0);
	close(mfd);
	REQUIRE(got == len);
	buf[len] = 0;
	return buf;
}

static bool has_line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *l = text; l && *l;) {
		if (strncmp(l, prefix, n) == 0)
			return true;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return false;
}

static void call_malloc_stats(void *arg)
{
	(void)arg;
	malloc_stats();
}

static void test_malloc_stats(void)
{
	void *hold = malloc(5000);
	REQUIRE(hold);
	char *out = capture_stderr(call_malloc_stats, NULL);
	CHECKF(strncmp(out, "Arena 0:", 8) == 0,
	       "malloc_stats output does not start with \"Arena 0:\": %.80s",
	       out);
	const char *want[] = {"Arena 0:", "system bytes", "in use bytes",
			      "Total (incl. mmap):"};
	for (int i = 0; i < 4; i++)
		CHECKF(has_line_starting(out, want[i]),
		       "malloc_stats: no line starting with \"%s\" in:\n%s",
		       want[i], out);
	free(out);
	free(hold);
}

/* glibc's malloc_stats() format, line by line (malloc/malloc.c,
 * __malloc_stats, one arena): the 8 lines scripts parse.  Checked against
 * glibc itself when the test runs without pcmalloc. */
static void test_malloc_stats_format(void)
{
	size_t big = 8 * PCM_MIB; /* a direct mapping for glibc and pcmalloc */
	char *hold = malloc(big);
	REQUIRE(hold);
	memset(hold, 1, 4096);
	char *out = capture_stderr(call_malloc_stats, NULL);
	static const char *const fmt[] = {
		"Arena 0:",
		"system bytes     = %10zu",
		"in use bytes     = %10zu",
		"Total (incl. mmap):",
		"system bytes     = %10zu",
		"in use bytes     = %10zu",
		"max mmap regions = %10zu",
		"max mmap bytes   = %10zu",
	};
	size_t v[8] = {0};
	const char *line = out;
	for (int i = 0; i < 8; i++) {
		const char *nl = strchr(line, '\n');
		CHECKF(nl != NULL, "malloc_stats: only %d lines:\n%s", i, out);
		if (!nl)
			break;
		char want[64], got[256];
		size_t len = (size_t)(nl - line) < sizeof got - 1 ? (size_t)(nl - line)
								  : sizeof got - 1;
		memcpy(got, line, len);
		got[len] = 0;
		if (strchr(fmt[i], '%')) {
			snprintf(want, sizeof want, "%.19s", fmt[i]);
			char rest[64];
			CHECKF(strncmp(got, want, 19) == 0 && sscanf(got + 19, "%zu%63s", &v[i], rest) == 1 &&
				       strlen(got) >= 29,
			       "malloc_stats line %d is \"%s\", want glibc's \"%s\"", i + 1, got,
			       fmt[i]);
		} else {
			CHECKF(strcmp(got, fmt[i]) == 0,
			       "malloc_stats line %d is \"%s\", want \"%s\"", i + 1, got, fmt[i]);
		}
		line = nl + 1;
	}
	/* Totals include the mappings; the mapping held counts. */
	CHECKF(v[4] >= v[1] && v[5] >= v[2],
	       "malloc_stats: total (%zu system, %zu in use) below the arena's "
	       "(%zu, %zu)", v[4], v[5], v[1], v[2]);
	CHECKF(v[5] >= v[2] + big, "malloc_stats: in use incl. mmap %zu, arena %zu, "
				   "with an %zu-byte mapping held", v[5], v[2], big);
	CHECKF(v[6] >= 1 && v[7] >= big,
	       "malloc_stats: max mmap regions %zu, max mmap bytes %zu with an "
	       "%zu-byte mapping held", v[6], v[7], big);
	free(out);
	free(hold);
}

static void test_malloc_info(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	REQUIRE(f);
	int rc = malloc_info(0, f);
	fclose(f);
	CHECKF(rc == 0, "malloc_info(0, fp) = %d", rc);
	REQUIRE(buf);
	CHECKF(strncmp(buf, "<malloc version=", 16) == 0,
	       "malloc_info output starts with %.40s", buf);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' ||
		     buf[n - 1] == '\r'))
		n--;
	CHECKF(n >= 9 && strncmp(buf + n - 9, "</malloc>", 9) == 0,
	       "malloc_info output does not end with </malloc>: ...%s",
	       n > 60 ? buf + n - 60 : buf);
	free(buf);
}

static void exercise_heap(uint64_t seed)
{
	enum { N = 500 };
	void *p[N];
	size_t sz[N];
	struct pcm_rng r = {seed};
	for (int i = 0; i < N; i++) {
		sz[i] = pcm_rand_size(&r, 2 * PCM_MIB);
		p[i] = malloc(sz[i]);
		REQUIRE(p[i]);
		pcm_fill(p[i], sz[i], seed + (uint64_t)i);
	}
	for (int i = 0; i < N; i++) {
		CHECKF(pcm_verify(p[i], sz[i], seed + (uint64_t)i) < 0,
		       "heap object %d corrupted (seed %lu)", i,
		       (unsigned long)seed);
		free(p[i]);
	}
}

static void test_mallopt_trim(void)
{
	CHECK(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
	exercise_heap(1);
	CHECK(mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1);
	exercise_heap(2);
	CHECK(mallopt(M_MMAP_THRESHOLD, 1024 * 1024) == 1);
	exercise_heap(3);
	for (int i = 0; i < 5; i++) {
		int rc = malloc_trim(0);
		CHECKF(rc == 0 || rc == 1, "malloc_trim(0) = %d", rc);
		exercise_heap(10 + (uint64_t)i);
	}
	int rc = malloc_trim(1 << 20);
	CHECK(rc == 0 || rc == 1);
	exercise_heap(20);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo mi = mallinfo();
#pragma GCC diagnostic pop
	CHECK(mi.uordblks >= 0);
}

static void test_mallinfo2(void)
{
	enum { N = 20000, SZ = 100 };
	void **p = malloc(N * sizeof(void *));
	REQUIRE(p);
	pcm_quiesce();
	struct mallinfo2 m0 = mallinfo2();
	for (int i = 0; i < N; i++) {
		p[i] = malloc(SZ);
		REQUIRE(p[i]);
		memset(p[i], 0x42, SZ);
	}
	struct mallinfo2 m1 = mallinfo2();
	for (int i = 0; i < N; i++)
		free(p[i]);
	pcm_quiesce();
	struct mallinfo2 m2 = mallinfo2();
	free(p);
	bool grew = m1.uordblks >= m0.uordblks + (size_t)N * SZ;
	bool dropped = m2.uordblks + (size_t)N * SZ / 2 <= m1.uordblks;
	if (pcm_active()) {
		CHECKF(grew, "mallinfo2.uordblks %zu -> %zu after %d x %d bytes",
		       m0.uordblks, m1.uordblks, N, SZ);
		CHECKF(dropped, "mallinfo2.uordblks %zu -> %zu after freeing",
		       m1.uordblks, m2.uordblks);
		CHECK(m1.arena + m1.hblkhd >= m1.uordblks);
	} else {
		pcm_note("mallinfo2 (not asserted): %zu -> %zu -> %zu (%s)",
			 m0.uordblks, m1.uordblks, m2.uordblks,
			 grew && dropped ? "as pcmalloc promises" : "differs");
	}
}

static int static_var[64];

static void test_owns(void)
{
	if (!pcm_active()) {
		pcm_note("pcmalloc_owns checks skipped: not active");
		return;
	}
	int stack_var[16];
	stack_var[0] = 1;
	CHECK(pcmalloc_owns(stack_var) == 0);
	CHECK(pcmalloc_owns(&stack_var[15]) == 0);
	CHECK(pcmalloc_owns(static_var) == 0);
	CHECK(pcmalloc_owns(&static_var[63]) == 0);
	CHECK(pcmalloc_owns((const void *)test_owns) == 0);
	CHECK(pcmalloc_owns(NULL) == 0);
	CHECK(pcmalloc_owns("string literal") == 0);
	unsigned char *m = mmap(NULL, 4 * PCM_MIB, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED);
	m[0] = 1;
	CHECK(pcmalloc_owns(m) == 0);
	CHECK(pcmalloc_owns(m + 4096) == 0);
	CHECK(pcmalloc_owns(m + 4 * PCM_MIB - 1) == 0);
	munmap(m, 4 * PCM_MIB);

	size_t sizes[] = {0, 1, 16, 100, 1000, 5000, 32768, 40000,
			  300000, 3 * PCM_MIB, 20 * PCM_MIB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		void *g = NULL, *h = NULL;
		REQUIRE(posix_memalign(&g, 128, n) == 0);
		if (__posix_memalign)
			REQUIRE(__posix_memalign(&h, 4096, n) == 0);
		else
			h = malloc(n);
		void *p[] = {malloc(n),
			     calloc(1, n),
			     calloc(n, 3),
			     realloc(NULL, n),
			     realloc(malloc(7), n + 1),
			     reallocarray(NULL, n + 1, 2),
			     g,
			     h,
			     aligned_alloc(64, n),
			     memalign(8192, n),
			     valloc(n),
			     pvalloc(n),
			     __libc_malloc(n),
			     __libc_calloc(n, 1),
			     __libc_realloc(NULL, n),
			     __libc_memalign(256, n),
			     __libc_valloc(n),
			     __libc_pvalloc(n)};
		int np = sizeof(p) / sizeof(p[0]);
		for (int k = 0; k < np; k++) {
			REQUIRE(p[k]);
			CHECKF(pcmalloc_owns(p[k]) == 1,
			       "pcmalloc_owns(%p) = 0 for allocation #%d of %zu",
			       p[k], k, n);
			if (n > 1) {
				unsigned char *last = (unsigned char *)p[k] + n - 1;
				CHECKF(pcmalloc_owns(last) == 1,
				       "last byte of #%d (%zu bytes) not owned",
				       k, n);
				CHECK(pcmalloc_owns((unsigned char *)p[k] + n / 2) == 1);
			}
		}
		for (int k = 0; k < np; k++)
			free(p[k]);
	}
}

static void capture_stats_print(void *arg)
{
	(void)arg;
	pcmalloc_stats_print(2);
}

static bool stats(struct pcmalloc_stats *st)
{
	bool ok = pcm_stats(st);
	CHECK(ok);
	if (!ok)
		return false;
	CHECKF(st->allocated == st->small_allocated + st->large_allocated +
					st->huge_allocated,
	       "allocated %zu != small %zu + large %zu + huge %zu",
	       st->allocated, st->small_allocated, st->large_allocated,
	       st->huge_allocated);
	CHECKF(st->resident <= st->mapped, "resident %zu > mapped %zu",
	       st->resident, st->mapped);
	CHECKF(st->allocated <= st->mapped, "allocated %zu > mapped %zu",
	       st->allocated, st->mapped);
	CHECKF(st->brk_bytes <= st->mapped, "brk %zu > mapped %zu",
	       st->brk_bytes, st->mapped);
	CHECK(st->cached_objects <= st->slab_objects);
	CHECK(st->dirty_pages <= st->free_pages);
	CHECK(st->cache_mode == PCMALLOC_CACHE_PER_THREAD ||
	      st->cache_mode == PCMALLOC_CACHE_PER_CPU);
	CHECK(st->arenas >= 1);
	return true;
}

static void test_stats(void)
{
	if (!pcm_active()) {
		pcm_note("pcmalloc stats checks skipped: not active");
		return;
	}
	struct pcmalloc_stats s0, s1, s2;
	CHECK(pcmalloc_stats_get(&s0, 1) == -1);
	CHECK(pcmalloc_stats_get(&s0, 0) == -1);
	CHECK(pcmalloc_stats_get(&s0, sizeof(s0)) == 0);
	CHECK(pcmalloc_stats_get(&s0, sizeof(s0) + 64) == 0);

	/* Small objects. */
	enum { N = 10000, SZ = 200 };
	void **p = malloc(N * sizeof(void *));
	REQUIRE(p);
	pcm_quiesce();
	if (!stats(&s0))
		return;
	CHECK(s0.threads >= 1);
	for (int i = 0; i < N; i++) {
		p[i] = malloc(SZ);
		REQUIRE(p[i]);
		memset(p[i], 1, SZ);
	}
	stats(&s1);
	CHECKF(s1.allocated >= s0.allocated + (size_t)N * SZ,
	       "allocated %zu -> %zu after %d x %d", s0.allocated, s1.allocated,
	       N, SZ);
	CHECKF(s1.small_allocated >= s0.small_allocated + (size_t)N * SZ,
	       "small_allocated %zu -> %zu", s0.small_allocated,
	       s1.small_allocated);
	CHECKF(s1.slab_objects >= s0.slab_objects + N,
	       "slab_objects %zu -> %zu after %d mallocs", s0.slab_objects,
	       s1.slab_objects, N);
	CHECK(s1.slabs >= 1 && s1.slab_bytes >= (size_t)N * SZ);
	for (int i = 0; i < N; i++)
		free(p[i]);
	pcm_quiesce();
	stats(&s2);
	CHECKF(s2.allocated <= s0.allocated + 4096,
	       "allocated %zu -> %zu -> %zu: not back after free", s0.allocated,
	       s1.allocated, s2.allocated);
	CHECKF(s2.slab_objects <= s0.slab_objects + 16,
	       "slab_objects %zu -> %zu -> %zu: not back after free+flush+trim",
	       s0.slab_objects, s1.slab_objects, s2.slab_objects);

	/* Large objects. */
	stats(&s0);
	for (int i = 0; i < 20; i++) {
		p[i] = malloc(100 * 1024);
		REQUIRE(p[i]);
		memset(p[i], 2, 100 * 1024);
	}
	stats(&s1);
	CHECKF(s1.large_allocated >= s0.large_allocated + 20 * 100 * 1024,
	       "large_allocated %zu -> %zu after 20 x 100 KiB",
	       s0.large_allocated, s1.large_allocated);
	CHECK(s1.allocated >= s0.allocated + 20 * 100 * 1024);
	for (int i = 0; i < 20; i++)
		free(p[i]);
	pcm_quiesce();
	stats(&s2);
	CHECKF(s2.large_allocated <= s0.large_allocated,
	       "large_allocated %zu -> %zu -> %zu", s0.large_allocated,
	       s1.large_allocated, s2.large_allocated);

	/* A huge object. */
	stats(&s0);
	size_t hn = 64 * PCM_MIB;
	unsigned char *h = malloc(hn);
	REQUIRE(h);
	h[0] = h[hn - 1] = 1;
	stats(&s1);
	CHECKF(s1.huge_allocated >= s0.huge_allocated + hn,
	       "huge_allocated %zu -> %zu after 64 MiB", s0.huge_allocated,
	       s1.huge_allocated);
	CHECK(s1.huge_count == s0.huge_count + 1);
	CHECK(s1.mapped >= s0.mapped + hn);
	free(h);
	stats(&s2);
	CHECK(s2.huge_count == s0.huge_count);
	CHECK(s2.huge_allocated == s0.huge_allocated);
	free(p);

	/* The report. */
	if (pcmalloc_stats_print) {
		char *out = capture_stderr(capture_stats_print, NULL);
		CHECKF(strlen(out) > 0, "pcmalloc_stats_print wrote nothing");
		free(out);
	}
}

static void test_pcm_entry_points(void)
{
	if (!pcm_active()) {
		pcm_note("pcm_ entry points skipped: not active");
		return;
	}
	for (size_t n = 0; n < 3 * PCM_MIB; n = n * 3 + 5) {
		unsigned char *a = pcm_malloc(n);
		unsigned char *b = pcm_calloc(n, 1);
		unsigned char *c = pcm_aligned_alloc(4096, n);
		void *d = NULL;
		CHECK(pcm_posix_memalign(&d, 1024, n) == 0);
		REQUIRE(a && b && c && d);
		CHECK(pcm_aligned(a, 16) && pcm_aligned(c, 4096) &&
		      pcm_aligned(d, 1024));
		CHECK(pcm_first_nonzero(b, n) < 0);
		CHECK(pcm_usable_size(a) >= n && pcm_usable_size(c) >= n);
		CHECK(pcmalloc_owns(a) == 1 && pcmalloc_owns(d) == 1);
		pcm_fill(a, n, n);
		a = pcm_realloc(a, n * 2 + 1);
		REQUIRE(a);
		CHECK(pcm_verify(a, n, n) < 0);
		pcm_free(a);
		pcm_free_sized(b, n);
		pcm_free(c);
		pcm_free(d);
	}
	pcm_free(NULL);
	errno = 0;
	CHECK(pcm_malloc(pcm_hide(SIZE_MAX)) == NULL && errno == ENOMEM);
	void *d = (void *)1;
	CHECK(pcm_posix_memalign(&d, 24, 10) == EINVAL);
}

int main(void)
{
	pcm_test_begin("api_introspect");
	test_malloc_stats();
	test_malloc_stats_format();
	test_malloc_info();
	test_mallopt_trim();
	test_mallinfo2();
	test_owns();
	test_stats();
	test_pcm_entry_points();
	test_malloc_stats();
	return pcm_done("api_introspect");
}
