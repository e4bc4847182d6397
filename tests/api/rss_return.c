/* pcm-test: no-valgrind no-debug */
/* rss_return: memory goes back to the system.
 * Allocates ~1 GiB in 1 KiB objects (writing every byte), frees them all
 * (in a scattered order), then watches RSS (sleeping in 100 ms steps, with
 * one tiny malloc/free per step so an allocator that purges lazily gets a
 * chance).  When pcmalloc is active, RSS must fall under a quarter of the
 * peak (over the starting RSS) before a hang timeout (PCM_HANG_SECS / 4):
 * how long that takes is not judged.  A second round
 * checks the memory is reusable and returned again.  Only asserted when
 * active: glibc gives no such guarantee (but happens to manage it here).
 * (No valgrind: RSS is meaningless there.  Under UBSan, in quick mode,
 * 256 MiB instead of 1 GiB.)
 */
#include "pcm_test.h"

static bool round_trip(int round)
{
	size_t total = pcm_quick() ? 256 * PCM_MIB : PCM_GIB;
	size_t n = total / 1024;
	size_t arr_bytes = n * sizeof(void *);
	/* The pointer array comes from mmap, so it does not count as heap. */
	void **v = mmap(NULL, arr_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(v != MAP_FAILED);
	size_t rss0 = pcm_rss();
	for (size_t i = 0; i < n; i++) {
		v[i] = malloc(1024);
		REQUIRE(v[i]);
		memset(v[i], (int)(i & 0xff) | 1, 1024);
	}
	size_t peak = pcm_rss();
	/* Spot-check contents, then free in a scattered order (a stride
	 * coprime with n visits every index once). */
	for (size_t i = 0; i < n; i += 997)
		CHECK(((unsigned char *)v[i])[1023] == ((i & 0xff) | 1));
	size_t stride = 7919;
	while (n % stride == 0)
		stride += 2;
	for (size_t k = 0, i = 0; k < n; k++, i = (i + stride) % n)
		free(v[i]);
	munmap(v, arr_bytes);
	size_t after_free = pcm_rss();

	size_t grown = peak > rss0 ? peak - rss0 : 0;
	size_t limit = rss0 + grown / 4;
	size_t rss = after_free;
	double t0 = pcm_now();
	/* glibc (not judged) need not return it: wait 2 s for it only. */
	double hang = pcm_active() ? PCM_HANG_SECS / 4 : 2;
	while (rss > limit && pcm_now() - t0 < hang) {
		usleep(100 * 1000);
		free(malloc(16));
		rss = pcm_rss();
	}
	double waited = pcm_now() - t0;
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr,
			"rss_return round %d: start %zu MiB, peak %zu MiB, "
			"right after free %zu MiB, after %.2fs %zu MiB "
			"(limit %zu MiB)\n",
			round, rss0 >> 20, peak >> 20, after_free >> 20, waited,
			rss >> 20, limit >> 20);
	/* (In round 2 memory kept from round 1 may be reused.) */
	if (round == 1)
		CHECKF(grown >= total / 2, "RSS grew by only %zu MiB for %zu MiB",
		       grown >> 20, total >> 20);
	return rss <= limit;
}

int main(void)
{
	pcm_test_begin("rss_return");
	for (int round = 1; round <= 2; round++) {
		bool ok = round_trip(round);
		if (pcm_active())
			CHECKF(ok, "round %d: RSS not back under start + 1/4 of "
				   "the growth before the hang timeout",
			       round);
		else if (!ok)
			pcm_note("rss_return: RSS not returned (not asserted: "
				 "not pcmalloc)");
	}
	return pcm_done("rss_return");
}
