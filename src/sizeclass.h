/*
 * Size classes, 16 B to 1 MiB: multiples of 16 up to 128 B, then eight
 * classes per power of two, so rounding a request up wastes at most 12.5%
 * of it above 128 B.  Lookup is one table load.  Up to 32 KiB a class's
 * slab order is chosen so that the slab's unused tail stays small; above,
 * a class's "slab" is a run of exactly its size in pages holding one object
 * (a large class), so that large blocks are cached per CPU like small ones.
 */
#ifndef PCM_SIZECLASS_H
#define PCM_SIZECLASS_H

#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

extern uint8_t pcm_class_small[(1024 >> 4) + 1];          /* by (n+15)/16 */
extern uint8_t pcm_class_mid[(PCM_SMALL_MAX >> 7) + 1];   /* by (n+127)/128 */
extern uint8_t pcm_class_large[(PCM_CLASS_MAX >> 12) + 1]; /* by (n+4095)/4096 */
extern struct pcm_class_info pcm_class_info[PCM_NR_CLASSES];
/* pcm_class_info[c].div_magic, in a table of its own for the free path. */
extern uint64_t pcm_class_magic[PCM_NR_CLASSES];

/* The class for n bytes, 0 when n is above PCM_CLASS_MAX (or before init). */
PCM_INLINE unsigned pcm_size_class(size_t n)
{
	if (likely(n <= 1024))
		return pcm_class_small[(n + 15) >> 4];
	if (n <= PCM_SMALL_MAX)
		return pcm_class_mid[(n + 127) >> 7];
	if (n <= PCM_CLASS_MAX)
		return pcm_class_large[(n + 4095) >> 12];
	return 0;
}

/* 1 for a large class: one object a run of pages in the large zone. */
PCM_INLINE int pcm_class_is_large(unsigned cls)
{
	return pcm_class_info[cls].size > PCM_SMALL_MAX;
}

PCM_INLINE size_t pcm_class_size(unsigned cls)
{
	return pcm_class_info[cls].size;
}

/* The smallest class of at least n bytes whose size is a multiple of align
 * (a power of two <= page size), or 0. */
unsigned pcm_size_class_aligned(size_t n, size_t align);

void pcm_sizeclass_init(void);

PCM_END_DECLS

#endif
