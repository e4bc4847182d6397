/*
 * pcmalloc under valgrind's memcheck.
 *
 * Valgrind replaces malloc only where it can interpose on it (shared
 * objects, and the executable unless --soname-synonyms=somalloc=
 * nouserintercepts); in a program linked with libpcmalloc.a and run that
 * way, or linked fully static, pcmalloc's own code runs and memcheck sees
 * plain memory.  When memcheck is the tool, pcmalloc therefore describes
 * its blocks with memcheck's client requests:
 *
 *   - the caches are off (tcache:0) and the background worker too, and
 *     slab.c leaves the class map free()'s fast path reads empty, so that
 *     every call reaches an API slow path (api.c) before anything touches
 *     a block, and the slow path hands it here;
 *   - each call then runs the real allocator with memcheck's error
 *     reporting suspended for this thread (pcmalloc reads and writes the
 *     words of free objects and fresh slabs), and describes the outcome:
 *     a malloc-like block of exactly the requested size, with the rest of
 *     the object no-access; a free-like block, no-access in full;
 *   - heap pages the buddy layer commits start no-access, so that a read
 *     past a block into a never-used neighbour is an error too.
 *
 * Requests are compiled in only when <valgrind/memcheck.h> exists at build
 * time (Debian's valgrind package); without it, or with -DPCM_NO_VALGRIND,
 * these are empty and pcmalloc never detects valgrind.  Outside valgrind
 * nothing here runs: api.c decides once, at the first slow path, and then
 * tests one global word (pcm_divert) in its slow paths only.
 */
#ifndef PCM_VG_H
#define PCM_VG_H

#include <stddef.h>

#include "util.h"

#if !defined(PCM_NO_VALGRIND) && defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#define PCM_HAVE_MEMCHECK 1
#endif
#endif
#ifndef PCM_HAVE_MEMCHECK
#define PCM_HAVE_MEMCHECK 0
#endif

PCM_BEGIN_DECLS

extern int pcm_vg_active; /* memcheck was detected: pcm_vg_setup() ran */

/* 1 when the process runs under valgrind's memcheck (not callgrind or
 * another tool, under which pcmalloc runs as it always does) and
 * PCMALLOC_CONF does not say valgrind:0.  Reads the configuration. */
int pcm_vg_wanted(void);
/* Caches and the background worker off, before start-up reads them. */
void pcm_vg_setup(void);
/* 1 while this thread is inside one of the calls below: the API runs
 * normally then. */
int pcm_vg_inside(void);

/* The API under memcheck: the real call, then its description. */
void *pcm_vg_malloc(size_t n);
void *pcm_vg_calloc(size_t nmemb, size_t size);
void *pcm_vg_realloc(void *p, size_t n);
void *pcm_vg_memalign(size_t align, size_t n);
void pcm_vg_free(void *p);
size_t pcm_vg_usable(const void *p);
/* malloc_trim: the quarantine (vg.c) emptied first. */
int pcm_vg_trim(size_t pad);
/* pcmalloc_owns(). */
int pcm_vg_owns(const void *p);

/* Heap memory just committed: no-access to the program until allocated.
 * Metadata memory that records blocks' addresses (huge blocks'): hidden
 * from memcheck's leak search, which would take a leaked block for reachable
 * through it (no-access: pcmalloc reads it only inside the calls above and
 * pcm_vg_owns()). */
#if PCM_HAVE_MEMCHECK
void pcm_vg_fresh(void *p, size_t len);
void pcm_vg_hide(void *p, size_t len);
#else
static inline void pcm_vg_fresh(void *p, size_t len)
{
	(void)p, (void)len;
}
static inline void pcm_vg_hide(void *p, size_t len)
{
	(void)p, (void)len;
}
#endif

PCM_END_DECLS

#endif
