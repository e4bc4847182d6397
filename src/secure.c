/* Secure mode.  See secure.h. */
#include "secure.h"
#include "alloc.h"
#include "arena.h"
#include "buddy.h"
#include "conf.h"
#include "fmt.h"
#include "huge.h"
#include "lifecycle.h"
#include "lock.h"
#include "os.h"
#include "sizeclass.h"
#include "slab.h"
#include "zero.h"

#include <errno.h>
#include <string.h>

#define FOOT 8u
#define HDR 16u /* the least header: its word and a canary word */
#define JUNK PCM_JUNK
#define KIND_FREED 0xff /* pcm_huge.kind of a quarantined mapping */

/*
 * A small block in its slot of s bytes (the slot at a slab object's start):
 *
 *   [0, 8)          the tag: n, kind, log2 of the header size, keyed check
 *   [8, hdr)        canary words (hdr: 16, or the alignment asked for)
 *   [hdr, hdr + n)  the program's bytes: the pointer it gets is slot + hdr
 *   [hdr + n, s-8)  canary bytes
 *   [s - 8, s)      the tag again
 *
 * The pointer is never a slab object's start, so free's fast path always
 * fails on it into api.c's slow path, which calls here: the cache front end
 * never holds a secure block.  A free slot (in the quarantine or the slab)
 * is all junk but for the slab's link in word 0.
 */

static uint8_t canary_byte(void)
{
	return (uint8_t)(pcm_secret >> 24) | 0x80;
}

static uint32_t tag_check(const void *slot, uint64_t v)
{
	uint64_t x = ((uintptr_t)slot ^ pcm_secret) * 0x9e3779b97f4a7c15ull ^ v;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint32_t)x & 0xffffff;
}

static uint64_t tag_make(const void *slot, size_t n, unsigned kind, unsigned hdr_log)
{
	uint64_t v = (uint64_t)n | (uint64_t)kind << 32 | (uint64_t)hdr_log << 36;
	return v | (uint64_t)tag_check(slot, v) << 40;
}

struct tag {
	size_t n;
	unsigned kind, hdr;
};

/* Decodes tag word w of the block in slot (size s): 1 when valid. */
static int tag_read(const void *slot, size_t s, uint64_t w, struct tag *t)
{
	uint64_t v = w & ((1ull << 40) - 1);
	t->n = (uint32_t)v;
	t->kind = (unsigned)(v >> 32) & 15;
	unsigned hdr_log = (unsigned)(v >> 36) & 15;
	t->hdr = 1u << hdr_log;
	return t->kind <= PCM_KIND_NEW_ARRAY && t->hdr >= HDR &&
	       t->hdr + t->n + FOOT <= s && (uint32_t)(w >> 40) == tag_check(slot, v);
}

/* The offset of the first byte of [p, p+len) that is not v, or len. */
static size_t first_not(const void *p, size_t len, uint8_t v)
{
	const uint8_t *b = p;
	size_t i = 0;
	uint64_t w = 0x0101010101010101ull * v;
	for (; i + 8 <= len; i += 8) {
		uint64_t x;
		memcpy(&x, b + i, 8);
		if (x != w)
			break;
	}
	for (; i < len; i++)
		if (b[i] != v)
			return i;
	return len;
}

/* A page of junk to compare with (libc's memcmp is the fast loop). */
static uint8_t junk_page[PCM_PAGE_SIZE];

static int all_bytes(const void *p, size_t len, uint8_t v)
{
	if (v != JUNK)
		return first_not(p, len, v) == len;
	if (junk_page[0] != JUNK)
		memset(junk_page, JUNK, sizeof junk_page);
	for (size_t off = 0; off < len; off += sizeof junk_page) {
		size_t k = len - off < sizeof junk_page ? len - off : sizeof junk_page;
		if (memcmp((const char *)p + off, junk_page, k))
			return 0;
	}
	return 1;
}

static const char *kind_name(unsigned kind)
{
	return kind == PCM_KIND_NEW ? "operator new" : kind == PCM_KIND_NEW_ARRAY
							       ? "operator new[]"
							       : "malloc";
}

/* ---- randomness: a per-thread xorshift, seeded from the secret ---- */

static __thread uint64_t rng PCM_TLS;

static uint64_t rnd(void)
{
	uint64_t x = rng;
	if (!x)
		x = pcm_secret ^ ((uintptr_t)&rng * 0x9e3779b97f4a7c15ull) ^
		    pcm_os_now_ns();
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng = x;
	return x;
}

/* ---- the quarantine ---- */

#define Q_SLOTS 1024
#define Q_SMALL_BYTES (4u << 20)
#define Q_BIG 32

static pcm_lock_t q_lock;
static void *q_ring[Q_SLOTS];
static unsigned q_head, q_count, q_big;
static size_t q_small_bytes;

static unsigned small_class(const void *p)
{
	struct pcm_arena *a = pcm_arena_of(p);
	return a ? pcm_page_of(a, p)->cls : 0;
}

/* A block leaves the quarantine (a slot, or a mapping): small ones back to
 * their slab after their junk is checked, mappings unmapped. */
static void release(void *p)
{
	unsigned cls = small_class(p);
	if (!cls) {
		struct pcm_huge *h = pcm_huge_find(p);
		h->kind = 0;
		pcm_huge_free(h);
		return;
	}
	size_t s = pcm_class_size(cls), off;
	if (!all_bytes(p, s, JUNK) && (off = first_not(p, s, JUNK)) < s) {
		pcm_fatal("free(): write after free of %p (a %zu-byte block; byte %zu "
			  "changed while it waited in the quarantine)", p, s, off);
	}
	pcm_link_set(p, NULL);
	pcm_slab_put(cls, p, 1);
}

/* The oldest block in the quarantine, taken out; lock held, not empty. */
static void *q_pop(void)
{
	void *o = q_ring[q_head];
	q_head = (q_head + 1) % Q_SLOTS;
	q_count--;
	unsigned cls = small_class(o);
	if (cls)
		q_small_bytes -= pcm_class_size(cls);
	else
		q_big--;
	return o;
}

static void quarantine(void *p, size_t small_bytes)
{
	void *out[8];
	unsigned nout = 0;
	pcm_lock(&q_lock);
	q_ring[(q_head + q_count++) % Q_SLOTS] = p;
	q_small_bytes += small_bytes;
	q_big += !small_bytes;
	while (nout < 8 && (q_count > Q_SLOTS - 1 || q_small_bytes > Q_SMALL_BYTES ||
			    q_big > Q_BIG))
		out[nout++] = q_pop();
	pcm_unlock(&q_lock);
	for (unsigned i = 0; i < nout; i++)
		release(out[i]);
}

void pcm_secure_drain(void)
{
	for (;;) {
		void *o = NULL;
		pcm_lock(&q_lock);
		if (q_count)
			o = q_pop();
		pcm_unlock(&q_lock);
		if (!o)
			return;
		release(o);
	}
}

void pcm_secure_after_fork_child(uint32_t forker)
{
	uint32_t owner = pcm_lock_owner(&q_lock);
	if (owner && owner != forker) { /* its blocks leak */
		q_head = q_count = q_big = 0;
		q_small_bytes = 0;
		pcm_lock_reset(&q_lock);
	}
}

/* ---- allocation ---- */

static void *alloc_small(unsigned cls, size_t n, size_t hdr, unsigned kind)
{
	void *arr[4];
	unsigned got = pcm_slab_take_array(cls, arr, 4);
	if (!got)
		return NULL;
	/* A slot at random among the first free ones. */
	unsigned pick = (unsigned)(rnd() % got);
	char *slot = arr[pick];
	arr[pick] = arr[got - 1];
	if (got > 1)
		pcm_slab_put_array(cls, arr, got - 1);
	size_t s = pcm_class_size(cls);
	if (!all_bytes(slot + 8, s - 8, JUNK))
		pcm_fatal("malloc(): write after free of %p (a %zu-byte block, "
			  "changed after it was freed)", (void *)(slot + hdr), s - hdr - FOOT);
	uint64_t tag = tag_make(slot, n, kind, pcm_log2(hdr));
	memcpy(slot, &tag, 8);
	memset(slot + 8, canary_byte(), hdr - 8);
	memset(slot + hdr + n, canary_byte(), s - FOOT - hdr - n);
	memcpy(slot + s - FOOT, &tag, 8);
	return slot + hdr;
}

void *pcm_secure_alloc(size_t n, size_t align, unsigned kind)
{
	pcm_init();
	if (n > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (n <= PCM_SMALL_MAX && align <= PCM_PAGE_SIZE) {
		size_t hdr = align > HDR ? align : HDR;
		unsigned cls = hdr > HDR ? pcm_size_class_aligned(hdr + n + FOOT, hdr)
					 : pcm_size_class(hdr + n + FOOT);
		if (cls && pcm_class_size(cls) <= PCM_SMALL_MAX) {
			void *p = alloc_small(cls, n, hdr, kind);
			if (!p)
				errno = ENOMEM;
			return p;
		}
	}
	/* Larger: a mapping between guard gaps (huge.c). */
	void *p = pcm_huge_alloc(n ? n : 1, align);
	if (!p && pcm_zones_release_free())
		p = pcm_huge_alloc(n ? n : 1, align);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	struct pcm_huge *h = pcm_huge_find(p);
	h->kind = (uint8_t)kind;
	h->request = n; /* 0 too: mapped as 1 */
	memset((char *)p + n, canary_byte(), h->size - n);
	return p;
}

/* ---- checks ---- */

_Noreturn void pcm_secure_bad_free(const void *p)
{
	pcm_fatal("free(): invalid pointer %p (not a block: secure mode's blocks "
		  "start inside their slots)", p);
}

PCM_COLD static void overflow(const char *call, const void *p, size_t n, size_t off)
{
	pcm_fatal("%s(): heap overflow past the %zu-byte block at %p (a canary "
		  "%zu bytes past its end was overwritten)", call, n, p, off - n);
}

PCM_COLD static void underflow(const char *call, const void *p)
{
	pcm_fatal("%s(): heap underflow before the block at %p (its header was "
		  "overwritten)", call, p);
}

/* The slot holding small block p (class cls, size s), checked; *t its tag. */
static char *check_small(const char *call, void *p, unsigned cls, struct tag *t)
{
	struct pcm_arena *a = pcm_arena_of(p);
	struct pcm_page *pg = pcm_page_of(a, p);
	size_t s = pcm_class_size(cls);
	char *base = pcm_page_addr(pg - pg->head_off);
	size_t hdr = (size_t)((char *)p - base) % s;
	char *slot = (char *)p - hdr;
	if (hdr < HDR || !pcm_is_pow2(hdr))
		pcm_fatal("%s(): invalid pointer %p (inside a %zu-byte slot, not a "
			  "block's start)", call, p, s);
	uint64_t head, foot;
	memcpy(&head, slot, 8);
	memcpy(&foot, slot + s - FOOT, 8);
	struct tag tf;
	int head_ok = tag_read(slot, s, head, t) && t->hdr == hdr;
	int foot_ok = tag_read(slot, s, foot, &tf) && tf.hdr == hdr;
	if (!head_ok && !foot_ok && all_bytes(slot + 8, s - 8, JUNK))
		pcm_fatal("%s(): double free of %p (a block already freed)", call, p);
	if (!foot_ok || (head_ok && foot != head)) {
		if (!head_ok)
			underflow(call, p);
		overflow(call, p, t->n, s - FOOT - hdr);
	}
	if (!head_ok || first_not(slot + 8, hdr - 8, canary_byte()) < hdr - 8)
		underflow(call, p);
	size_t bad = first_not((char *)p + t->n, s - FOOT - hdr - t->n, canary_byte());
	if (bad < s - FOOT - hdr - t->n)
		overflow(call, p, t->n, t->n + bad);
	return slot;
}

static void check_kind(const char *call, const void *p, unsigned have,
		       unsigned release)
{
	if ((release == PCM_KIND_NEW && have == PCM_KIND_NEW_ARRAY) ||
	    (release == PCM_KIND_NEW_ARRAY && have == PCM_KIND_NEW))
		pcm_fatal("%s(): %p was allocated by %s (mismatched new/delete)",
			  call, p, kind_name(have));
}

static void check_size(const char *call, const void *p, size_t n, size_t size)
{
	if (size != PCM_NO_SIZE && size != n)
		pcm_fatal("%s(): size %zu does not fit the block at %p (%zu bytes "
			  "were asked for)", call, size, p, n);
}

/* The live mapping p starts, checked; NULL when p is no mapping's. */
static struct pcm_huge *live_huge(const char *call, const void *p)
{
	struct pcm_huge *h = pcm_huge_find(p);
	if (!h)
		return NULL;
	if (h->ptr != p)
		pcm_fatal("%s(): invalid pointer %p (inside a %zu-byte mapping at %p, "
			  "not its start)", call, p, h->size, h->ptr);
	if (h->kind == KIND_FREED)
		pcm_fatal("%s(): %s of %p (a %zu-byte block already freed)", call,
			  call[0] == 'f' || call[0] == 'o' ? "double free" : "use after free",
			  p, h->request);
	size_t tail = h->size - h->request;
	size_t bad = first_not((const char *)p + h->request, tail, canary_byte());
	if (bad < tail)
		overflow(call, p, h->request, h->request + bad);
	return h;
}

/* Class of p when it is in a slab (0: not), for secure mode's checks. */
static unsigned slab_class(const void *p, struct pcm_arena *a)
{
	return a && !pcm_zero_arena(a) ? pcm_page_of(a, p)->cls : 0;
}

int pcm_secure_free(void *p, unsigned kind, size_t size, const char *call)
{
	if (!p || pcm_reentered())
		return 0;
	int saved = errno;
	struct pcm_arena *a = pcm_arena_of(p);
	if (a) {
		unsigned cls = slab_class(p, a);
		if (!cls)
			return 0; /* a zero-size block or a large run: not ours */
		struct tag t;
		char *slot = check_small(call, p, cls, &t);
		check_kind(call, p, t.kind, kind);
		check_size(call, p, t.n, size);
		size_t s = pcm_class_size(cls);
		memset(slot, JUNK, s);
		quarantine(slot, s);
	} else {
		struct pcm_huge *h = live_huge(call, p);
		if (!h)
			return 0;
		check_kind(call, p, h->kind, kind);
		check_size(call, p, h->request, size);
		h->kind = KIND_FREED;
		pcm_os_decommit(p, h->size); /* a use after free faults */
		quarantine(p, 0);
	}
	errno = saved;
	return 1;
}

size_t pcm_secure_size(const void *p, const char *call)
{
	struct pcm_arena *a = pcm_arena_of(p);
	if (a) {
		unsigned cls = slab_class(p, a);
		if (!cls)
			return PCM_NO_SIZE;
		struct tag t;
		check_small(call, (void *)p, cls, &t);
		return t.n;
	}
	struct pcm_huge *h = live_huge(call, p);
	return h ? h->request : PCM_NO_SIZE;
}
