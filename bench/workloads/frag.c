/*
 * frag: a long run that changes its size mix phase after phase, and reports
 * resident memory against live bytes over time.
 *
 * A table of slots holds the live objects.  The run is a series of phases,
 * each with its own size distribution (tiny 16-64 B, small 64-512 B, medium
 * 1-16 KiB, a power law over 16 B-64 KiB, and large 32-256 KiB, in turn) and
 * its own live-byte target (alternately the full and half the maximum).  At
 * every step a random slot is emptied and, while live bytes are under the
 * target, refilled with an object of the phase's distribution.  At the end
 * of each phase 85% of the objects, chosen at random, are freed, so the
 * survivors are scattered through the heap when the next phase starts to
 * ask for other sizes.  Ten times per phase the program prints a sample:
 *     sample step=N live_kib=L rss_kib=R
 * (R is the process's resident memory less what it was before the run: the
 * slot table and the program itself).
 *
 * Stresses: fragmentation and memory reuse across size classes over a long
 * run.  The final line gives rss_over_live, the mean RSS over the samples
 * divided by the mean live bytes (ideally close to 1), and the maximum of
 * the ratio at any one sample.
 *
 * usage: frag [phases=10] [steps=400000] [max_live_mib=128]
 *   steps is per phase.
 */
#include "wl.h"

#define SLOTS (1u << 20)

struct slot {
	void *p;
	size_t size;
};

static size_t draw(struct wl_rng *r, int dist)
{
	switch (dist) {
	case 0:
		return wl_range(r, 16, 64);
	case 1:
		return wl_range(r, 64, 512);
	case 2:
		return wl_range(r, 1024, 16384);
	case 3:
		return wl_pareto(r, 16, 65536, 1.1);
	default:
		return wl_range(r, 32768, 262144);
	}
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[phases=10] [steps=400000] [max_live_mib=128]");
	long phases = wl_arg(argc, argv, 1, 10);
	long steps = wl_arg(argc, argv, 2, 400000);
	long max_live = wl_arg(argc, argv, 3, 128) << 20;

	struct wl_rng rng = {2024};
	struct slot *slots = wl_check(calloc(SLOTS, sizeof(*slots)), 1);
	memset(slots, 0, SLOTS * sizeof(*slots)); /* make it resident now */
	long base = wl_rss_kib();
	long live = 0, samples = 0, step = 0;
	double rss_sum = 0, live_sum = 0, ratio_max = 0, ratio_last = 0;
	double t0 = wl_now();

	for (long ph = 0; ph < phases; ph++) {
		int dist = (int)(ph % 5);
		long target = (ph & 1) ? max_live / 2 : max_live;
		for (long s = 0; s < steps; s++, step++) {
			struct slot *sl = &slots[wl_below(&rng, SLOTS)];
			if (sl->p) {
				wl_verify(sl->p, sl->size, sl->size);
				free(sl->p);
				live -= (long)sl->size;
				sl->p = NULL;
			}
			if (live < target) {
				sl->size = draw(&rng, dist);
				sl->p = wl_check(malloc(sl->size), sl->size);
				wl_stamp(sl->p, sl->size, sl->size);
				/* touch it all: live bytes are resident bytes */
				memset((char *)sl->p + 16 * (sl->size >= 32),
				       0x33, sl->size >= 32 ? sl->size - 32 : 0);
				live += (long)sl->size;
			}
			if ((s + 1) % (steps / 10 ? steps / 10 : 1) == 0) {
				long rss = wl_rss_kib() - base;
				double r = live ? (double)rss * 1024 / live : 0;
				printf("sample step=%ld live_kib=%ld rss_kib=%ld "
				       "t=%.3f\n",
				       step + 1, live / 1024, rss, wl_now() - t0);
				rss_sum += (double)rss;
				live_sum += (double)live / 1024;
				ratio_max = r > ratio_max ? r : ratio_max;
				ratio_last = r;
				samples++;
			}
		}
		/* end of phase: free 85% at random, leaving survivors spread */
		for (uint32_t i = 0; i < SLOTS; i++) {
			if (slots[i].p && wl_below(&rng, 100) < 85) {
				wl_verify(slots[i].p, slots[i].size,
					  slots[i].size);
				free(slots[i].p);
				live -= (long)slots[i].size;
				slots[i].p = NULL;
			}
		}
	}
	double secs = wl_now() - t0;
	for (uint32_t i = 0; i < SLOTS; i++)
		free(slots[i].p);
	free(slots);
	printf("frag: steps=%ld secs=%.3f rss_mean_kib=%.0f live_mean_kib=%.0f "
	       "rss_over_live=%.3f rss_over_live_max=%.3f "
	       "rss_over_live_last=%.3f ops_per_sec=%.0f\n",
	       step, secs, samples ? rss_sum / samples : 0,
	       samples ? live_sum / samples : 0,
	       live_sum > 0 ? rss_sum / live_sum : 0, ratio_max, ratio_last,
	       step / secs);
	return 0;
}
