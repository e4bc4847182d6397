/* Blocks for calls that re-enter pcmalloc from a signal handler.  See
 * reentry.h. */
#include "reentry.h"
#include "config.h"
#include "os.h"

#include <errno.h>
#include <stdint.h>

#define SLOTS 64
#define CLAIMED ((uintptr_t)1)

/* A slot is free (0), being filled (CLAIMED) or holds a block's address.
 * Lookups are lock-free scans, made only after the arena and huge lookups
 * failed, and skipped while the table is empty. */
static struct {
	uintptr_t ptr;
	size_t len;
} table[SLOTS];
static unsigned live;

void *pcm_reentry_alloc(size_t n, size_t align)
{
	size_t len = pcm_align_up(n ? n : 1, PCM_PAGE_SIZE);
	if (len < n || align > ((size_t)1 << 30))
		goto nomem;
	for (unsigned i = 0; i < SLOTS; i++) {
		uintptr_t zero = 0;
		if (__atomic_load_n(&table[i].ptr, __ATOMIC_RELAXED) ||
		    !__atomic_compare_exchange_n(&table[i].ptr, &zero, CLAIMED, 0,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		void *p = pcm_os_map_aligned(len, align);
		if (!p) {
			__atomic_store_n(&table[i].ptr, 0, __ATOMIC_RELEASE);
			goto nomem;
		}
		pcm_os_name(p, len, "pcmalloc reentry");
		table[i].len = len;
		__atomic_fetch_add(&live, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&table[i].ptr, (uintptr_t)p, __ATOMIC_RELEASE);
		return p;
	}
nomem:
	errno = ENOMEM;
	return NULL;
}

static int find(const void *p)
{
	if (!__atomic_load_n(&live, __ATOMIC_RELAXED) || (uintptr_t)p <= CLAIMED)
		return -1;
	for (int i = 0; i < SLOTS; i++)
		if (__atomic_load_n(&table[i].ptr, __ATOMIC_ACQUIRE) == (uintptr_t)p)
			return i;
	return -1;
}

size_t pcm_reentry_usable(const void *p)
{
	int i = find(p);
	return i < 0 ? 0 : table[i].len;
}

int pcm_reentry_free(void *p)
{
	int i = find(p);
	if (i < 0)
		return 0;
	uintptr_t expect = (uintptr_t)p;
	size_t len = table[i].len;
	/* Whoever clears the slot unmaps: two racing frees of one block
	 * (a double free) cannot both unmap it. */
	if (!__atomic_compare_exchange_n(&table[i].ptr, &expect, 0, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return 0;
	__atomic_fetch_sub(&live, 1, __ATOMIC_RELAXED);
	pcm_os_unmap(p, len);
	return 1;
}
