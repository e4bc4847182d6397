/* Zero-size blocks.  See zero.h. */
#include "zero.h"
#include "arena.h"
#include "fmt.h"
#include "os.h"

#include <errno.h>

#define SLOT 16u
#define FIRST ((uintptr_t)PCM_META_PAGES << PCM_PAGE_SHIFT)
#define NSLOTS ((PCM_ARENA_SIZE - FIRST) / SLOT)
#define NWORDS ((NSLOTS + 63) / 64)

static struct pcm_arena *region;
static uint64_t *live; /* one bit a slot, set while allocated */
static size_t bump;    /* slots below it have been handed out once */
static size_t cursor;  /* where the search for a freed slot resumes */

static int setup(void)
{
	struct pcm_arena *a = pcm_os_reserve_aligned(PCM_ARENA_SIZE, PCM_ARENA_SIZE);
	if (!a)
		return 0;
	uint64_t *bits = pcm_os_map_aligned(NWORDS * 8, PCM_PAGE_SIZE);
	/* The descriptors read as zero (class 0: every call takes a slow
	 * path); the header says what the region is. */
	if (!bits || pcm_os_commit(a, FIRST) != 0) {
		pcm_os_unmap(a, PCM_ARENA_SIZE);
		if (bits)
			pcm_os_unmap(bits, NWORDS * 8);
		return 0;
	}
	a->magic = PCM_ARENA_MAGIC;
	a->zone = PCM_ZONE_ZERO;
	/* Two threads may race here: the first bitmap and the first region
	 * win, the others' are given back. */
	uint64_t *no_bits = NULL;
	if (!__atomic_compare_exchange_n(&live, &no_bits, bits, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		pcm_os_unmap(bits, NWORDS * 8);
	struct pcm_arena *expect = NULL;
	if (!__atomic_compare_exchange_n(&region, &expect, a, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		pcm_os_unmap(a, PCM_ARENA_SIZE);
		return 1;
	}
	pcm_arena_publish(a);
	return 1;
}

static void *slot_addr(size_t i)
{
	return (char *)region + FIRST + i * SLOT;
}

void *pcm_zero_alloc(void)
{
	if (!__atomic_load_n(&region, __ATOMIC_ACQUIRE) && !setup()) {
		errno = ENOMEM;
		return NULL;
	}
	size_t i = __atomic_fetch_add(&bump, 1, __ATOMIC_RELAXED);
	if (i < NSLOTS) {
		__atomic_fetch_or(&live[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
		return slot_addr(i);
	}
	__atomic_store_n(&bump, NSLOTS, __ATOMIC_RELAXED);
	/* Every slot handed out once: take a freed one. */
	size_t start = __atomic_load_n(&cursor, __ATOMIC_RELAXED) % NWORDS;
	for (size_t k = 0; k < NWORDS; k++) {
		size_t w = (start + k) % NWORDS;
		uint64_t v = __atomic_load_n(&live[w], __ATOMIC_RELAXED);
		while (~v) {
			unsigned b = (unsigned)__builtin_ctzll(~v);
			if (w * 64 + b >= NSLOTS)
				break;
			if (__atomic_compare_exchange_n(&live[w], &v, v | (1ull << b), 0,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				__atomic_store_n(&cursor, w, __ATOMIC_RELAXED);
				return slot_addr(w * 64 + b);
			}
		}
	}
	errno = ENOMEM;
	return NULL;
}

/* The slot of p, or NSLOTS when p is not a slot's address. */
static size_t slot_of(const void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)region;
	if (off < FIRST || (off - FIRST) % SLOT)
		return NSLOTS;
	return (off - FIRST) / SLOT;
}

PCM_COLD static void bad(const char *call, const void *p, size_t i)
{
	if (i == NSLOTS)
		pcm_fatal("%s(): invalid pointer %p (inside the region of "
			  "zero-size blocks, not a block)", call, p);
	pcm_fatal("%s(): %s of %p (a zero-size block)", call,
		  call[0] == 'f' ? "double free" : "use after free", p);
}

void pcm_zero_check(const char *call, const void *p)
{
	size_t i = slot_of(p);
	if (i == NSLOTS ||
	    !(__atomic_load_n(&live[i / 64], __ATOMIC_RELAXED) & (1ull << (i % 64))))
		bad(call, p, i);
}

void pcm_zero_free(const char *call, void *p)
{
	size_t i = slot_of(p);
	if (i == NSLOTS)
		bad(call, p, i);
	uint64_t bit = 1ull << (i % 64);
	if (!(__atomic_fetch_and(&live[i / 64], ~bit, __ATOMIC_RELAXED) & bit))
		bad(call, p, i);
}
