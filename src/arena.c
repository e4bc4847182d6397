/* Arena reservation and the lock-free registry.  See arena.h. */
#include "arena.h"
#include "conf.h"
#include "os.h"
#include "peak.h"

#include <errno.h>

struct pcm_ptr_tab pcm_ptr_tab;
size_t pcm_arena_mapped_bytes PCM_HOT, pcm_arena_brk_bytes PCM_HOT;
static int brk_failed PCM_HOT;
/* Serialises growth: glibc's sbrk is not thread-safe, and the two zones
 * grow independently (lock order: zone -> arena). */
static pcm_lock_t arena_lock = PCM_LOCK_INIT(PCM_RANK_ARENA);

struct pcm_arena *pcm_arena_create(int zone)
{
	struct pcm_arena *a = NULL;
	int from_brk = 0, saved = errno; /* a failed sbrk must not show */
	pcm_lock(&arena_lock);
	if (pcm_conf.brk && !__atomic_load_n(&brk_failed, __ATOMIC_RELAXED)) {
		a = pcm_os_brk_grow(PCM_ARENA_SIZE, PCM_ARENA_SIZE);
		if (a)
			from_brk = 1;
		else
			__atomic_store_n(&brk_failed, 1, __ATOMIC_RELAXED);
	}
	pcm_unlock(&arena_lock);
	/* The first 1 MiB (descriptors, header, the first pages) is
	 * committed at once, as the buddy layer would at its first block:
	 * one system call fewer for every process.  Not more: the buddy layer
	 * commits a small heap 1 MiB at a time, so that a wild write 1 MiB
	 * past its last block faults (buddy.c, extend). */
	size_t first = PCM_ARENA_FIRST_PAGES << PCM_PAGE_SHIFT;
	_Static_assert(PCM_META_PAGES < (PCM_HUGEPAGE_SIZE >> PCM_PAGE_SHIFT) / 2,
		       "arena metadata within its first 1 MiB");
	if (a) {
		/* Past that, inaccessible until the buddy layer commits it (a
		 * wild write far past the heap faults). */
		pcm_os_decommit((char *)a + first, PCM_ARENA_SIZE - first);
	} else {
		a = pcm_os_reserve_aligned(PCM_ARENA_SIZE, PCM_ARENA_SIZE);
		if (!a)
			return NULL;
		/* (An arena from brk shows as [heap] whatever its name.) */
		pcm_os_name(a, PCM_ARENA_SIZE, "pcmalloc arena");
		if (pcm_os_commit(a, first) != 0) {
			pcm_os_unmap(a, PCM_ARENA_SIZE);
			return NULL;
		}
	}
	errno = saved;

	/* Memory fresh from the OS is zero: only non-zero fields are set.
	 * The metadata pages' own descriptors stay PCM_PG_NONE (never
	 * described; their index tells them apart), so that making an arena
	 * writes only the descriptors' page of the pages it hands out. */
	a->magic = PCM_ARENA_MAGIC;
	a->zone = (uint8_t)zone;
	a->from_brk = (uint8_t)from_brk;
	a->frontier = (uint32_t)(first >> PCM_PAGE_SHIFT);

	if (pcm_conf.thp == PCM_THP_ALWAYS)
		pcm_os_hugepage(a, PCM_ARENA_SIZE, 1);
	/* else pcm_arena_first_grow(), if the arena grows */

	__atomic_fetch_add(&pcm_arena_mapped_bytes, PCM_ARENA_SIZE, __ATOMIC_RELAXED);
	pcm_peak_mapped_add((ssize_t)PCM_ARENA_SIZE);
	if (from_brk)
		__atomic_fetch_add(&pcm_arena_brk_bytes, PCM_ARENA_SIZE,
				   __ATOMIC_RELAXED);
	return a;
}

void pcm_arena_first_grow(struct pcm_arena *a)
{
	/* Sparse memory must not be backed by huge pages, even when the
	 * kernel would give them everywhere: slab regions get them back one
	 * by one as they fill (slab_thp_hint).  Whatever the kernel's mode
	 * (one call, where asking it would take three). */
	if (pcm_conf.thp != PCM_THP_ALWAYS)
		pcm_os_hugepage(a, PCM_ARENA_SIZE, 0);
}

void pcm_arena_publish(struct pcm_arena *a)
{
	__atomic_store_n(&pcm_arena_map[(uintptr_t)a >> PCM_ARENA_SHIFT], 1,
			 __ATOMIC_RELEASE);
}

int pcm_arena_destroy(struct pcm_arena *a)
{
	uint8_t *slot = &pcm_arena_map[(uintptr_t)a >> PCM_ARENA_SHIFT];
	__atomic_store_n(slot, 0, __ATOMIC_RELEASE); /* no longer ours */
	if (a->from_brk) {
		pcm_lock(&arena_lock);
		int ok = pcm_os_brk_shrink(a, PCM_ARENA_SIZE) == 0;
		if (ok) /* the break may grow again from here */
			__atomic_store_n(&brk_failed, 0, __ATOMIC_RELAXED);
		pcm_unlock(&arena_lock);
		if (!ok) {
			__atomic_store_n(slot, 1, __ATOMIC_RELEASE);
			return -1;
		}
		__atomic_fetch_sub(&pcm_arena_brk_bytes, PCM_ARENA_SIZE, __ATOMIC_RELAXED);
	} else {
		pcm_os_unmap(a, PCM_ARENA_SIZE);
	}
	__atomic_fetch_sub(&pcm_arena_mapped_bytes, PCM_ARENA_SIZE, __ATOMIC_RELAXED);
	pcm_peak_mapped_add(-(ssize_t)PCM_ARENA_SIZE);
	return 0;
}

void pcm_arena_after_fork_child(uint32_t forker)
{
	if (pcm_lock_vanished(&arena_lock, forker))
		pcm_lock_reset(&arena_lock);
}
