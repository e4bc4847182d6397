/*
 * The exported names.  Each pcm_* entry point is defined once here, over the
 * inline fast paths and api.c; the C library's names (malloc, the glibc
 * extras and glibc's internal __libc_* names) and C++'s operator new/delete
 * (under their mangled names, so no libstdc++ is needed) are aliases of
 * them.  This file is linked into both libpcmalloc.so and libpcmalloc.a.
 */

#include "../src/api.h"
#include "../src/prof.h"
#include "../src/secure.h"
#include "../src/stats.h"
#include "../include/pcmalloc.h"

#include <errno.h>

#define ALIAS(name) __attribute__((alias(#name), visibility("default"), used))

/* ---- pcmalloc's own names ---- */

PCM_EXPORT void *pcm_malloc(size_t n)
{
	return pcm_malloc_fast(n);
}

PCM_EXPORT void pcm_free(void *p)
{
	pcm_free_fast(p);
}

PCM_EXPORT void *pcm_calloc(size_t nmemb, size_t size)
{
	return pcm_calloc_impl(nmemb, size);
}

PCM_EXPORT void *pcm_realloc(void *p, size_t n)
{
	return pcm_realloc_impl(p, n);
}

PCM_EXPORT void *pcm_aligned_alloc(size_t align, size_t n)
{
	return pcm_aligned_alloc_impl(align, n);
}

PCM_EXPORT int pcm_posix_memalign(void **out, size_t align, size_t n)
{
	return pcm_posix_memalign_impl(out, align, n);
}

PCM_EXPORT size_t pcm_usable_size(const void *p)
{
	return pcm_usable_size_impl(p);
}

PCM_EXPORT void pcm_free_sized(void *p, size_t size)
{
	pcm_free_sized_fast(p, size, PCM_KIND_MALLOC, "free_sized");
}

PCM_EXPORT int pcmalloc_owns(const void *p)
{
	return pcm_owns_impl(p);
}

PCM_EXPORT int pcmalloc_stats_get(struct pcmalloc_stats *st, size_t size)
{
	struct pcmalloc_stats full;
	if (size > sizeof full)
		size = sizeof full;
	if (size < sizeof(size_t))
		return -1;
	pcm_stats_collect(&full);
	__builtin_memcpy(st, &full, size);
	return 0;
}

PCM_EXPORT void pcmalloc_stats_print(int fd)
{
	pcm_stats_print(fd);
}

PCM_EXPORT void pcmalloc_stats_print_json(int fd)
{
	pcm_stats_print_json(fd);
}

PCM_EXPORT void pcmalloc_thread_flush(void)
{
	pcm_cache_flush();
}

PCM_EXPORT int pcmalloc_prof_dump(const char *path)
{
	return pcm_prof_dump_path(path);
}

static void *pcm_memalign(size_t align, size_t n)
{
	return pcm_memalign_impl(align, n);
}

static void *pcm_valloc(size_t n)
{
	return pcm_valloc_impl(n);
}

static void *pcm_pvalloc(size_t n)
{
	return pcm_pvalloc_impl(n);
}

static void *pcm_reallocarray(void *p, size_t nmemb, size_t size)
{
	return pcm_reallocarray_impl(p, nmemb, size);
}

static void pcm_free_aligned_sized(void *p, size_t align, size_t size)
{
	pcm_free_sized_slow(p, size, align, PCM_KIND_MALLOC, "free_aligned_sized");
}

static int pcm_malloc_trim(size_t pad)
{
	return pcm_trim_impl(pad);
}

static int pcm_mallopt(int param, int value)
{
	return pcm_mallopt_impl(param, value);
}

static struct mallinfo2 pcm_mallinfo2(void)
{
	return pcm_mallinfo2_impl();
}

static struct mallinfo pcm_mallinfo(void)
{
	struct mallinfo2 m2 = pcm_mallinfo2_impl();
	struct mallinfo m;
#define CLAMP(x) ((int)((x) > 0x7fffffff ? 0x7fffffff : (x)))
	m.arena = CLAMP(m2.arena);
	m.ordblks = CLAMP(m2.ordblks);
	m.smblks = CLAMP(m2.smblks);
	m.hblks = CLAMP(m2.hblks);
	m.hblkhd = CLAMP(m2.hblkhd);
	m.usmblks = CLAMP(m2.usmblks);
	m.fsmblks = CLAMP(m2.fsmblks);
	m.uordblks = CLAMP(m2.uordblks);
	m.fordblks = CLAMP(m2.fordblks);
	m.keepcost = CLAMP(m2.keepcost);
	return m;
}

static void pcm_malloc_stats(void)
{
	pcm_malloc_stats_impl();
}

static int pcm_malloc_info(int options, FILE *fp)
{
	return pcm_malloc_info_impl(options, fp);
}

/* ---- C ---- */
void *malloc(size_t) ALIAS(pcm_malloc);
void free(void *) ALIAS(pcm_free);
void cfree(void *) ALIAS(pcm_free);
void *calloc(size_t, size_t) ALIAS(pcm_calloc);
void *realloc(void *, size_t) ALIAS(pcm_realloc);
void *reallocarray(void *, size_t, size_t) ALIAS(pcm_reallocarray);
int posix_memalign(void **, size_t, size_t) ALIAS(pcm_posix_memalign);
void *aligned_alloc(size_t, size_t) ALIAS(pcm_aligned_alloc);
void *memalign(size_t, size_t) ALIAS(pcm_memalign);
void *valloc(size_t) ALIAS(pcm_valloc);
void *pvalloc(size_t) ALIAS(pcm_pvalloc);
size_t malloc_usable_size(void *) ALIAS(pcm_usable_size);
void free_sized(void *, size_t) ALIAS(pcm_free_sized);
void free_aligned_sized(void *, size_t, size_t) ALIAS(pcm_free_aligned_sized);
int malloc_trim(size_t) ALIAS(pcm_malloc_trim);
int mallopt(int, int) ALIAS(pcm_mallopt);
struct mallinfo mallinfo(void) ALIAS(pcm_mallinfo);
struct mallinfo2 mallinfo2(void) ALIAS(pcm_mallinfo2);
void malloc_stats(void) ALIAS(pcm_malloc_stats);
int malloc_info(int, FILE *) ALIAS(pcm_malloc_info);

/* ---- glibc's internal names ---- */
void *__libc_malloc(size_t) ALIAS(pcm_malloc);
void __libc_free(void *) ALIAS(pcm_free);
void *__libc_calloc(size_t, size_t) ALIAS(pcm_calloc);
void *__libc_realloc(void *, size_t) ALIAS(pcm_realloc);
void *__libc_memalign(size_t, size_t) ALIAS(pcm_memalign);
void *__libc_valloc(size_t) ALIAS(pcm_valloc);
void *__libc_pvalloc(size_t) ALIAS(pcm_pvalloc);
int __posix_memalign(void **, size_t, size_t) ALIAS(pcm_posix_memalign);
struct mallinfo __libc_mallinfo(void) ALIAS(pcm_mallinfo);
int __libc_mallopt(int, int) ALIAS(pcm_mallopt);

/* ---- C++ operator new / delete ---- */

/* new and delete are malloc's and free's fast paths whose misses pass the
 * kind (new or new[], secure.h) down: it costs the fast paths nothing. */
PCM_INLINE void *cxx_alloc(size_t n, int nothrow, unsigned kind)
{
	if (likely(n <= PCM_FAST_MAX)) {
		unsigned cls;
		void *p;
		if (likely(pcm_cache_try_size(n, &cls, &p)))
			return p;
	}
	return pcm_new_impl(n, 0, nothrow, kind);
}

PCM_INLINE void cxx_release(void *p, unsigned kind)
{
	unsigned long cls;
	if (likely(pcm_free_class(p, &cls))) {
		pcm_cache_push(p, cls);
		return;
	}
	pcm_delete_slow(p, kind);
}

#define NEW PCM_KIND_NEW
#define NEW_ARRAY PCM_KIND_NEW_ARRAY

static void *cxx_new(size_t n) { return cxx_alloc(n, 0, NEW); }
static void *cxx_new_array(size_t n) { return cxx_alloc(n, 0, NEW_ARRAY); }

static void *cxx_new_nothrow(size_t n, const void *tag)
{
	(void)tag;
	return cxx_alloc(n, 1, NEW);
}

static void *cxx_new_array_nothrow(size_t n, const void *tag)
{
	(void)tag;
	return cxx_alloc(n, 1, NEW_ARRAY);
}

static void *cxx_new_aligned(size_t n, size_t align)
{
	return pcm_new_impl(n, align, 0, NEW);
}

static void *cxx_new_array_aligned(size_t n, size_t align)
{
	return pcm_new_impl(n, align, 0, NEW_ARRAY);
}

static void *cxx_new_aligned_nothrow(size_t n, size_t align, const void *tag)
{
	(void)tag;
	return pcm_new_impl(n, align, 1, NEW);
}

static void *cxx_new_array_aligned_nothrow(size_t n, size_t align, const void *tag)
{
	(void)tag;
	return pcm_new_impl(n, align, 1, NEW_ARRAY);
}

static void cxx_delete(void *p) { cxx_release(p, NEW); }
static void cxx_delete_array(void *p) { cxx_release(p, NEW_ARRAY); }

static void cxx_delete_sized(void *p, size_t n)
{
	pcm_free_sized_fast(p, n, NEW, "operator delete");
}

static void cxx_delete_array_sized(void *p, size_t n)
{
	pcm_free_sized_fast(p, n, NEW_ARRAY, "operator delete[]");
}

static void cxx_delete_sized_aligned(void *p, size_t n, size_t align)
{
	pcm_free_sized_slow(p, n, align, NEW, "operator delete");
}

static void cxx_delete_array_sized_aligned(void *p, size_t n, size_t align)
{
	pcm_free_sized_slow(p, n, align, NEW_ARRAY, "operator delete[]");
}

/* delete(void*, nothrow_t const&), delete(void*, align_val_t) */
static void cxx_delete_2(void *p, size_t a)
{
	(void)a;
	cxx_release(p, NEW);
}

static void cxx_delete_array_2(void *p, size_t a)
{
	(void)a;
	cxx_release(p, NEW_ARRAY);
}

/* delete(void*, align_val_t, nothrow_t const&) */
static void cxx_delete_3(void *p, size_t a, size_t b)
{
	(void)a, (void)b;
	cxx_release(p, NEW);
}

static void cxx_delete_array_3(void *p, size_t a, size_t b)
{
	(void)a, (void)b;
	cxx_release(p, NEW_ARRAY);
}

/* new(size_t), new[](size_t) */
void *_Znwm(size_t) ALIAS(cxx_new);
void *_Znam(size_t) ALIAS(cxx_new_array);
/* new(size_t, nothrow_t const&) */
void *_ZnwmRKSt9nothrow_t(size_t, const void *) ALIAS(cxx_new_nothrow);
void *_ZnamRKSt9nothrow_t(size_t, const void *) ALIAS(cxx_new_array_nothrow);
/* new(size_t, align_val_t) */
void *_ZnwmSt11align_val_t(size_t, size_t) ALIAS(cxx_new_aligned);
void *_ZnamSt11align_val_t(size_t, size_t) ALIAS(cxx_new_array_aligned);
/* new(size_t, align_val_t, nothrow_t const&) */
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *)
	ALIAS(cxx_new_aligned_nothrow);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *)
	ALIAS(cxx_new_array_aligned_nothrow);
/* delete(void*), delete[](void*) */
void _ZdlPv(void *) ALIAS(cxx_delete);
void _ZdaPv(void *) ALIAS(cxx_delete_array);
/* delete(void*, size_t) */
void _ZdlPvm(void *, size_t) ALIAS(cxx_delete_sized);
void _ZdaPvm(void *, size_t) ALIAS(cxx_delete_array_sized);
/* delete(void*, nothrow_t const&) */
void _ZdlPvRKSt9nothrow_t(void *, size_t) ALIAS(cxx_delete_2);
void _ZdaPvRKSt9nothrow_t(void *, size_t) ALIAS(cxx_delete_array_2);
/* delete(void*, align_val_t) */
void _ZdlPvSt11align_val_t(void *, size_t) ALIAS(cxx_delete_2);
void _ZdaPvSt11align_val_t(void *, size_t) ALIAS(cxx_delete_array_2);
/* delete(void*, size_t, align_val_t) */
void _ZdlPvmSt11align_val_t(void *, size_t, size_t) ALIAS(cxx_delete_sized_aligned);
void _ZdaPvmSt11align_val_t(void *, size_t, size_t) ALIAS(cxx_delete_array_sized_aligned);
/* delete(void*, align_val_t, nothrow_t const&) */
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *, size_t, size_t)
	ALIAS(cxx_delete_3);
void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *, size_t, size_t)
	ALIAS(cxx_delete_array_3);
