/*
 * Secure mode (PCMALLOC_CONF=secure:1, or libpcmalloc-secure.so, built with
 * PCM_SECURE_DEFAULT=1).  It turns the caches off (tcache:0), so every call
 * reaches a slow path, and there:
 *
 *   small objects  allocated from class(n + 8); after the n bytes asked for,
 *                  canary bytes, then an 8-byte footer (n, the allocation
 *                  kind, a keyed check of both and the address), all checked
 *                  at free and realloc, with the footer of the slot before
 *                  (an underflow); the slot is picked at random among the
 *                  first free ones of the slab (slab.c links fresh slabs
 *                  in a random order, filled with junk); freed objects are filled with junk, kept
 *                  in a bounded FIFO quarantine, and their junk is checked
 *                  when they leave it and when the slab hands them out again;
 *   larger blocks  direct mappings between guard gaps (huge.c), the bytes
 *                  after the request checked at free; freed, they are made
 *                  inaccessible and quarantined before being unmapped;
 *   kinds          new, new[] and malloc tag their blocks: delete of a new[]
 *                  block and delete[] of a new block are diagnosed;
 *   sizes          free_sized and sized delete must give the size asked for.
 *
 * The default mode pays nothing for it: the C++ entry points pass their
 * kind only on paths that the per-CPU mode never takes.
 */
#ifndef PCM_SECURE_H
#define PCM_SECURE_H

/* The byte freed memory is filled with. */
#define PCM_JUNK 0xdf

#include <stddef.h>
#include <stdint.h>

#include "util.h"

PCM_BEGIN_DECLS

/* Allocation kinds (what made the block) and release kinds. */
enum { PCM_KIND_MALLOC = 0, PCM_KIND_NEW = 1, PCM_KIND_NEW_ARRAY = 2 };
/* A release that gives no size. */
#define PCM_NO_SIZE ((size_t)-1)

/* n bytes aligned to align (<= 16: none) of the given kind; NULL + ENOMEM. */
void *pcm_secure_alloc(size_t n, size_t align, unsigned kind);

/* Releases p (checked) as `call` with the deallocation's kind (NEW for
 * delete, NEW_ARRAY for delete[], MALLOC for free) and size (PCM_NO_SIZE:
 * none given).  Returns 0, having done nothing, for a pointer secure mode
 * did not allocate (a zero-size block, reentrant or foreign memory): the
 * caller releases it as usual. */
int pcm_secure_free(void *p, unsigned kind, size_t size, const char *call);

/* Secure mode: free of a pointer at a slab object's start, which is never
 * a block's (diagnoses). */
_Noreturn void pcm_secure_bad_free(const void *p);

/* The size asked for of live block p (checked), or PCM_NO_SIZE when secure
 * mode did not allocate it. */
size_t pcm_secure_size(const void *p, const char *call);

/* Empties the quarantine (its checks made): malloc_trim. */
void pcm_secure_drain(void);

/* Fork: the quarantine's lock, held by a thread that is gone. */
void pcm_secure_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
