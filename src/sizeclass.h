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

/* Requests up to PCM_FAST_MAX bytes: class by the size itself. */
#define PCM_FAST_MAX 1024
extern const uint8_t pcm_class_small[PCM_FAST_MAX + 1];         /* by n */
extern const uint8_t pcm_class_mid[(PCM_SMALL_MAX >> 7) + 1];   /* by (n+127)/128 */
extern const uint8_t pcm_class_large[(PCM_CLASS_MAX >> 12) + 1]; /* by (n+4095)/4096 */
extern const struct pcm_class_info pcm_class_info[PCM_NR_CLASSES];

/* pcm_class_small as a constant, also for the copy the cache front end
 * keeps in TLS; tests/unit/test_sizeclass.c checks it against the classes
 * tools/gen_sizeclass.c computes (which make the other tables,
 * sizeclass_tab.h). */
#define PCM_CLASS_SMALL_INIT                                            \
	{ [0] = 0, [1 ... 16] = 1, [17 ... 32] = 2, [33 ... 48] = 3, [49 ... 64] = 4,    \
	  [65 ... 80] = 5, [81 ... 96] = 6, [97 ... 112] = 7,                   \
	  [113 ... 128] = 8, [129 ... 144] = 9, [145 ... 160] = 10,             \
	  [161 ... 176] = 11, [177 ... 192] = 12, [193 ... 208] = 13,           \
	  [209 ... 224] = 14, [225 ... 240] = 15, [241 ... 256] = 16,           \
	  [257 ... 288] = 17, [289 ... 320] = 18, [321 ... 352] = 19,           \
	  [353 ... 384] = 20, [385 ... 416] = 21, [417 ... 448] = 22,           \
	  [449 ... 480] = 23, [481 ... 512] = 24, [513 ... 576] = 25,           \
	  [577 ... 640] = 26, [641 ... 704] = 27, [705 ... 768] = 28,           \
	  [769 ... 832] = 29, [833 ... 896] = 30, [897 ... 960] = 31,           \
	  [961 ... 1024] = 32 }

/* The class for n bytes, 0 when n is above PCM_CLASS_MAX (or before init). */
PCM_INLINE unsigned pcm_size_class(size_t n)
{
	if (likely(n <= PCM_FAST_MAX))
		return pcm_class_small[n];
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

/* Start-up: free()'s boundary-check tables (pcm_ptr_tab.mask, .magic). */
void pcm_sizeclass_init(void);

PCM_END_DECLS

#endif
