/* Direct mappings and their radix registry.  See huge.h. */
#include "huge.h"
#include "conf.h"
#include "meta.h"
#include "os.h"
#include "peak.h"
#include "util.h"

#include <sys/types.h>

#define CHUNK_SHIFT PCM_HUGEPAGE_SHIFT
#define LEAF_BITS 13
#define TOP_BITS (PCM_VA_BITS - CHUNK_SHIFT - LEAF_BITS)

static struct pcm_huge **top[1ul << TOP_BITS];
static pcm_lock_t lock = PCM_LOCK_INIT(PCM_RANK_LEAF); /* registry writers, counters */
static size_t count, bytes, max_count, max_bytes;

/* The last blocks freed (address, length), so that a second free of one is
 * diagnosed rather than passed to the next allocator, which would crash on
 * it.  Written under the lock, read racily (a diagnosis only). */
#define GRAVEYARD 64
static struct {
	uintptr_t ptr;
	size_t len;
} graveyard[GRAVEYARD];
static unsigned graveyard_next;

_Static_assert(sizeof(struct pcm_huge) <= PCM_META_RECORD, "huge header");

static struct pcm_huge **slot(uintptr_t chunk, int create)
{
	struct pcm_huge **leaf =
		__atomic_load_n(&top[chunk >> LEAF_BITS], __ATOMIC_ACQUIRE);
	if (!leaf) {
		if (!create)
			return NULL;
		leaf = pcm_os_map_aligned(sizeof(*leaf) << LEAF_BITS, PCM_PAGE_SIZE);
		if (!leaf)
			return NULL;
		pcm_os_name(leaf, sizeof(*leaf) << LEAF_BITS, "pcmalloc metadata");
		__atomic_store_n(&top[chunk >> LEAF_BITS], leaf, __ATOMIC_RELEASE);
	}
	return &leaf[chunk & ((1ul << LEAF_BITS) - 1)];
}

struct pcm_huge *pcm_huge_find(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (a >> PCM_VA_BITS)
		return NULL;
	struct pcm_huge **s = slot(a >> CHUNK_SHIFT, 0);
	struct pcm_huge *h = s ? __atomic_load_n(s, __ATOMIC_ACQUIRE) : NULL;
	if (h && (a < (uintptr_t)h->ptr || a >= (uintptr_t)h->ptr + h->size))
		return NULL; /* someone else's memory in a chunk we share */
	return h;
}

/* Points every chunk of [ptr, ptr+size) at h (NULL to clear); lock held.
 * Returns 0 when a leaf could not be mapped. */
static int set_range(void *ptr, size_t size, struct pcm_huge *h)
{
	uintptr_t end = (uintptr_t)ptr + size;
	if (end < (uintptr_t)ptr || end > (1ul << PCM_VA_BITS))
		return h == NULL; /* no mapping can be there */
	uintptr_t first = (uintptr_t)ptr >> CHUNK_SHIFT;
	uintptr_t last = ((uintptr_t)ptr + size - 1) >> CHUNK_SHIFT;
	for (uintptr_t c = first; c <= last; c++) {
		struct pcm_huge **s = slot(c, h != NULL);
		if (!s) {
			if (h)
				set_range(ptr, (c - first) << CHUNK_SHIFT, NULL);
			return h == NULL;
		}
		__atomic_store_n(s, h, __ATOMIC_RELEASE);
	}
	return 1;
}

/* Maps the registry leaves covering [ptr, ptr+size) without writing any
 * entry (the range may still belong to someone else); 0 on failure. */
static int make_leaves(void *ptr, size_t size)
{
	uintptr_t end = (uintptr_t)ptr + size;
	if (end < (uintptr_t)ptr || end > (1ul << PCM_VA_BITS))
		return 0;
	for (uintptr_t c = (uintptr_t)ptr >> CHUNK_SHIFT;
	     c <= (end - 1) >> CHUNK_SHIFT; c += 1ul << LEAF_BITS)
		if (!slot(c, 1))
			return 0;
	return slot((end - 1) >> CHUNK_SHIFT, 1) != NULL;
}

static void hint(void *p, size_t size)
{
	if (pcm_conf.thp == PCM_THP_NEVER)
		pcm_os_hugepage(p, size, 0);
	else if (size >= PCM_HUGEPAGE_SIZE && pcm_conf_sys_thp() == PCM_THP_MADVISE)
		pcm_os_hugepage(p, size, 1);
}

/* Inaccessible gaps around each mapping, where the address space next to it
 * is free (a neighbour is never touched): a wild write or a scan just past
 * a huge block, or just before it, faults. */
#define GUARD (PCM_CHECKS ? 1u << 20 : 0)

/* The gap after h's mapping again, after its end moved (when the address
 * space there is still free). */
static void guard_hi_add(struct pcm_huge *h)
{
	h->guard_hi = 0;
	if (GUARD)
		h->guard_hi = pcm_os_guard((char *)h->ptr + h->size, GUARD) == 0 ? GUARD : 0;
}

static void guard_hi_drop(struct pcm_huge *h)
{
	if (h->guard_hi)
		pcm_os_unmap((char *)h->ptr + h->size, h->guard_hi);
	h->guard_hi = 0;
}

/* Unmaps a mapping with its gaps. */
static void unmap_block(void *p, size_t len, size_t lo, size_t hi)
{
	pcm_os_unmap((char *)p - lo, lo + len + hi);
}

/* A mapping for h of len bytes aligned to align, with its gaps when the
 * address space allows (ulimit -v), else without. */
static void *map_block(struct pcm_huge *h, size_t len, size_t align)
{
	void *p = GUARD ? pcm_os_map_guarded(len, align, GUARD) : NULL;
	if (p) {
		h->guard_lo = h->guard_hi = GUARD;
		return p;
	}
	h->guard_lo = h->guard_hi = 0;
	return pcm_os_map_aligned(len, align);
}

static void account(ssize_t dcount, ssize_t dbytes)
{
	count += (size_t)dcount;
	bytes += (size_t)dbytes;
	if (count > max_count)
		max_count = count;
	if (bytes > max_bytes)
		max_bytes = bytes;
	pcm_peak_direct_add(dbytes);
}

void *pcm_huge_alloc(size_t size, size_t align)
{
	size_t len = pcm_align_up(size, PCM_PAGE_SIZE);
	if (len < size)
		return NULL;
	if (align < PCM_HUGEPAGE_SIZE)
		align = PCM_HUGEPAGE_SIZE;
	struct pcm_huge *h = pcm_meta_alloc();
	if (!h)
		return NULL;
	void *p = map_block(h, len, align);
	if (!p) {
		pcm_meta_free(h);
		return NULL;
	}
	pcm_os_name(p, len, "pcmalloc huge");
	hint(p, len);
	h->ptr = p;
	h->size = len;
	h->align = align;
	pcm_lock(&lock);
	int ok = set_range(p, len, h);
	if (ok)
		account(1, (ssize_t)len);
	pcm_unlock(&lock);
	if (!ok) {
		unmap_block(p, len, h->guard_lo, h->guard_hi);
		pcm_meta_free(h);
		return NULL;
	}
	return p;
}

void pcm_huge_free(struct pcm_huge *h)
{
	void *p = h->ptr;
	size_t len = h->size;
	pcm_lock(&lock);
	set_range(p, len, NULL);
	account(-1, -(ssize_t)len);
	unsigned g = graveyard_next++ % GRAVEYARD;
	__atomic_store_n(&graveyard[g].len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&graveyard[g].ptr, (uintptr_t)p, __ATOMIC_RELEASE);
	pcm_unlock(&lock);
	unmap_block(p, len, h->guard_lo, h->guard_hi);
	pcm_meta_free(h);
}

void *pcm_huge_realloc(struct pcm_huge *h, size_t size)
{
	size_t len = pcm_align_up(size, PCM_PAGE_SIZE);
	if (len < size)
		return NULL;
	void *old = h->ptr;
	size_t old_len = h->size;
	if (len == old_len)
		return old;
	/* In place.  The registry's leaves for the new length exist first, so
	 * that registering cannot fail once the memory is ours; no entry is
	 * written before then (the space after us may be another mapping). */
	pcm_lock(&lock);
	int ok = make_leaves(old, len);
	pcm_unlock(&lock);
	guard_hi_drop(h); /* it moves with the block's end */
	if (ok && pcm_os_remap_inplace(old, old_len, len) == 0) {
		pcm_lock(&lock);
		if (len < old_len) /* forget the chunks given back */
			set_range((char *)old + len, old_len - len, NULL);
		set_range(old, len, h);
		h->size = len;
		account(0, (ssize_t)len - (ssize_t)old_len);
		pcm_unlock(&lock);
		guard_hi_add(h);
		return old;
	}
	if (len < old_len) {
		guard_hi_add(h);
		return NULL;
	}
	/* Move to a fresh aligned reservation, registered before the move so
	 * that failing to register leaves the block where it was. */
	struct pcm_huge moved = *h;
	void *dst = map_block(&moved, len, h->align);
	if (!dst) {
		guard_hi_add(h);
		return NULL;
	}
	pcm_lock(&lock);
	ok = set_range(dst, len, h); /* dst is ours: a fresh reservation */
	pcm_unlock(&lock);
	/* Only the old pages move: the rest of dst is fresh already (and
	 * valgrind loses track of a part grown by a moving mremap). */
	if (!ok || pcm_os_remap_move(old, old_len, old_len, dst) != 0) {
		pcm_lock(&lock);
		if (ok)
			set_range(dst, len, NULL);
		pcm_unlock(&lock);
		unmap_block(dst, len, moved.guard_lo, moved.guard_hi);
		guard_hi_add(h);
		return NULL;
	}
	hint(dst, len);
	pcm_lock(&lock);
	set_range(old, old_len, NULL);
	h->ptr = dst;
	h->size = len;
	account(0, (ssize_t)len - (ssize_t)old_len);
	pcm_unlock(&lock);
	/* The old block's pages moved; its gap before stays behind. */
	unmap_block(old, 0, h->guard_lo, 0);
	h->guard_lo = moved.guard_lo;
	h->guard_hi = moved.guard_hi;
	return dst;
}

size_t pcm_huge_freed_before(const void *p)
{
	for (unsigned i = 0; p && i < GRAVEYARD; i++)
		if (__atomic_load_n(&graveyard[i].ptr, __ATOMIC_ACQUIRE) == (uintptr_t)p)
			return __atomic_load_n(&graveyard[i].len, __ATOMIC_RELAXED);
	return 0;
}

void pcm_huge_totals(size_t *c, size_t *b, size_t *mc, size_t *mb)
{
	pcm_lock(&lock);
	*c = count, *b = bytes, *mc = max_count, *mb = max_bytes;
	pcm_unlock(&lock);
}

void pcm_huge_after_fork_child(uint32_t forker)
{
	/* Registry stores are single words: the table is consistent; a
	 * half-made allocation leaks at worst. */
	if (pcm_lock_vanished(&lock, forker))
		pcm_lock_reset(&lock);
}
