/* pcm-test: no-valgrind */
/* purge_storm: common growth patterns must not turn into madvise storms
 * (issue 7).  Judged by counts: the allocator's own count of madvise
 * calls that returned memory (pcmalloc_stats.purge_calls).
 *  - growing buffer: p = malloc(n + 8); memcpy; free(old), 20,000 steps
 *    from 100 KB (the old page heap made ~69,000 madvise calls here);
 *  - fragmentation: 64..576 KiB blocks and small objects allocated and
 *    freed at random, 40,000 operations, with realloc growth;
 *  - every block's contents are checked, as are calloc'd zeros.
 * Purging is by time and budget only.  The fragmentation pattern runs with
 * a dirty budget of 1 GiB (mallopt M_TRIM_THRESHOLD), so that only decay
 * purges may happen.  The bound is generous (a storm makes tens of
 * thousands) and grows with the time a pattern took, at the most purging
 * can do (128 calls per 200 ms), so that a slow or loaded machine, where
 * time-driven purges have more time to run, never fails it.  (No
 * valgrind: too slow for the bound to mean anything.)
 */
#include "pcm_test.h"

#define BOUND 2000

/* BOUND, plus what time-driven purging may do while a pattern runs for
 * `secs` (a slow machine is never failed for being slow). */
static size_t bound(double secs)
{
	return BOUND + (size_t)(secs + 1) * 5 * 128;
}

static size_t purge_calls(void)
{
	struct pcmalloc_stats st;
	return pcm_stats(&st) ? st.purge_calls : 0;
}

static void growing_buffer(void)
{
	size_t n = 100000;
	unsigned char *p = malloc(n);
	REQUIRE(p);
	pcm_fillw_range(p, 0, n, 7);
	size_t before = purge_calls();
	double t0 = pcm_now();
	for (int i = 0; i < 20000; i++) {
		unsigned char *q = malloc(n + 8);
		REQUIRE(q);
		memcpy(q, p, n);
		pcm_fillw_range(q, n, n + 8, 7);
		free(p);
		p = q;
		n += 8;
	}
	CHECK(pcm_verifyw_range(p, 0, n, 7) < 0);
	free(p);
	size_t calls = purge_calls() - before;
	CHECKF(calls <= bound(pcm_now() - t0), "growing buffer: %zu madvise calls",
	       calls);
	pcm_note("growing buffer: %zu madvise calls", calls);
}

#define SLOTS 512

static void fragmentation(void)
{
	static struct {
		unsigned char *p;
		size_t n;
		uint64_t seed;
	} s[SLOTS];
	struct pcm_rng r = {99};
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	size_t before = purge_calls();
	double t0 = pcm_now();
	for (int i = 0; i < 40000; i++) {
		int k = (int)(pcm_rand(&r) % SLOTS);
		if (s[k].p) {
			CHECK(pcm_verifyw_range(s[k].p, 0, s[k].n, s[k].seed) < 0);
			if (pcm_rand(&r) % 4 == 0) { /* grow it */
				size_t n = s[k].n + 1 + pcm_rand(&r) % 65536;
				unsigned char *q = realloc(s[k].p, n);
				REQUIRE(q);
				CHECK(pcm_verifyw_range(q, 0, s[k].n, s[k].seed) < 0);
				pcm_fillw_range(q, s[k].n, n, s[k].seed);
				s[k].p = q;
				s[k].n = n;
				continue;
			}
			free(s[k].p);
		}
		size_t n = pcm_rand(&r) % 3 ? 16 + pcm_rand(&r) % 4000
					    : 65536 + pcm_rand(&r) % (512 << 10);
		int zero = pcm_rand(&r) % 8 == 0;
		s[k].p = zero ? calloc(1, n) : malloc(n);
		REQUIRE(s[k].p);
		if (zero)
			CHECK(pcm_first_nonzero(s[k].p, n) < 0);
		s[k].n = n;
		s[k].seed = pcm_rand(&r);
		pcm_fillw_range(s[k].p, 0, n, s[k].seed);
	}
	for (int k = 0; k < SLOTS; k++)
		if (s[k].p) {
			CHECK(pcm_verifyw_range(s[k].p, 0, s[k].n, s[k].seed) < 0);
			free(s[k].p);
		}
	size_t calls = purge_calls() - before;
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	CHECKF(calls <= bound(pcm_now() - t0), "fragmentation: %zu madvise calls",
	       calls);
	pcm_note("fragmentation: %zu madvise calls", calls);
}

int main(void)
{
	pcm_test_begin("purge_storm");
	growing_buffer();
	fragmentation();
	return pcm_done("purge_storm");
}
