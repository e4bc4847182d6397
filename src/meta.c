/* Metadata records.  See meta.h. */
#include "meta.h"
#include "config.h"
#include "lock.h"
#include "os.h"
#include "peak.h"
#include "vg.h"

#include <string.h>

#define CHUNK (64u << 10)

struct rec {
	struct rec *next;
};

static pcm_lock_t lock = PCM_LOCK_INIT(PCM_RANK_LEAF);
static struct rec *free_recs;
static char *bump, *bump_end;
static size_t mapped;

void *pcm_meta_alloc(void)
{
	void *r = NULL;
	pcm_lock(&lock);
	if (free_recs) {
		r = free_recs;
		free_recs = free_recs->next;
	} else {
		if (bump == bump_end) {
			char *c = pcm_os_map_aligned(CHUNK, PCM_PAGE_SIZE);
			if (c) {
				pcm_vg_hide(c, CHUNK); /* records hold block addresses */
				pcm_os_name(c, CHUNK, "pcmalloc metadata");
				bump = c;
				bump_end = c + CHUNK;
				mapped += CHUNK;
				pcm_peak_direct_add(CHUNK);
			}
		}
		if (bump != bump_end) {
			r = bump;
			bump += PCM_META_RECORD;
		}
	}
	pcm_unlock(&lock);
	if (r)
		memset(r, 0, PCM_META_RECORD);
	return r;
}

void pcm_meta_free(void *r)
{
	pcm_lock(&lock);
	((struct rec *)r)->next = free_recs;
	free_recs = r;
	pcm_unlock(&lock);
}

size_t pcm_meta_bytes(void)
{
	return __atomic_load_n(&mapped, __ATOMIC_RELAXED);
}

void pcm_meta_after_fork_child(uint32_t forker)
{
	if (pcm_lock_vanished(&lock, forker)) {
		/* Abandon the pool's free list and chunk; start new ones. */
		free_recs = NULL;
		bump = bump_end = NULL;
		pcm_lock_reset(&lock);
	}
}
