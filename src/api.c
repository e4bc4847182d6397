/* The API's slow paths.  See api.h. */

#include "api.h"
#include "background.h"
#include "buddy.h"
#include "cache.h"
#include "conf.h"
#include "fmt.h"
#include "huge.h"
#include "large.h"
#include "lifecycle.h"
#include "os.h"
#include "percpu.h"
#include "prof.h"
#include "publish.h"
#include "reentry.h"
#include "secure.h"
#include "slab.h"
#include "vg.h"
#include "zero.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static void *enomem(void)
{
	errno = ENOMEM;
	return NULL;
}

PCM_COLD void pcm_bad_pointer(const char *call, const void *p, unsigned cls)
{
	pcm_fatal("%s(): invalid pointer %p (inside a %u-byte object, not its "
		  "start)", call, p, (unsigned)pcm_class_size(cls));
}

/* An object of class cls, from the caches or, when they miss, the slabs
 * behind them.  The allocator is started. */
static void *small_alloc(unsigned cls)
{
	void *p;
	if (likely(pcm_cache_try(cls, pcm_cache_key(), &p)))
		return p;
	return pcm_cache_miss(cls);
}

/* ---- memory that is not ours ---- */

enum { NEXT_FREE, NEXT_REALLOC, NEXT_USABLE, NR_NEXT };
static const char next_names[NR_NEXT][20] = { "free", "realloc",
						 "malloc_usable_size" };
static void *next_fns[NR_NEXT];
extern void free(void *);
extern void *realloc(void *, size_t);
extern size_t malloc_usable_size(void *);

/* The allocator after us in symbol lookup order, for memory it handed out
 * (libraries opened with RTLD_DEEPBIND, allocations made before pcmalloc
 * was loaded); NULL when there is none. */
static void *next_fn(int which)
{
	void *f = __atomic_load_n(&next_fns[which], __ATOMIC_ACQUIRE);
	if (!f) {
		void *self[NR_NEXT] = { (void *)free, (void *)realloc,
					(void *)malloc_usable_size };
		f = pcm_os_next_symbol(next_names[which]);
		if (!f || f == self[which])
			f = (void *)1;
		__atomic_store_n(&next_fns[which], f, __ATOMIC_RELEASE);
	}
	return f == (void *)1 ? NULL : f;
}

PCM_COLD static void *foreign(int which, const char *call, void *p, size_t n)
{
	size_t gone = pcm_huge_freed_before(p);
	if (gone)
		pcm_fatal("%s(): %s of %p (a %zu-byte block pcmalloc unmapped "
			  "when it was freed)", call,
			  which == NEXT_FREE ? "double free" : "use after free", p, gone);
	void *f = next_fn(which);
	if (!f)
		pcm_fatal("%s(): invalid pointer %p (not allocated by pcmalloc)",
			  call, p);
	switch (which) {
	case NEXT_FREE:
		((void (*)(void *))f)(p);
		return NULL;
	case NEXT_REALLOC:
		return ((void *(*)(void *, size_t))f)(p, n);
	default:
		return (void *)((size_t (*)(void *))f)(p);
	}
}

/* ---- other tools that own the heap ---- */

/*
 * Decided at the first slow path, before start-up (whose system calls a
 * sanitizer would intercept before it is ready: an ASan program with
 * pcmalloc preloaded died in getrandom):
 *
 *   a sanitizer runtime (ASan, TSan, MSan, HWASan, LSan) is in the process:
 *     pcmalloc steps aside and passes every call to the sanitizer's own
 *     malloc (its __interceptor_* functions, found by weak reference: no
 *     dlsym, which itself allocates and frees), which then checks the heap
 *     as if pcmalloc were not there; pcmalloc itself never starts.
 *   valgrind's memcheck runs the program: calls go through vg.c, which
 *     describes every block to memcheck.
 *
 * Until decided, and when either applies, pcm_divert is non-zero; the slow
 * paths test it, the fast paths never do (memcheck and stepping aside turn
 * the caches off or never fill them, so every call reaches a slow path).
 */
enum { DIVERT_UNDECIDED = 1, DIVERT_MEMCHECK = 2, DIVERT_ASIDE = 3 };
static int pcm_divert = DIVERT_UNDECIDED;

extern void __asan_init(void) __attribute__((weak));
extern void __tsan_init(void) __attribute__((weak));
extern void __msan_init(void) __attribute__((weak));
extern void __hwasan_init(void) __attribute__((weak));
extern void __lsan_init(void) __attribute__((weak));

extern void *__interceptor_malloc(size_t) __attribute__((weak));
extern void __interceptor_free(void *) __attribute__((weak));
extern void *__interceptor_calloc(size_t, size_t) __attribute__((weak));
extern void *__interceptor_realloc(void *, size_t) __attribute__((weak));
extern void *__interceptor_memalign(size_t, size_t) __attribute__((weak));
extern size_t __interceptor_malloc_usable_size(const void *) __attribute__((weak));

/* A sanitizer whose malloc pcmalloc can hand every call to.  Not in the
 * builds that put pcmalloc itself under a sanitizer (make fuzz, make tsan:
 * PCM_SANITIZER_BUILD), where the sanitizer keeps malloc and the test
 * calls the pcm_* entry points. */
static int sanitizer_heap(void)
{
#ifdef PCM_SANITIZER_BUILD
	return 0;
#endif
	return (__asan_init || __tsan_init || __msan_init || __hwasan_init ||
		__lsan_init) &&
	       __interceptor_malloc && __interceptor_free && __interceptor_calloc &&
	       __interceptor_realloc && __interceptor_memalign &&
	       __interceptor_malloc_usable_size;
}

/* 0: run normally; else how to divert this call. */
PCM_NOINLINE static int divert_now(void)
{
	int d = __atomic_load_n(&pcm_divert, __ATOMIC_RELAXED);
	if (d == DIVERT_UNDECIDED) {
		d = 0;
		if (sanitizer_heap())
			d = DIVERT_ASIDE;
		else if (pcm_vg_wanted())
			d = DIVERT_MEMCHECK;
		__atomic_store_n(&pcm_divert, d, __ATOMIC_RELAXED);
		if (d == DIVERT_MEMCHECK)
			pcm_vg_setup();
	}
	if (d == DIVERT_MEMCHECK && pcm_vg_inside())
		return 0;
	return d;
}

/* One predictable branch when nothing else owns the heap. */
PCM_INLINE int diverted(void)
{
	return unlikely(__atomic_load_n(&pcm_divert, __ATOMIC_RELAXED)) ? divert_now() : 0;
}

/* ---- malloc ---- */

/* Empties the caches into the slabs, the slabs' empty pages into the page
 * heap, and gives back the arenas none of whose pages is in use: how many. */
static size_t release_cached(void)
{
	pcm_cache_flush();
	pcm_percpu_drain(0);
	pcm_slab_release_empty();
	return pcm_zones_release_free();
}

/* A direct mapping; when the OS refuses it (address space or data limits),
 * arenas none of whose pages is in use are given back and it is tried once
 * more; failing that, the caches are emptied first (a block that a cache
 * keeps keeps its whole arena: after a program freed everything, every
 * arena may still hold one) and it is tried a last time. */
static void *big_mapping(size_t n, size_t align)
{
	void *p = pcm_huge_alloc(n, align);
	if (!p && pcm_zones_release_free())
		p = pcm_huge_alloc(n, align);
	if (!p && release_cached())
		p = pcm_huge_alloc(n, align);
	return p ? p : enomem();
}

static void *alloc_big(size_t n, size_t align, int zero)
{
	if (pcm_reentered()) /* fresh mappings read as zero */
		return pcm_reentry_alloc(n, align);
	pcm_init();
	if (n <= PCM_LARGE_MAX && align <= (PCM_PAGE_SIZE << PCM_MAX_ORDER)) {
		void *p = pcm_large_alloc(n, align, zero);
		if (p)
			return pcm_prof_alloc(p, n);
		/* No arena could be had (address space or commit limits): a
		 * mapping of just this size may still fit. */
	}
	return pcm_prof_alloc(big_mapping(n, align), n);
}

PCM_NOINLINE void *pcm_malloc_slow(size_t n, unsigned cls)
{
	int d = diverted();
	if (unlikely(d))
		return d == DIVERT_ASIDE ? __interceptor_malloc(n) : pcm_vg_malloc(n);
	/* Above PCM_FAST_MAX, a class the caches hold: for a thread they
	 * serve (the allocator is started; not secure, not profiled: those
	 * turn the caches off), the pop the fast path makes below. */
	if (!cls && n - (PCM_FAST_MAX + 1) <= PCM_CLASS_MAX - (PCM_FAST_MAX + 1) &&
	    likely(pcm_tc.state == PCM_CACHE_PERCPU || pcm_tc.state == PCM_CACHE_THREAD)) {
		cls = pcm_size_class(n);
		void *p;
		if (pcm_tc.state == PCM_CACHE_PERCPU &&
		    likely(pcm_cache_try(cls, pcm_cache_key(), &p)))
			return p;
	}
	/* A thread on its per-thread cache comes here for every small
	 * malloc: straight to it (the allocator is started). */
	if (likely(cls) && pcm_tc.state == PCM_CACHE_THREAD)
		return pcm_cache_miss(cls);
	pcm_background_check(1);
	if (!PCM_CHECKS && n == 0)
		n = 1;
	if (unlikely(n == 0) && !pcm_reentered()) { /* class 0: see zero.h */
		pcm_init();
		return pcm_zero_alloc();
	}
	pcm_init(); /* PCMALLOC_CONF is read: secure mode is known */
	pcm_publish_poll();
	if (unlikely(pcm_conf.secure) && !pcm_reentered())
		return pcm_secure_alloc(n, 0, PCM_KIND_MALLOC);
	if (n <= PCM_CLASS_MAX) {
		if (pcm_reentered()) /* calloc clears the whole class size */
			return pcm_reentry_alloc(pcm_class_size(pcm_size_class(n ? n : 1)),
						 PCM_MIN_ALIGN);
		pcm_init();
		/* With cls known, the fast path has just tried the cache.
		 * Profiling turns the caches off: every allocation comes here. */
		void *p = cls ? pcm_cache_miss(cls) : small_alloc(pcm_size_class(n));
		p = pcm_prof_alloc(p, n);
		if (likely(p) || n <= PCM_SMALL_MAX)
			return p;
		return big_mapping(n, PCM_PAGE_SIZE); /* no arena could be had */
	}
	if (n > PTRDIFF_MAX)
		return enomem();
	return alloc_big(n, PCM_PAGE_SIZE, 0);
}

/* ---- free ---- */

/* Secure mode's release of p (0: not its block, nothing done).  Its frees
 * fill the quarantine, which only the worker empties once the program goes
 * quiet: like every free slow path, they wake it (errno kept). */
static int secure_free(void *p, unsigned kind, size_t n, const char *call)
{
	if (!pcm_secure_free(p, kind, n, call))
		return 0;
	if (!pcm_reentered()) {
		int saved = errno;
		pcm_background_check(0);
		errno = saved;
	}
	return 1;
}

PCM_NOINLINE void pcm_free_slow(void *p)
{
	int d = diverted();
	if (unlikely(d)) {
		if (d == DIVERT_ASIDE)
			__interceptor_free(p);
		else
			pcm_vg_free(p);
		return;
	}
	if (unlikely(pcm_conf.secure) && secure_free(p, PCM_KIND_MALLOC,
						     PCM_NO_SIZE, "free"))
		return;
	int saved = errno;
	struct pcm_arena *a = pcm_arena_of(p);
	if (pcm_reentered()) {
		/* From a signal handler inside pcmalloc: what needs a lock
		 * is left undone (the block leaks). */
		if (!a && p)
			pcm_reentry_free(p);
	} else if (a && unlikely(pcm_zero_arena(a))) {
		pcm_zero_free("free", p);
	} else if (a) {
		struct pcm_page *pg = pcm_page_of(a, p);
		if (pg->cls) /* the fast path found p off an object's start */
			pcm_bad_pointer("free", p, pg->cls);
		pcm_large_check("free", p, pg);
		pcm_prof_free(p);
		pcm_large_free(pg);
	} else if (p) {
		struct pcm_huge *h = pcm_huge_find(p);
		if (h && h->ptr == p) {
			pcm_prof_free(p);
			pcm_huge_free(h);
		}
		else if (h)
			pcm_fatal("free(): invalid pointer %p (inside a %zu-byte "
				  "mapping at %p, not its start)", p, h->size, h->ptr);
		else if (!pcm_reentry_free(p))
			foreign(NEXT_FREE, "free", p, 0);
	}
	if (p && !pcm_reentered())
		pcm_background_check(0);
	errno = saved;
}

/* ---- sized free ---- */

PCM_COLD static void bad_size(const char *call, const void *p, size_t n,
			      size_t align, size_t have)
{
	if (align)
		pcm_fatal("%s(): size %zu (alignment %zu) does not fit the block at "
			  "%p (%zu usable bytes)", call, n, align, p, have);
	pcm_fatal("%s(): size %zu does not fit the block at %p (%zu usable "
		  "bytes)", call, n, p, have);
}

/* Whether n bytes aligned to align (0: not given) fit block p, then the
 * free.  A block's usable size is what its request rounds up to: a slab
 * object's class, a run's or a mapping's pages. */
PCM_NOINLINE void pcm_free_sized_slow(void *p, size_t n, size_t align,
				      unsigned kind, const char *call)
{
	if (unlikely(diverted())) { /* memcheck's blocks are bigger */
		pcm_free_slow(p);
		return;
	}
	if (unlikely(pcm_conf.secure) && secure_free(p, kind, n, call))
		return;
	struct pcm_arena *a = pcm_arena_of(p);
	if (p && !pcm_reentered() && pcm_is_initialised()) {
		size_t pages = pcm_align_up(n ? n : 1, PCM_PAGE_SIZE) >> PCM_PAGE_SHIFT;
		if (a && pcm_zero_arena(a)) {
			if (n)
				bad_size(call, p, n, align, 0);
		} else if (a) {
			struct pcm_page *pg = pcm_page_of(a, p);
			unsigned cls = pcm_small_class_of(call, a, p);
			if (cls) {
				/* n's class, or (realloc keeps a block that
				 * shrinks by less than half, and one that
				 * moves to grow takes a quarter more) a block
				 * at most twice n. */
				size_t have = pcm_class_size(cls);
				if (cls != pcm_size_class(n) &&
				    (n > have || 2 * n < have) &&
				    (align <= PCM_MIN_ALIGN ||
				     cls != pcm_size_class_aligned(n, align)))
					bad_size(call, p, n, align, have);
			} else {
				pg = pcm_large_check(call, p, pg);
				if (pg->run_pages != pages)
					bad_size(call, p, n, align,
						 pg->run_pages << PCM_PAGE_SHIFT);
			}
		} else {
			struct pcm_huge *h = pcm_huge_find(p);
			if (h && h->ptr == p && h->size != pages << PCM_PAGE_SHIFT)
				bad_size(call, p, n, align, h->size);
		}
	}
	pcm_free_fast(p);
}

/* ---- the rest of the API ---- */

void *pcm_calloc_impl(size_t nmemb, size_t size)
{
	int d = diverted();
	if (unlikely(d))
		return d == DIVERT_ASIDE
			       ? __interceptor_calloc(nmemb, size)
			       : pcm_vg_calloc(nmemb, size);
	size_t n;
	if (unlikely(__builtin_mul_overflow(nmemb, size, &n)))
		return enomem();
	if (n == 0)
		return pcm_malloc_fast(0);
	pcm_init(); /* before the class tables are read */
	if (unlikely(pcm_conf.secure) && !pcm_reentered()) {
		void *p = pcm_secure_alloc(n, 0, PCM_KIND_MALLOC);
		if (p)
			memset(p, 0, n);
		return p;
	}
	unsigned cls = pcm_size_class(n);
	/* Large classes too would come dirty from the caches; the run path
	 * knows when fresh pages need no clearing (and leaves them
	 * untouched). */
	if (likely(cls) && n <= PCM_SMALL_MAX) {
		void *p = pcm_malloc_fast(n);
		if (p)
			memset(p, 0, pcm_class_size(cls));
		return p;
	}
	if (n > PTRDIFF_MAX)
		return enomem();
	/* Large runs are zeroed only when dirty; huge mappings are fresh. */
	return alloc_big(n, PCM_PAGE_SIZE, 1);
}

/* Usable size of a live allocation p (checked), naming `call` if invalid;
 * 0 for memory that is not ours, and for a zero-size block (*zero set). */
static size_t usable(const char *call, const void *p, struct pcm_huge **hp,
		     int *zero)
{
	struct pcm_arena *a = pcm_arena_of(p);
	*hp = NULL;
	*zero = a && pcm_zero_arena(a);
	if (*zero) {
		pcm_zero_check(call, p);
		return 0;
	}
	if (a) {
		unsigned cls = pcm_small_class_of(call, a, p);
		if (cls)
			return pcm_class_size(cls);
		struct pcm_page *pg =
			pcm_large_check(call, (void *)p, pcm_page_of(a, p));
		return pg->run_pages << PCM_PAGE_SHIFT;
	}
	struct pcm_huge *h = pcm_huge_find(p);
	if (h && h->ptr == p) {
		*hp = h;
		return h->size;
	}
	if (h)
		pcm_fatal("%s(): invalid pointer %p (inside a %zu-byte mapping at "
			  "%p, not its start)", call, p, h->size, h->ptr);
	return pcm_reentry_usable(p); /* 0: not ours */
}

void *pcm_realloc_impl(void *p, size_t n)
{
	int d = diverted();
	if (unlikely(d))
		return d == DIVERT_ASIDE
			       ? __interceptor_realloc(p, n)
			       : pcm_vg_realloc(p, n);
	if (!p)
		return pcm_malloc_fast(n);
	if (n == 0) { /* glibc: frees and returns NULL */
		pcm_free_fast(p);
		return NULL;
	}
	if (unlikely(pcm_conf.secure) && !pcm_reentered()) {
		/* Always moves: the old block goes to the quarantine. */
		size_t asked = pcm_secure_size(p, "realloc");
		if (asked != PCM_NO_SIZE) {
			void *q = n > PTRDIFF_MAX ? enomem()
						  : pcm_secure_alloc(n, 0, PCM_KIND_MALLOC);
			if (!q)
				return NULL;
			memcpy(q, p, asked < n ? asked : n);
			secure_free(p, PCM_KIND_MALLOC, PCM_NO_SIZE, "realloc");
			return q;
		}
	}
	struct pcm_huge *h;
	int zero;
	size_t old = usable("realloc", p, &h, &zero);
	if (!old && !zero)
		return foreign(NEXT_REALLOC, "realloc", p, n);
	if (n > PTRDIFF_MAX)
		return enomem();
	struct pcm_arena *a = zero ? NULL : pcm_arena_of(p);
	if (a) {
		struct pcm_page *pg = pcm_page_of(a, p);
		if (pg->cls) {
			/* It fits, and shrinking would free less than half:
			 * in place (a block grown ahead, below, stays). */
			if (n <= old && n >= old / 2)
				return p;
		} else if (n > PCM_SMALL_MAX && n <= PCM_LARGE_MAX && !pcm_reentered()) {
			/* A large run shrinks, or grows over free pages after
			 * it, in place. */
			if (n <= old) {
				pcm_large_shrink(pg, n);
				return p;
			}
			if (pcm_large_grow(pg, n))
				return p;
		}
	} else if (h && n > PCM_LARGE_MAX && !pcm_reentered()) {
		pcm_prof_free(p); /* a sample of p is dropped, not resized */
		void *q = pcm_huge_realloc(h, n);
		if (q)
			return q;
		/* mremap could not: try a fresh block below */
	}
	/* A block that moves to grow takes a quarter more than it had, when
	 * that is still a class: a buffer grown step by step is copied
	 * O(log) times, not once per class (the extra is its usable size). */
	size_t want = n;
	if (n > old && old + old / 4 > n && old + old / 4 <= PCM_CLASS_MAX)
		want = old + old / 4;
	void *q = pcm_malloc_fast(want);
	if (!q && want > n)
		q = pcm_malloc_fast(n);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	pcm_free_fast(p);
	return q;
}

void *pcm_reallocarray_impl(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n))
		return enomem();
	return pcm_realloc_impl(p, n);
}

void *pcm_memalign_impl(size_t align, size_t n)
{
	int d = diverted();
	if (unlikely(d))
		return d == DIVERT_ASIDE
			       ? __interceptor_memalign(align, n)
			       : pcm_vg_memalign(align, n);
	if (align <= PCM_MIN_ALIGN)
		return pcm_malloc_fast(n);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!pcm_is_pow2(align))
		align = 1ul << pcm_log2_up(align);
	if (n > PTRDIFF_MAX)
		return enomem();
	pcm_init();
	if (unlikely(pcm_conf.secure) && !pcm_reentered())
		return pcm_secure_alloc(n, align, PCM_KIND_MALLOC);
	if (align <= PCM_PAGE_SIZE && n <= PCM_CLASS_MAX) {
		unsigned cls = pcm_size_class_aligned(n, align);
		if (cls) {
			if (pcm_reentered())
				return pcm_reentry_alloc(pcm_class_size(cls), align);
			return pcm_prof_alloc(small_alloc(cls), n);
		}
	}
	return alloc_big(n ? n : 1, align, 0);
}

void *pcm_aligned_alloc_impl(size_t align, size_t n)
{
	if (!pcm_is_pow2(align)) { /* as C17 and glibc >= 2.38 */
		errno = EINVAL;
		return NULL;
	}
	return pcm_memalign_impl(align, n);
}

int pcm_posix_memalign_impl(void **out, size_t align, size_t n)
{
	if (!pcm_is_pow2(align) || align % sizeof(void *))
		return EINVAL;
	void *p = pcm_memalign_impl(align, n);
	if (!p)
		return ENOMEM; /* errno is ENOMEM too, as glibc leaves it */
	*out = p;
	return 0;
}

void *pcm_valloc_impl(size_t n)
{
	return pcm_memalign_impl(PCM_PAGE_SIZE, n);
}

void *pcm_pvalloc_impl(size_t n)
{
	size_t r = pcm_align_up(n ? n : 1, PCM_PAGE_SIZE);
	if (r < n)
		return enomem();
	return pcm_memalign_impl(PCM_PAGE_SIZE, r);
}

size_t pcm_usable_size_impl(const void *p)
{
	int d = diverted();
	if (unlikely(d))
		return d == DIVERT_ASIDE
			       ? __interceptor_malloc_usable_size(p)
			       : pcm_vg_usable(p);
	if (!p)
		return 0;
	if (unlikely(pcm_conf.secure)) { /* exactly what was asked for */
		size_t asked = pcm_secure_size(p, "malloc_usable_size");
		if (asked != PCM_NO_SIZE)
			return asked;
	}
	struct pcm_huge *h;
	int zero;
	size_t n = usable("malloc_usable_size", p, &h, &zero);
	if (!n && !zero)
		return (size_t)foreign(NEXT_USABLE, "malloc_usable_size", (void *)p, 0);
	return n;
}

int pcm_owns_impl(const void *p)
{
	if (diverted() == DIVERT_MEMCHECK)
		return pcm_vg_owns(p);
	return pcm_arena_of(p) != NULL || pcm_huge_find(p) != NULL;
}

int pcm_trim_impl(size_t pad)
{
	(void)pad;
	if (diverted() == DIVERT_MEMCHECK)
		return pcm_vg_trim(pad);
	if (!pcm_is_initialised() || pcm_reentered())
		return 0;
	int saved = errno;
	if (pcm_conf.secure)
		pcm_secure_drain();
	size_t purged = release_cached();
	for (int z = 0; z < PCM_NR_ZONES; z++)
		purged += pcm_zone_purge(&pcm_zones[z], 0);
	errno = saved;
	return purged != 0;
}

int pcm_mallopt_impl(int param, int value)
{
	switch (param) {
	case M_TRIM_THRESHOLD: /* free memory kept before giving it back */
		if (value >= 0)
			pcm_conf.dirty_max_pages = (size_t)value >> PCM_PAGE_SHIFT;
		return 1;
	case M_MXFAST:
	case M_TOP_PAD:
	case M_MMAP_THRESHOLD:
	case M_MMAP_MAX:
	case M_CHECK_ACTION:
	case M_PERTURB:
	case M_ARENA_TEST:
	case M_ARENA_MAX:
		return 1; /* accepted; pcmalloc's geometry is fixed */
	default:
		return 0;
	}
}

/* ---- C++ ---- */

typedef void (*new_handler_fn)(void);
extern new_handler_fn _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

PCM_NOINLINE void *pcm_new_impl(size_t n, size_t align, int nothrow,
				unsigned kind)
{
	for (;;) {
		pcm_init();
		void *p = unlikely(pcm_conf.secure) && !pcm_reentered() && !diverted()
				  ? pcm_secure_alloc(n, align, kind)
			  : align > PCM_MIN_ALIGN ? pcm_memalign_impl(align, n)
						  : pcm_malloc_fast(n);
		if (p)
			return p;
		new_handler_fn h =
			_ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
		if (h) {
			h(); /* may free memory, throw, or abort */
			continue;
		}
		if (nothrow)
			return NULL;
		if (_ZSt17__throw_bad_allocv)
			_ZSt17__throw_bad_allocv();
		pcm_fatal("operator new(%zu): out of memory", n);
	}
}

PCM_NOINLINE void pcm_delete_slow(void *p, unsigned kind)
{
	if (unlikely(pcm_conf.secure) && !diverted() &&
	    secure_free(p, kind, PCM_NO_SIZE,
			kind == PCM_KIND_NEW_ARRAY ? "operator delete[]"
						   : "operator delete"))
		return;
	pcm_free_slow(p);
}
