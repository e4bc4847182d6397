/*
 * Shared helpers of the pcmalloc benchmark workload programs.
 *
 * Every program in bench/workloads/ is a single C file that includes this
 * header.  They use only the standard C / POSIX allocation API, so the same
 * binary runs under glibc or any allocator brought in with LD_PRELOAD.
 *
 * Conventions:
 *   - arguments are positional integers; "-h" prints the usage line;
 *   - the program prints exactly one result line on stdout:
 *         NAME: key=value key=value ...
 *     which the runner parses (every key=value pair of every line is kept);
 *   - corrupted data (a pattern written into a block that changed before the
 *     block was freed) is reported on stderr and the program exits 2, so a
 *     broken allocator cannot produce a "fast" result.
 */
#ifndef PCM_BENCH_WL_H
#define PCM_BENCH_WL_H

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WL_UNUSED __attribute__((unused))

/* Keeps the compiler from proving a block unused and deleting the
 * malloc/free pair around it (gcc and clang both do that at -O2). */
static inline void wl_escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static inline double wl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void wl_sleep(double secs)
{
	struct timespec ts;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
}

static WL_UNUSED void wl_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static inline void *wl_check(void *p, size_t size)
{
	if (!p && size)
		wl_die("allocation of %zu bytes failed", size);
	return p;
}

/* splitmix64: a small, fast generator; each thread owns its state. */
struct wl_rng {
	uint64_t s;
};

static inline uint64_t wl_next(struct wl_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t wl_below(struct wl_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)wl_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t wl_range(struct wl_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + wl_below(r, hi - lo + 1);
}

/* Uniform double in [0, 1). */
static inline double wl_unit(struct wl_rng *r)
{
	return (double)(wl_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * A Pareto-like (power law) size in [lo, hi]: lo * u^(-1/alpha), truncated.
 * With alpha = 1.2 about 70% of draws fall below 2.7*lo and about 2% reach
 * 25*lo: many small objects and a tail of large ones.
 */
static WL_UNUSED uint64_t wl_pareto(struct wl_rng *r, uint64_t lo, uint64_t hi,
				    double alpha)
{
	double u = 1.0 - wl_unit(r); /* (0, 1] */
	double v = (double)lo * pow(u, -1.0 / alpha);
	return v >= (double)hi ? hi : (uint64_t)v;
}

/* Resident set size of this process in KiB, from /proc/self/statm.  Uses
 * only system calls and the stack: it never calls the allocator, so it can
 * sample a process that is meant to stay idle. */
static WL_UNUSED long wl_rss_kib(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strchr(buf, ' ');
	if (!p)
		return -1;
	return strtol(p + 1, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Positional integer argument i (1-based), or def when absent. */
static WL_UNUSED long wl_arg(int argc, char **argv, int i, long def)
{
	if (i < argc) {
		char *end;
		long v = strtol(argv[i], &end, 0);
		if (*end == 'k' || *end == 'K')
			v *= 1024, end++;
		else if (*end == 'm' || *end == 'M')
			v *= 1024 * 1024, end++;
		if (*end || v < 0)
			wl_die("%s: bad argument '%s'", argv[0], argv[i]);
		return v;
	}
	return def;
}

static WL_UNUSED void wl_usage(int argc, char **argv, const char *usage)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s %s\n", argv[0], usage);
		exit(0);
	}
}

/* Writes a pattern derived from a tag into a block; wl_verify checks it.
 * Only the first and last 16 bytes are written, so the cost stays small. */
static inline void wl_stamp(void *p, size_t size, uint64_t tag)
{
	unsigned char *c = p;
	size_t n = size < 16 ? size : 16;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(tag >> ((i & 7) * 8)) ^ (unsigned char)i;
	for (size_t i = 0; i < n; i++)
		c[size - 1 - i] = (unsigned char)(tag + i);
}

static inline void wl_verify(const void *p, size_t size, uint64_t tag)
{
	const unsigned char *c = p;
	size_t n = size < 16 ? size : 16;
	for (size_t i = 0; i < n; i++)
		if (c[size - 1 - i] != (unsigned char)(tag + i))
			goto bad;
	if (size >= 32)
		for (size_t i = 0; i < n; i++)
			if (c[i] != ((unsigned char)(tag >> ((i & 7) * 8)) ^
				     (unsigned char)i))
				goto bad;
	return;
bad:
	wl_die("corrupted block %p (size %zu, tag %llu)", p, size,
	       (unsigned long long)tag);
}

#endif
