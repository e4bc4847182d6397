/* Shared helpers for the tests in tests/api/.
 *
 * Every test program includes this header first.  pcmalloc's own entry points
 * are redeclared weak, so the same program links and runs against plain glibc
 * (to validate the glibc-semantics checks) and against pcmalloc (static
 * archive, or LD_PRELOAD of the shared library).  pcmalloc-specific checks
 * are guarded by pcm_active().
 *
 * Include it before anything else, and no system header after it: it ends
 * with macros that wrap the allocation functions (see the end).
 *
 * Environment:
 *   PCM_REQUIRE_ACTIVE=1  fail at once unless pcmalloc serves malloc.
 *   PCM_TEST_QUICK=1      running under valgrind or a sanitizer: smaller
 *                         iteration and thread counts, no RSS assertions.
 *   PCM_EXPECT_MODE=percpu|thread  (when active) fail unless pcmalloc's
 *                         cache_mode is that one.
 *   PCM_TEST_VERBOSE=1    print notes and timings.
 */
#ifndef PCM_TEST_H
#define PCM_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pcmalloc.h>
#include "check.h"

/* pcmalloc's own functions, weak: NULL when running on another allocator. */
extern void *pcm_malloc(size_t size) __attribute__((weak));
extern void pcm_free(void *ptr) __attribute__((weak));
extern void *pcm_calloc(size_t nmemb, size_t size) __attribute__((weak));
extern void *pcm_realloc(void *ptr, size_t size) __attribute__((weak));
extern void *pcm_aligned_alloc(size_t alignment, size_t size)
	__attribute__((weak));
extern int pcm_posix_memalign(void **out, size_t alignment, size_t size)
	__attribute__((weak));
extern size_t pcm_usable_size(const void *ptr) __attribute__((weak));
extern void pcm_free_sized(void *ptr, size_t size) __attribute__((weak));
extern int pcmalloc_owns(const void *ptr) __attribute__((weak));
extern int pcmalloc_stats_get(struct pcmalloc_stats *st, size_t size)
	__attribute__((weak));
extern void pcmalloc_stats_print(int fd) __attribute__((weak));
extern void pcmalloc_stats_print_json(int fd) __attribute__((weak));
extern void pcmalloc_thread_flush(void) __attribute__((weak));

/* C23, absent from glibc 2.36: call only when non-NULL. */
extern void free_sized(void *ptr, size_t size) __attribute__((weak));
extern void free_aligned_sized(void *ptr, size_t alignment, size_t size)
	__attribute__((weak));
/* Removed from glibc's headers (2.26) but still provided. */
extern void cfree(void *ptr) __attribute__((weak));

/* glibc's internal aliases: pcmalloc provides them too. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
/* Not exported by glibc 2.36 (pcmalloc has it): weak, call when non-NULL. */
extern int __posix_memalign(void **out, size_t alignment, size_t size)
	__attribute__((weak));

/* Built with ThreadSanitizer: it cannot follow some of what the tests do
 * (fork in threaded programs, instrumented code in late pthread_key
 * destructor rounds), so those parts are skipped. */
#if defined(__SANITIZE_THREAD__)
#define PCM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PCM_TSAN 1
#endif
#endif
#ifndef PCM_TSAN
#define PCM_TSAN 0
#endif

#define PCM_UNUSED __attribute__((unused))
#define PCM_KIB ((size_t)1 << 10)
#define PCM_MIB ((size_t)1 << 20)
#define PCM_GIB ((size_t)1 << 30)

/* ---- environment ------------------------------------------------------ */

static PCM_UNUSED bool pcm_env_is(const char *name)
{
	const char *v = getenv(name);
	return v && strcmp(v, "1") == 0;
}

/* Under valgrind or a sanitizer: cut the work ~10x. */
static PCM_UNUSED bool pcm_quick(void)
{
	static int cached = -1;
	if (cached < 0)
		cached = pcm_env_is("PCM_TEST_QUICK");
	return cached;
}

/* n normally, n/div (at least 1) in quick mode. */
static PCM_UNUSED long pcm_scale(long n, long div)
{
	if (!pcm_quick())
		return n;
	return n / div > 0 ? n / div : 1;
}

/* True when pcmalloc serves this process's malloc. */
static PCM_UNUSED bool pcm_active(void)
{
	static int cached = -1;
	if (cached < 0) {
		cached = 0;
		if (pcmalloc_owns) {
			char *p = malloc(24);
			if (p)
				p[0] = 1;
			cached = p && pcmalloc_owns(p) == 1;
			free(p);
		}
	}
	return cached;
}

/* First thing in every main(). */
static PCM_UNUSED void pcm_test_begin(const char *name)
{
	bool active = pcm_active();
	if (pcm_env_is("PCM_REQUIRE_ACTIVE") && !active) {
		fprintf(stderr,
			"%s: FATAL: PCM_REQUIRE_ACTIVE=1 but pcmalloc is not "
			"serving malloc (pcmalloc_owns %s)\n",
			name, pcmalloc_owns ? "says no" : "is not linked");
		exit(1);
	}
	if (active) {
		/* With libpcmalloc.a, a weak reference does not pull an archive
		 * member in: a NULL here would silently skip checks. */
		const struct {
			const char *fn;
			bool present;
		} api[] = {
			{"pcm_malloc", pcm_malloc != NULL},
			{"pcm_free", pcm_free != NULL},
			{"pcm_calloc", pcm_calloc != NULL},
			{"pcm_realloc", pcm_realloc != NULL},
			{"pcm_aligned_alloc", pcm_aligned_alloc != NULL},
			{"pcm_posix_memalign", pcm_posix_memalign != NULL},
			{"pcm_usable_size", pcm_usable_size != NULL},
			{"pcm_free_sized", pcm_free_sized != NULL},
			{"pcmalloc_stats_get", pcmalloc_stats_get != NULL},
			{"pcmalloc_stats_print", pcmalloc_stats_print != NULL},
			{"pcmalloc_thread_flush", pcmalloc_thread_flush != NULL},
		};
		for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++)
			if (!api[i].present) {
				fprintf(stderr,
					"%s: FATAL: pcmalloc is active but %s "
					"is not linked in\n",
					name, api[i].fn);
				exit(1);
			}
	}
	/* PCM_EXPECT_MODE=percpu|thread: the cache mode must be that one. */
	const char *mode = getenv("PCM_EXPECT_MODE");
	if (active && mode && *mode) {
		struct pcmalloc_stats st;
		int want = strcmp(mode, "percpu") == 0   ? PCMALLOC_CACHE_PER_CPU
			   : strcmp(mode, "thread") == 0 ? PCMALLOC_CACHE_PER_THREAD
							 : -1;
		if (want < 0 || pcmalloc_stats_get(&st, sizeof(st)) != 0 ||
		    st.cache_mode != want) {
			fprintf(stderr,
				"%s: FATAL: PCM_EXPECT_MODE=%s but cache_mode "
				"is %d\n",
				name, mode, want < 0 ? -1 : st.cache_mode);
			exit(1);
		}
	}
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "%s: allocator=%s quick=%d\n", name,
			active ? "pcmalloc" : "other", (int)pcm_quick());
}

/* Note printed for checks skipped because pcmalloc is not active. */
static PCM_UNUSED void pcm_note(const char *fmt, ...)
{
	if (!getenv("PCM_TEST_VERBOSE"))
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* pcmalloc's JSON report (pcmalloc_stats_print_json, which must exist) in
 * buf, NUL-terminated; returns buf. */
static PCM_UNUSED char *pcm_stats_json(char *buf, size_t size)
{
	int fd = memfd_create("pcm-json", 0);
	REQUIRE(fd >= 0);
	pcmalloc_stats_print_json(fd);
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	ssize_t n = read(fd, buf, size - 1);
	REQUIRE(n > 0);
	buf[n] = 0;
	close(fd);
	return buf;
}

/* ---- thread-safe failure counting -------------------------------------- */

static _Atomic int pcm_thread_failures;

/* CHECKF usable from any thread (check.h's counter is not atomic). */
#define TCHECK(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			flockfile(stderr);                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			funlockfile(stderr);                                   \
			atomic_fetch_add(&pcm_thread_failures, 1);             \
		}                                                              \
	} while (0)

/* Call at the end of main instead of check_done. */
static PCM_UNUSED int pcm_done(const char *name)
{
	check_failures += atomic_load(&pcm_thread_failures);
	return check_done(name);
}

/* ---- random numbers ----------------------------------------------------- */

static inline uint64_t pcm_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct pcm_rng {
	uint64_t s;
};

static inline uint64_t pcm_rand(struct pcm_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return pcm_mix64(r->s);
}

/* Uniform in [lo, hi]. */
static inline size_t pcm_rand_range(struct pcm_rng *r, size_t lo, size_t hi)
{
	return lo + (size_t)(pcm_rand(r) % (uint64_t)(hi - lo + 1));
}

/* A size mostly small, sometimes large, rarely huge (in [0, huge_max]). */
static PCM_UNUSED size_t pcm_rand_size(struct pcm_rng *r, size_t huge_max)
{
	unsigned d = (unsigned)(pcm_rand(r) % 1000);
	if (d < 700)
		return pcm_rand_range(r, 0, 256);
	if (d < 930)
		return pcm_rand_range(r, 257, 4096);
	if (d < 985)
		return pcm_rand_range(r, 4097, 64 * PCM_KIB);
	if (d < 998 || huge_max <= PCM_MIB)
		return pcm_rand_range(r, 64 * PCM_KIB + 1, PCM_MIB);
	return pcm_rand_range(r, PCM_MIB + 1, huge_max);
}

/* ---- memory patterns ---------------------------------------------------- */

/* Byte i of the pattern with this seed: depends on all bits of i, so that
 * data shifted, truncated or copied from elsewhere does not verify. */
static inline uint8_t pcm_pat_byte(uint64_t seed, size_t i)
{
	uint64_t x = seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
	return (uint8_t)(x >> 56 ^ x >> 24 ^ (uint64_t)i);
}

/* Fills bytes [from, to) of p with the pattern (byte i = pattern byte i). */
static PCM_UNUSED void pcm_fill_range(void *p, size_t from, size_t to,
				      uint64_t seed)
{
	uint8_t *b = p;
	for (size_t i = from; i < to; i++)
		b[i] = pcm_pat_byte(seed, i);
}

static PCM_UNUSED void pcm_fill(void *p, size_t n, uint64_t seed)
{
	pcm_fill_range(p, 0, n, seed);
}

/* Index of the first byte in [0, n) that differs from the pattern, or -1. */
static PCM_UNUSED long pcm_verify(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pcm_pat_byte(seed, i))
			return (long)i;
	return -1;
}

/* Cheaper pattern for big buffers, still defined per byte (byte i is byte
 * i % 8 of word i / 8), so any range of it can be filled or verified, e.g.
 * the part a realloc added.  Filled a word at a time where possible. */
static inline uint64_t pcm_patw_word(uint64_t seed, size_t k)
{
	return seed ^ ((uint64_t)k * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)k << 1);
}

static inline uint8_t pcm_patw_byte(uint64_t seed, size_t i)
{
	return (uint8_t)(pcm_patw_word(seed, i >> 3) >> (8 * (i & 7)));
}

static PCM_UNUSED void pcm_fillw_range(void *p, size_t from, size_t to,
				       uint64_t seed)
{
	uint8_t *b = p;
	size_t i = from;
	for (; i < to && ((i & 7) || ((uintptr_t)(b + i) & 7)); i++)
		b[i] = pcm_patw_byte(seed, i);
	if (((uintptr_t)(b + i) & 7) == 0)
		for (; i + 8 <= to; i += 8)
			*(uint64_t *)(void *)(b + i) = pcm_patw_word(seed, i >> 3);
	for (; i < to; i++)
		b[i] = pcm_patw_byte(seed, i);
}

/* Index of the first byte in [from, to) that differs, or -1. */
static PCM_UNUSED long pcm_verifyw_range(const void *p, size_t from, size_t to,
					 uint64_t seed)
{
	const uint8_t *b = p;
	size_t i = from;
	for (; i < to && ((i & 7) || ((uintptr_t)(b + i) & 7)); i++)
		if (b[i] != pcm_patw_byte(seed, i))
			return (long)i;
	if (((uintptr_t)(b + i) & 7) == 0)
		for (; i + 8 <= to; i += 8)
			if (*(const uint64_t *)(const void *)(b + i) !=
			    pcm_patw_word(seed, i >> 3))
				break;
	for (; i < to; i++)
		if (b[i] != pcm_patw_byte(seed, i))
			return (long)i;
	return -1;
}

static PCM_UNUSED void pcm_fill_fast(void *p, size_t n, uint64_t seed)
{
	pcm_fillw_range(p, 0, n, seed);
}

static PCM_UNUSED long pcm_verify_fast(const void *p, size_t n, uint64_t seed)
{
	return pcm_verifyw_range(p, 0, n, seed);
}

/* Index of the first non-zero byte in [0, n), or -1. */
static PCM_UNUSED long pcm_first_nonzero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i = 0;
	while (i < n && ((uintptr_t)(b + i) & 7))
		if (b[i++])
			return (long)(i - 1);
	for (; i + 8 <= n; i += 8)
		if (*(const uint64_t *)(const void *)(b + i))
			break;
	for (; i < n; i++)
		if (b[i])
			return (long)i;
	return -1;
}

/* ---- misc ---------------------------------------------------------------- */

/* Values the compiler cannot see through: keeps it from folding or warning
 * about deliberately absurd sizes, and from eliding malloc/free pairs. */
static inline size_t pcm_hide(size_t x)
{
	__asm__ volatile("" : "+r"(x));
	return x;
}

static inline void *pcm_hide_ptr(void *p)
{
	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

/* The only clock a test may use: a hang timeout, far above any plausible
 * run on a slow or loaded machine (tests/run.sh kills a test after 900 s,
 * so the test's own message comes first).  Tests are bounded by counts and
 * never judge how long something took. */
#define PCM_HANG_SECS 600

/* Elapsed-time reading, for PCM_TEST_VERBOSE notes and for hang timeouts
 * only. */
static PCM_UNUSED double pcm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes, from /proc/self/statm (no malloc). */
static PCM_UNUSED size_t pcm_rss(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	unsigned long size = 0, res = 0;
	if (sscanf(buf, "%lu %lu", &size, &res) != 2)
		return 0;
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static inline bool pcm_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* pcmalloc stats, or false when not active. */
static PCM_UNUSED bool pcm_stats(struct pcmalloc_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!pcm_active() || !pcmalloc_stats_get)
		return false;
	return pcmalloc_stats_get(st, sizeof(*st)) == 0;
}

/* For the tests of the per-CPU caches: false unless pcmalloc runs them;
 * else pins the thread to the CPU it is on, so that one cache is the one
 * the test fills and watches. */
static PCM_UNUSED bool pcm_percpu_pinned(void)
{
	struct pcmalloc_stats st;
	if (!pcm_stats(&st) || st.cache_mode != PCMALLOC_CACHE_PER_CPU)
		return false;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	return true;
}

/* Flush this thread's cache and trim: the quiescent state in which
 * slab_objects counts only live objects. */
static PCM_UNUSED void pcm_quiesce(void)
{
	if (pcm_active() && pcmalloc_thread_flush)
		pcmalloc_thread_flush();
	malloc_trim(0);
}

/* Objects out of the slabs once this thread's cache is flushed and every
 * cache drained: live objects only (pcmalloc active). */
static PCM_UNUSED size_t pcm_slab_objects(void)
{
	struct pcmalloc_stats st;
	pcm_quiesce();
	return pcm_stats(&st) ? st.slab_objects : 0;
}

/* fork() for a child that is expected to crash: stdio flushed first, and
 * no core file from the child. */
static PCM_UNUSED pid_t pcm_fork_crasher(void)
{
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
	}
	return pid;
}

/* ---- a quiescent baseline ------------------------------------------------ */

static void *pcm_idle_thread(void *arg)
{
	return arg;
}

/* pcmalloc serves a process's first 64 slow-path calls straight from the
 * slabs, with no cache set up (cache.c, the warm-up): a test of what the
 * caches do makes enough calls first. */
static PCM_UNUSED void pcm_caches_on(void)
{
	for (int i = 0; i < 100; i++)
		free(pcm_hide_ptr(malloc(3000)));
}

/* Before taking a baseline of slab_objects: set up this thread's caches
 * (per-thread mode's bins are one of our objects); glibc keeps joined
 * threads' stacks, with their TLS vectors (our objects), for reuse, so
 * create and join as many threads as the test will run; and pcmalloc's
 * background worker (whose thread's TLS vector is one of our objects)
 * starts from an allocation made while the process holds 16 MiB, so make
 * it start now: hold 18 MiB of large runs, allocate once more, then free
 * them. */
static PCM_UNUSED void pcm_warm_up(int nthreads)
{
	pcm_caches_on(); /* the calling thread's caches are set up */
	pthread_t t[128];
	REQUIRE(nthreads <= 128);
	for (int i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&t[i], NULL, pcm_idle_thread, NULL) == 0);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	void *big[7];
	for (int i = 0; i < 7; i++) {
		big[i] = pcm_hide_ptr(malloc(3 * PCM_MIB));
		REQUIRE(big[i]);
		memset(big[i], 1, 3 * PCM_MIB);
	}
	for (int i = 0; i < 7; i++)
		free(big[i]);
}

/* ---- keeping the compiler honest ---------------------------------------- */

/* Compilers may delete a malloc/free pair whose memory is only written (clang
 * does) and then also assume the allocation succeeded.  Every allocation
 * made by the tests goes through pcm_hide_ptr, which makes the pointer escape
 * so each call really reaches the allocator.  Function-like macros: taking
 * the address of malloc etc. still names the real functions. */
#define malloc(n) pcm_hide_ptr(malloc(n))
#define calloc(n, m) pcm_hide_ptr(calloc(n, m))
#define realloc(p, n) pcm_hide_ptr(realloc(p, n))
#define reallocarray(p, n, m) pcm_hide_ptr(reallocarray(p, n, m))
#define aligned_alloc(a, n) pcm_hide_ptr(aligned_alloc(a, n))
#define memalign(a, n) pcm_hide_ptr(memalign(a, n))
#define valloc(n) pcm_hide_ptr(valloc(n))
#define pvalloc(n) pcm_hide_ptr(pvalloc(n))
#define __libc_malloc(n) pcm_hide_ptr(__libc_malloc(n))
#define __libc_calloc(n, m) pcm_hide_ptr(__libc_calloc(n, m))
#define __libc_realloc(p, n) pcm_hide_ptr(__libc_realloc(p, n))
#define __libc_memalign(a, n) pcm_hide_ptr(__libc_memalign(a, n))
#define __libc_valloc(n) pcm_hide_ptr(__libc_valloc(n))
#define __libc_pvalloc(n) pcm_hide_ptr(__libc_pvalloc(n))

#endif
