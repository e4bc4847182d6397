/* Size-class table construction.  See sizeclass.h. */
#include "sizeclass.h"

#include "arena.h"
#include "fmt.h"

uint8_t pcm_class_small[PCM_FAST_MAX + 1];
uint8_t pcm_class_mid[(PCM_SMALL_MAX >> 7) + 1];
uint8_t pcm_class_large[(PCM_CLASS_MAX >> 12) + 1];
struct pcm_class_info pcm_class_info[PCM_NR_CLASSES];

static unsigned pick_order(size_t size)
{
	/* Smallest slab holding enough objects with <= 1/16 left over; else
	 * the order with the least waste (ties: the smaller slab).  Enough is
	 * 4, and 16 from 1 KiB up: a working set of such objects larger than
	 * the CPU caches otherwise makes and unmakes a one-page slab every
	 * four objects (glibc-bench's 1 KiB and 4 KiB sets: 12% of its time). */
	size_t want = size >= 1024 ? 16 : 4;
	unsigned best = PCM_MAX_SLAB_ORDER;
	size_t best_waste = (size_t)-1;
	for (unsigned o = 0; o <= PCM_MAX_SLAB_ORDER; o++) {
		size_t slab = PCM_PAGE_SIZE << o, nobjs = slab / size;
		if (!nobjs)
			continue;
		size_t waste = slab - nobjs * size;
		if (nobjs >= want && waste * 16 <= slab)
			return o;
		/* compare waste fractions: waste / slab */
		if (best_waste == (size_t)-1 ||
		    waste * (PCM_PAGE_SIZE << best) < best_waste * slab) {
			best = o;
			best_waste = waste;
		}
	}
	return best;
}

static void set_class(unsigned cls, size_t size)
{
	struct pcm_class_info *ci = &pcm_class_info[cls];
	ci->size = (uint32_t)size;
	if (size > PCM_SMALL_MAX) { /* one object, a run of exactly its pages */
		ci->order = (uint8_t)pcm_log2_up(size >> PCM_PAGE_SHIFT);
		ci->nobjs = 1;
		ci->slab_pages = (uint16_t)(size >> PCM_PAGE_SHIFT);
	} else {
		ci->order = (uint8_t)pick_order(size);
		ci->nobjs = (uint16_t)((PCM_PAGE_SIZE << ci->order) / size);
		ci->slab_pages = (uint16_t)(1u << ci->order);
	}
	/* Thread caches: about 64 KiB a class, 4..128 objects; large classes
	 * about 256 KiB, at least one. */
	size_t max = 65536 / size;
	if (size > PCM_SMALL_MAX)
		max = (256u << 10) / size ? (256u << 10) / size : 1;
	else
		max = max < 4 ? 4 : max > 128 ? 128 : max;
	ci->cache_max = (uint16_t)max;
	ci->batch = (uint16_t)(ci->cache_max / 2 ? ci->cache_max / 2 : 1);
	ci->div_magic = UINT64_MAX / size + 1;
	/* free()'s boundary check (alloc.h): slabs are buddy blocks, aligned
	 * to their size, so an object's offset in its slab is the pointer's
	 * low bits.  A large class's run is only page-aligned, but its one
	 * object is at its head page, the only page that names the class. */
	if (size > PCM_SMALL_MAX) {
		pcm_ptr_tab.mask[cls] = PCM_PAGE_SIZE - 1;
		pcm_ptr_tab.magic[cls] = UINT64_MAX / PCM_PAGE_SIZE + 1;
	} else {
		pcm_ptr_tab.mask[cls] = (PCM_PAGE_SIZE << ci->order) - 1;
		pcm_ptr_tab.magic[cls] = ci->div_magic;
	}
}

/* table[i] = the smallest class of at least i << shift bytes. */
static void fill_table(uint8_t *table, size_t last, unsigned shift)
{
	unsigned c = 1;
	for (size_t i = 0; i <= last; i++) {
		while (pcm_class_info[c].size < (i << shift))
			c++;
		table[i] = (uint8_t)c;
	}
}

void pcm_sizeclass_init(void)
{
	unsigned cls = 0;
	for (size_t s = 16; s <= 128; s += 16)
		set_class(++cls, s);
	for (size_t base = 128; base < PCM_CLASS_MAX; base *= 2)
		for (size_t s = base + base / 8; s <= base * 2; s += base / 8)
			set_class(++cls, s);
	/* cls == PCM_NR_CLASSES - 1 here */
	fill_table(pcm_class_small, PCM_FAST_MAX, 0);
	pcm_class_small[0] = 0; /* malloc(0): the slow path's zero region */
	static const uint8_t expect[PCM_FAST_MAX + 1] = PCM_CLASS_SMALL_INIT;
	for (size_t n = 0; n <= PCM_FAST_MAX; n++)
		if (expect[n] != pcm_class_small[n])
			pcm_fatal("PCM_CLASS_SMALL_INIT disagrees with the size "
				  "classes at %zu bytes", n);
	fill_table(pcm_class_mid, PCM_SMALL_MAX >> 7, 7);
	fill_table(pcm_class_large, PCM_CLASS_MAX >> 12, 12);
}

unsigned pcm_size_class_aligned(size_t n, size_t align)
{
	if (n > PCM_CLASS_MAX)
		return 0;
	for (unsigned c = pcm_size_class(n ? n : 1); c && c < PCM_NR_CLASSES; c++)
		if (!(pcm_class_info[c].size & (align - 1)))
			return c;
	return 0;
}
