/* Size-class tables (built by tools/gen_sizeclass.c).  See sizeclass.h. */
#include "sizeclass.h"

#include "arena.h"
#include "sizeclass_tab.h"

#include <string.h>

/* Computed at build time (tools/gen_sizeclass.c): read-only data, shared
 * with every process that maps the library, with nothing to compute or
 * write at start-up. */
const uint8_t pcm_class_small[PCM_FAST_MAX + 1] = PCM_CLASS_SMALL_INIT;
const uint8_t pcm_class_mid[(PCM_SMALL_MAX >> 7) + 1] = PCM_CLASS_MID_INIT;
const uint8_t pcm_class_large[(PCM_CLASS_MAX >> 12) + 1] = PCM_CLASS_LARGE_INIT;
const struct pcm_class_info pcm_class_info[PCM_NR_CLASSES] = PCM_CLASS_INFO_INIT;
static const uint64_t class_mask[PCM_NR_CLASSES] = PCM_CLASS_MASK_INIT;
static const uint64_t class_magic[PCM_NR_CLASSES] = PCM_CLASS_MAGIC_INIT;

void pcm_sizeclass_init(void)
{
	/* free()'s boundary check reads these next to the arena map, from one
	 * base register (alloc.h): copied there, one page written. */
	_Static_assert(sizeof pcm_ptr_tab.mask == sizeof class_mask &&
		       sizeof pcm_ptr_tab.magic == sizeof class_magic, "class tables");
	memcpy(pcm_ptr_tab.mask, class_mask, sizeof class_mask);
	memcpy(pcm_ptr_tab.magic, class_magic, sizeof class_magic);
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
