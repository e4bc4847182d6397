/* pcmalloc under valgrind's memcheck.  See vg.h. */

#include "vg.h"
#include "api.h"
#include "cache.h"
#include "conf.h"
#include "lifecycle.h"
#include "lock.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if PCM_HAVE_MEMCHECK
#include <valgrind/memcheck.h>

int pcm_vg_active PCM_HOT;
static __thread int inside PCM_TLS;
static void after_fork_child(void);

int pcm_vg_wanted(void)
{
	if (!RUNNING_ON_VALGRIND)
		return 0;
	/* Only memcheck answers its own requests (others return 0). */
	char probe = 0, bits;
	if (VALGRIND_GET_VBITS(&probe, &bits, 1) != 1)
		return 0;
	pcm_conf_init(); /* before start-up: it decides how start-up goes */
	return pcm_conf.valgrind;
}

/* A thread's static TLS in a fully static program lies in memory valgrind
 * takes for undefined (brk), although the kernel zeroed it. */
static void tls_defined(void)
{
	VALGRIND_MAKE_MEM_DEFINED(&inside, sizeof inside);
	VALGRIND_MAKE_MEM_DEFINED(&pcm_tls_tid, sizeof pcm_tls_tid);
	VALGRIND_MAKE_MEM_DEFINED(&pcm_tls_locks, sizeof pcm_tls_locks);
}

void pcm_vg_setup(void)
{
	tls_defined();
	__atomic_store_n(&pcm_vg_active, 1, __ATOMIC_RELAXED);
	/* Every call through the slow paths, and nothing behind the
	 * program's back: before start-up and again after it, over
	 * PCMALLOC_CONF. */
	for (int pass = 0; pass < 2; pass++) {
		pcm_conf.tcache = 0;
		pcm_conf.background = 0;
		pcm_conf.brk = 0; /* valgrind's brk segment is small */
		if (!pass)
			pcm_init();
	}
	pthread_atfork(NULL, NULL, after_fork_child);
}

int pcm_vg_inside(void)
{
	tls_defined();
	return inside;
}

/* The real allocator works with memcheck's reports off for this thread: it
 * reads and writes free objects, which the program may not. */
static void enter(void)
{
	VALGRIND_DISABLE_ERROR_REPORTING;
	inside = 1;
}

static void leave(void)
{
	inside = 0;
	VALGRIND_ENABLE_ERROR_REPORTING;
}

/* Usable size of p when pcmalloc owns it, else 0.  Inside. */
static size_t ours(const void *p)
{
	return pcm_owns_impl(p) ? pcm_usable_size_impl(p) : 0;
}

/* Gives object p back to pcmalloc.  Inside.  Under memcheck free()'s fast
 * path never takes an object (slab.c leaves the class map it reads empty,
 * so every free reaches the API's slow path and then vg.c before anything
 * reads the block): a slab object goes to the cache front end here. */
static void raw_free(void *p)
{
	struct pcm_arena *a = pcm_arena_of(p);
	unsigned cls = a ? pcm_page_of(a, p)->cls : 0;
	if (cls)
		pcm_cache_push(p, cls);
	else
		pcm_free_fast(p); /* large, huge, not ours */
}

/* The block p of n bytes the allocator just handed out: the program may
 * address its n bytes (defined when zeroed), nothing else of the object. */
static void *handed_out(void *p, size_t n, int zeroed)
{
	if (!p)
		return NULL;
	int saved = errno;
	enter();
	size_t u = ours(p);
	leave();
	if (u)
		VALGRIND_MAKE_MEM_NOACCESS(p, u);
	VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
	errno = saved;
	return p;
}

/*
 * Each block gets GAP more bytes than asked for, left no-access: memcheck
 * names the block an address belongs to by looking for any block (live,
 * then freed, oldest first) within its redzone size of it (16 bytes and
 * some overhead by default; --redzone-size), so without a gap a use after
 * free at the start of a freed block would be described as an overrun of
 * the block before it.
 */
#define GAP 32

/* n plus the gap, or SIZE_MAX (which fails with ENOMEM) on overflow. */
static size_t padded(size_t n)
{
	return n + GAP < n ? SIZE_MAX : n + GAP;
}

void *pcm_vg_malloc(size_t n)
{
	enter();
	void *p = pcm_malloc_fast(padded(n));
	leave();
	return handed_out(p, n, 0);
}

void *pcm_vg_calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	enter();
	void *p = pcm_calloc_impl(1, padded(n));
	leave();
	return handed_out(p, n, 1);
}

void *pcm_vg_memalign(size_t align, size_t n)
{
	enter();
	void *p = pcm_memalign_impl(align, padded(n));
	leave();
	return handed_out(p, n, 0);
}

/*
 * Delayed reuse, as valgrind's own allocator has (its --freelist-vol): a
 * freed block waits in a FIFO until QUARANTINE_BYTES of blocks freed after
 * it, so that a use after free still finds memcheck's freed block there,
 * not a new one at the same address.  Blocks above QUARANTINE_BIG go back
 * at once (huge ones are unmapped: a use after free then faults).
 */
#define QUARANTINE_BYTES (20ul << 20)
#define QUARANTINE_BIG (1ul << 20)
#define QUARANTINE_SLOTS (1u << 16)

static struct held {
	void *p;
	size_t size;
} *held; /* ring of QUARANTINE_SLOTS, mapped at the first free */
static unsigned held_head, held_count;
static size_t held_bytes;
static pcm_lock_t held_lock = PCM_LOCK_INIT(PCM_RANK_LEAF);

/* Takes p (usable size u) into the quarantine; returns what must be freed
 * now: p itself, the oldest block, or NULL.  Inside. */
static void *quarantine(void *p, size_t u)
{
	void *out = p;
	if (u > QUARANTINE_BIG)
		return out;
	pcm_lock(&held_lock);
	if (!held)
		held = pcm_os_map_aligned(QUARANTINE_SLOTS * sizeof *held,
					  PCM_PAGE_SIZE);
	if (held) {
		out = NULL;
		if (held_count == QUARANTINE_SLOTS || held_bytes + u > QUARANTINE_BYTES) {
			struct held *h = &held[held_head];
			out = h->p;
			held_bytes -= h->size;
			held_head = (held_head + 1) % QUARANTINE_SLOTS;
			held_count--;
		}
		held[(held_head + held_count) % QUARANTINE_SLOTS] =
			(struct held){ p, u };
		held_count++;
		held_bytes += u;
	}
	pcm_unlock(&held_lock);
	return out;
}

/* Empties the quarantine into the allocator.  Inside. */
static void drain(void)
{
	for (;;) {
		void *p = NULL;
		pcm_lock(&held_lock);
		if (held_count) {
			p = held[held_head].p;
			held_bytes -= held[held_head].size;
			held_head = (held_head + 1) % QUARANTINE_SLOTS;
			held_count--;
		}
		pcm_unlock(&held_lock);
		if (!p)
			return;
		raw_free(p);
	}
}

/* In a fork child the thread that held the lock is gone (the ring it was
 * updating may have lost one block: it leaks). */
static void after_fork_child(void)
{
	pcm_lock_reset(&held_lock);
}

void pcm_vg_free(void *p)
{
	if (!p)
		return;
	int saved = errno;
	enter();
	size_t u = ours(p);
	leave();
	if (u) {
		/* Before pcmalloc looks at it, so that memcheck judges the free
		 * with the block's history: a bad one (twice, not a block's
		 * start) it reports, and pcmalloc then ignores, as valgrind's
		 * own free does. */
		unsigned errors = VALGRIND_COUNT_ERRORS;
		VALGRIND_FREELIKE_BLOCK(p, 0);
		if (VALGRIND_COUNT_ERRORS != errors) {
			errno = saved;
			return;
		}
	}
	enter();
	if (u) {
		VALGRIND_MAKE_MEM_NOACCESS(p, u);
		p = quarantine(p, u);
	}
	if (p)
		raw_free(p); /* not ours: passed on, or diagnosed */
	leave();
	errno = saved;
}

int pcm_vg_trim(size_t pad)
{
	enter();
	drain();
	int r = pcm_trim_impl(pad);
	leave();
	return r;
}

/* The size the program asked for: the part of the object memcheck lets it
 * address.  Inside; u is the object's usable size. */
static size_t requested(const void *p, size_t u)
{
	uintptr_t bad = (uintptr_t)VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, u);
	return bad ? bad - (uintptr_t)p : u;
}

/* Always moves, as valgrind's own realloc does: a use of the old block
 * afterwards is then reported. */
void *pcm_vg_realloc(void *p, size_t n)
{
	if (!p)
		return pcm_vg_malloc(n);
	if (n == 0) {
		pcm_vg_free(p);
		return NULL;
	}
	enter();
	size_t u = ours(p);
	size_t old = u ? requested(p, u) : 0;
	void *q = u ? NULL : pcm_realloc_impl(p, n); /* not ours: passed on */
	leave();
	if (!u)
		return q;
	q = pcm_vg_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	pcm_vg_free(p);
	return q;
}

/* What valgrind's own malloc_usable_size answers: the requested size, all
 * the program may use without an error. */
size_t pcm_vg_usable(const void *p)
{
	if (!p)
		return 0;
	enter();
	size_t u = ours(p);
	size_t n = u ? requested(p, u) : pcm_usable_size_impl(p);
	leave();
	return n;
}

void pcm_vg_fresh(void *p, size_t len)
{
	if (unlikely(__atomic_load_n(&pcm_vg_active, __ATOMIC_RELAXED)))
		VALGRIND_MAKE_MEM_NOACCESS(p, len);
}

void pcm_vg_hide(void *p, size_t len)
{
	if (unlikely(__atomic_load_n(&pcm_vg_active, __ATOMIC_RELAXED)))
		VALGRIND_MAKE_MEM_NOACCESS(p, len);
}

int pcm_vg_owns(const void *p)
{
	enter();
	int r = pcm_owns_impl(p);
	leave();
	return r;
}

#else /* no <valgrind/memcheck.h>: never detected, never called */

int pcm_vg_active PCM_HOT;

int pcm_vg_wanted(void)
{
	return 0;
}

void pcm_vg_setup(void)
{
}

int pcm_vg_inside(void)
{
	return 0;
}

void *pcm_vg_malloc(size_t n)
{
	return pcm_malloc_fast(n);
}

void *pcm_vg_calloc(size_t nmemb, size_t size)
{
	return pcm_calloc_impl(nmemb, size);
}

void *pcm_vg_realloc(void *p, size_t n)
{
	return pcm_realloc_impl(p, n);
}

void *pcm_vg_memalign(size_t align, size_t n)
{
	return pcm_memalign_impl(align, n);
}

void pcm_vg_free(void *p)
{
	pcm_free_fast(p);
}

size_t pcm_vg_usable(const void *p)
{
	return pcm_usable_size_impl(p);
}

int pcm_vg_trim(size_t pad)
{
	return pcm_trim_impl(pad);
}

int pcm_vg_owns(const void *p)
{
	return pcm_owns_impl(p);
}

#endif
