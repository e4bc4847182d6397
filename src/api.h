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

/* operator new: retry through the new-handler, then throw bad_alloc (or
 * return NULL for the nothrow forms). */
void *pcm_new_impl(size_t n, size_t align, int nothrow);

PCM_END_DECLS

#endif
