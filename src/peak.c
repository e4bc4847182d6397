/* Peaks of the memory figures.  See peak.h. */
#include "peak.h"
#include "config.h"

struct pcm_peaks pcm_peaks PCM_HOT;

void pcm_peak_note(size_t *peak, size_t v)
{
	size_t cur = __atomic_load_n(peak, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(peak, &cur, v, 1, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

static void note_resident(void)
{
	size_t v = (__atomic_load_n(&pcm_peaks.arena_pages, __ATOMIC_RELAXED) << PCM_PAGE_SHIFT) +
		   __atomic_load_n(&pcm_peaks.direct, __ATOMIC_RELAXED);
	pcm_peak_note(&pcm_peaks.resident_peak, v);
}

void pcm_peak_mapped_add(ssize_t delta)
{
	size_t v = __atomic_add_fetch(&pcm_peaks.mapped, (size_t)delta, __ATOMIC_RELAXED);
	if (delta > 0)
		pcm_peak_note(&pcm_peaks.mapped_peak, v);
}

void pcm_peak_direct_add(ssize_t delta)
{
	pcm_peak_mapped_add(delta);
	__atomic_add_fetch(&pcm_peaks.direct, (size_t)delta, __ATOMIC_RELAXED);
	if (delta > 0)
		note_resident();
}

void pcm_peak_arena_pages(size_t pages)
{
	/* Plain loads and stores (zones race: the last writer wins, close
	 * enough for an estimate); no locked instruction. */
	size_t old = __atomic_load_n(&pcm_peaks.arena_pages, __ATOMIC_RELAXED);
	__atomic_store_n(&pcm_peaks.arena_pages, pages, __ATOMIC_RELAXED);
	if (pages > old)
		note_resident();
}
