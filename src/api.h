/*
 * The malloc API behind the exported names (preload/shim.c): everything
 * that is not the inline fast path of alloc.h.  glibc's semantics
 * throughout: ENOMEM on any failed allocation, EINVAL for bad alignments,
 * requests above PTRDIFF_MAX fail, free preserves errno.
 */
#ifndef PCM_API_H
#define PCM_API_H

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>

#include "alloc.h"

PCM_BEGIN_DECLS

void *pcm_calloc_impl(size_t nmemb, size_t size);
void *pcm_realloc_impl(void *p, size_t n);
void *pcm_reallocarray_impl(void *p, size_t nmemb, size_t size);
/* align: any value; rounded up to a power of two as memalign does. */
void *pcm_memalign_impl(size_t align, size_t n);
void *pcm_aligned_alloc_impl(size_t align, size_t n);
int pcm_posix_memalign_impl(void **out, size_t align, size_t n);
void *pcm_valloc_impl(size_t n);
void *pcm_pvalloc_impl(size_t n);
size_t pcm_usable_size_impl(const void *p);
int pcm_owns_impl(const void *p);

int pcm_trim_impl(size_t pad);
int pcm_mallopt_impl(int param, int value);

/* Sized deallocation (free_sized, free_aligned_sized, sized operator
 * delete): a size that does not fit the block is diagnosed.  The inline
 * part accepts a slab object whose class is the size's; everything else
 * (other blocks, a mismatch, alignments) is checked by the slow part. */
void pcm_free_sized_slow(void *p, size_t n, size_t align, unsigned kind,
			 const char *call);

/* kind: what the release is (secure.h: malloc for free_sized, new for
 * delete, new[] for delete[]).  Secure mode's blocks are not at a slab
 * object's start (secure.h): they always take the slow part. */
PCM_INLINE void pcm_free_sized_fast(void *p, size_t n, unsigned kind,
				    const char *call)
{
	unsigned long cls;
	if (!PCM_CHECKS) {
		(void)n, (void)kind, (void)call;
		pcm_free_fast(p);
		return;
	}
	if (likely(pcm_free_class(p, &cls)) && likely(cls == pcm_size_class(n))) {
		pcm_cache_push(p, cls);
		return;
	}
	pcm_free_sized_slow(p, n, 0, kind, call);
}

/* operator new: retry through the new-handler, then throw bad_alloc (or
 * return NULL for the nothrow forms); kind: new or new[] (secure.h). */
void *pcm_new_impl(size_t n, size_t align, int nothrow, unsigned kind);
/* operator delete's slow path (free's, with the kind for secure mode). */
void pcm_delete_slow(void *p, unsigned kind);

PCM_END_DECLS

#endif
