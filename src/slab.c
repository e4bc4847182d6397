/* Slab layer.  See slab.h.  Every function takes the class lock itself. */
#include "slab.h"
#include "arena.h"
#include "buddy.h"
#include "conf.h"
#include "debug.h"
#include "os.h"
#include "secure.h"
#include "fmt.h"
#include "list.h"
#include "sizeclass.h"
#include "vg.h"

#include <string.h>

uintptr_t pcm_secret PCM_HOT;
struct pcm_class pcm_classes[PCM_NR_CLASSES] __attribute__((aligned(PCM_PAGE_SIZE)));

/* Empty slabs a class keeps: one for small classes; none for large ones,
 * whose objects the CPU caches keep. */
static inline size_t empty_keep(unsigned cls)
{
	return pcm_class_is_large(cls) ? 0 : 1;
}

/* A class is all zero until first used: its partial list is made empty
 * when its lock is first taken (class_lock), so that start-up writes none
 * of pcm_classes' pages (14 KiB) and a program touches only those of the
 * classes it uses.  Only the debug build's lock ranks are set here. */
void pcm_slabs_init(void)
{
	if (PCM_DEBUG >= 1)
		for (unsigned c = 0; c < PCM_NR_CLASSES; c++)
			pcm_lock_init(&pcm_classes[c].lock, PCM_RANK_CLASS);
}

/* Takes class cls's lock; makes its partial list on first use. */
static inline struct pcm_class *class_lock(unsigned cls)
{
	struct pcm_class *c = &pcm_classes[cls];
	pcm_lock(&c->lock);
	if (unlikely(!c->partial.next))
		pcm_list_init(&c->partial);
	return c;
}

static void class_check(unsigned cls, int level, size_t limit);

/* Debug builds: the class's invariants after a slow-path operation, before
 * its lock is released; the walks look at the first DEBUG_WALK partial
 * slabs, so that a big heap stays usable (pcm_class_check walks them all). */
#define DEBUG_WALK 16
static inline void debug_check(unsigned cls)
{
	if (PCM_DEBUG >= 2)
		class_check(cls, PCM_DEBUG, DEBUG_WALK);
}

static inline uint8_t gen_flags(const struct pcm_class *c)
{
	return (uint8_t)(c->gen << PCM_PGF_GEN_SHIFT);
}

static inline void *slab_base(const struct pcm_page *head)
{
	return pcm_page_addr(head);
}

PCM_COLD static void corrupt(const char *what, unsigned cls, const void *slab,
			     const void *obj)
{
	pcm_fatal("corrupted %s in slab %p (size class %u, %u bytes) at %p",
		  what, slab, cls, (unsigned)pcm_class_size(cls), obj);
}

/*
 * Lazy linking.  A fresh slab links none of its objects: its free list is
 * a marker, the address of its first object with bit 0 set, which stands
 * for "this object and all after it, to the slab's end, are free and never
 * handed out".  take() hands them out in address order, moving the marker
 * on; put() pushes freed objects in front of it.  So a slab's pages are
 * touched only as its objects are handed out: a program that takes one
 * object of a class faults one page in, not the whole slab.
 */
#define LAZY 1ul

static inline int is_lazy(const void *f)
{
	return (uintptr_t)f & LAZY;
}

static inline char *lazy_start(const void *f)
{
	return (char *)((uintptr_t)f - LAZY);
}

/* Checks that obj may sit on head's free list: inside, on a boundary. */
static inline void check_obj(unsigned cls, const struct pcm_page *head,
			     const void *obj)
{
	const struct pcm_class_info *ci = &pcm_class_info[cls];
	uintptr_t base = (uintptr_t)slab_base(head), o = (uintptr_t)obj;
	uint64_t off = o - base;
	if (unlikely(o < base || off >= (uint64_t)ci->nobjs * ci->size ||
		     off * ci->div_magic > ci->div_magic - 1))
		corrupt("free list", cls, (void *)base, obj);
}

/* Secure mode: a fresh slab's free list in a random order, its objects
 * filled with the junk of freed ones (secure.h); returns the first. */
static void *link_random(char *base, size_t size, unsigned nobjs)
{
	memset(base, PCM_JUNK, (size_t)nobjs * size);
	/* Slots in the order start + i * stride (mod nobjs), with a stride
	 * prime to nobjs: a random permutation, cheaply. */
	uint64_t r = pcm_os_random();
	size_t start = r % nobjs, stride = 1;
	for (int tries = 0; nobjs > 2 && tries < 16; tries++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		size_t k = 1 + (r >> 33) % (nobjs - 1), a = k, b = nobjs;
		while (b) {
			size_t t = a % b;
			a = b;
			b = t;
		}
		if (a == 1) {
			stride = k;
			break;
		}
	}
	void *first = base + start * size, *prev = first;
	for (size_t i = 1; i < nobjs; i++) {
		void *o = base + ((start + i * stride) % nobjs) * size;
		pcm_link_set(prev, o);
		prev = o;
	}
	pcm_link_set(prev, NULL);
	return first;
}

/* A new slab for class c, built outside the class lock. */
static struct pcm_page *slab_new(unsigned cls)
{
	const struct pcm_class_info *ci = &pcm_class_info[cls];
	int clean;
	struct pcm_page *head =
		pcm_class_is_large(cls)
			? pcm_run_alloc(PCM_ZONE_LARGE, ci->slab_pages, 0, &clean)
			: pcm_block_alloc(PCM_ZONE_SLAB, ci->order, &clean);
	if (!head)
		return NULL;
	size_t npages = ci->slab_pages;
	/* A large class's one object starts at the head page: only that page
	 * names the class, so that free's boundary check (alloc.h) needs no
	 * head offset. */
	size_t named = pcm_class_is_large(cls) ? 1 : npages;
	for (size_t i = 0; i < npages; i++) {
		struct pcm_page *pg = head + i;
		pg->kind = PCM_PG_SLAB;
		pg->cls = i < named ? (uint8_t)cls : 0;
		pg->head_off = (uint16_t)i;
		/* Under memcheck left 0: every free takes the slow path (vg.h). */
		pcm_arena_of_page(pg)->page_cls[pcm_page_index(pg)] =
			pcm_vg_active ? 0 : pg->cls;
	}
	head->order = ci->order;
	head->inuse = 0;
	char *base = slab_base(head);
	if (unlikely(pcm_conf.secure)) {
		head->freelist = link_random(base, ci->size, ci->nobjs);
		return head;
	}
	head->freelist = (void *)((uintptr_t)base | LAZY); /* nothing linked */
	return head;
}

static void slab_release(struct pcm_page *head)
{
	unsigned cls = head->cls, order = head->order;
	size_t npages = pcm_class_info[cls].slab_pages;
	/* Every page forgets the slab, so a late free of one of its objects
	 * is not taken for a live object's. */
	for (size_t i = 0; i < npages; i++) {
		head[i].cls = 0;
		head[i].kind = PCM_PG_NONE;
		pcm_arena_of_page(head)->page_cls[pcm_page_index(head + i)] = 0;
	}
	if (pcm_class_is_large(cls))
		pcm_run_free(head, npages);
	else
		pcm_block_free(head, order);
}

/* Takes up to `want` objects: into arr[] when arr is set, else as an
 * encoded list in *list. */
static unsigned take(unsigned cls, void **arr, void **out, unsigned want)
{
	PCM_ASSERTF(1, cls && cls < PCM_NR_CLASSES && want, "class %u, %u objects", cls, want);
	struct pcm_class *c = class_lock(cls);
	void *list = NULL;
	unsigned n = 0;
	struct pcm_page *fresh = NULL;
	for (;;) {
		while (n < want && c->partial.next != &c->partial) {
			struct pcm_page *head = c->partial.next;
			if (head->inuse == 0)
				c->nr_empty--;
			while (n < want && head->freelist) {
				void *obj = head->freelist, *next;
				if (is_lazy(obj)) {
					const struct pcm_class_info *ci = &pcm_class_info[cls];
					obj = lazy_start(obj);
					char *after = (char *)obj + ci->size;
					next = after < (char *)slab_base(head) +
							       (size_t)ci->nobjs * ci->size
						       ? (void *)((uintptr_t)after | LAZY)
						       : NULL;
				} else {
					next = pcm_link_get(obj);
					if (next)
						check_obj(cls, head,
							  is_lazy(next) ? lazy_start(next) : next);
				}
				head->freelist = next;
				head->inuse++;
				if (arr) {
					arr[n] = obj;
				} else {
					pcm_link_set(obj, list);
					list = obj;
				}
				n++;
			}
			if (!head->freelist) {
				pcm_list_del(head);
				c->nr_partial--;
			}
		}
		if (n == want)
			break;
		/* No partial slab left: make one without holding the class
		 * lock, and go on until the batch is whole (a batch of 4 KiB
		 * objects spans four fresh slabs: one each time, the caches
		 * came back four times as often). */
		pcm_unlock(&c->lock);
		fresh = slab_new(cls);
		pcm_lock(&c->lock);
		if (!fresh)
			break;
		fresh->flags = gen_flags(c);
		pcm_list_add_tail(&c->partial, fresh);
		c->nr_partial++;
		c->nr_empty++;
		c->nr_slabs++;
	}
	c->objs_out += n;
	c->refills++;
	debug_check(cls);
	pcm_unlock(&c->lock);
	if (out)
		*out = list;
	return n;
}

unsigned pcm_slab_take(unsigned cls, void **out, unsigned want)
{
	return take(cls, NULL, out, want);
}

unsigned pcm_slab_take_array(unsigned cls, void **arr, unsigned want)
{
	return take(cls, arr, NULL, want);
}

/* Returns n objects: from arr[] when arr is set, else the encoded list. */
static void put(unsigned cls, void **arr, void *list, unsigned n)
{
	PCM_ASSERTF(1, cls && cls < PCM_NR_CLASSES, "class %u", cls);
	struct pcm_class *c = class_lock(cls);
	struct pcm_page *release = NULL; /* slabs to give back, via ->next */
	for (unsigned i = 0; i < n; i++) {
		void *obj;
		if (arr) {
			obj = arr[i];
		} else {
			obj = list;
			list = pcm_link_get(obj);
		}
		struct pcm_arena *a = pcm_arena_of(obj);
		struct pcm_page *pg = a ? pcm_page_of(a, obj) : NULL;
		if (unlikely(!pg || pg->kind != PCM_PG_SLAB || pg->cls != cls))
			corrupt("cache list", cls, NULL, obj);
		struct pcm_page *head = pg - pg->head_off;
		check_obj(cls, head, obj);
		if (unlikely((head->flags >> PCM_PGF_GEN_SHIFT) !=
			     (c->gen & (0xff >> PCM_PGF_GEN_SHIFT)))) {
			continue; /* slab abandoned by fork repair: obj leaks */
		}
		if (unlikely(head->inuse == 0))
			pcm_fatal("free(): double free of %p (size class %u, %u "
				  "bytes; found while returning a cache to its slab)",
				  obj, cls, (unsigned)pcm_class_size(cls));
		int was_full = head->freelist == NULL;
		pcm_link_set(obj, head->freelist);
		head->freelist = obj;
		head->inuse--;
		c->objs_out--;
		if (was_full) {
			pcm_list_add_tail(&c->partial, head);
			c->nr_partial++;
		}
		if (head->inuse == 0) {
			if (c->nr_empty < empty_keep(cls)) {
				c->nr_empty++;
			} else {
				pcm_list_del(head);
				c->nr_partial--;
				c->nr_slabs--;
				head->next = release;
				release = head;
			}
		}
	}
	c->drains++;
	debug_check(cls);
	pcm_unlock(&c->lock);
	while (release) {
		struct pcm_page *next = release->next;
		slab_release(release);
		release = next;
	}
}

void pcm_slab_put(unsigned cls, void *list, unsigned n)
{
	put(cls, NULL, list, n);
}

void pcm_slab_put_array(unsigned cls, void **arr, unsigned n)
{
	put(cls, arr, NULL, n);
}

int pcm_slab_is_free(unsigned cls, void *obj)
{
	struct pcm_arena *a = pcm_arena_of(obj);
	struct pcm_page *pg = pcm_page_of(a, obj);
	struct pcm_page *head = pg - pg->head_off;
	int found = 0;
	struct pcm_class *c = class_lock(cls);
	unsigned limit = pcm_class_info[cls].nobjs;
	for (void *f = head->freelist; f && limit--; f = pcm_link_get(f)) {
		if (is_lazy(f)) { /* obj is in the same slab */
			found = (char *)obj >= lazy_start(f);
			break;
		}
		if (f == obj) {
			found = 1;
			break;
		}
	}
	pcm_unlock(&c->lock);
	return found;
}

/* Fork repair: forget the class's slabs (their objects leak; frees into
 * them are ignored, by generation). */
static void class_abandon(struct pcm_class *c)
{
	c->gen++;
	pcm_list_init(&c->partial);
	c->nr_partial = c->nr_empty = c->nr_slabs = c->objs_out = 0;
	pcm_lock_reset(&c->lock);
}

void pcm_slabs_after_fork_child(uint32_t forker)
{
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
		if (pcm_lock_vanished(&pcm_classes[c].lock, forker))
			class_abandon(&pcm_classes[c]);
}

void pcm_class_totals(unsigned cls, struct pcm_class_totals *t)
{
	struct pcm_class *c = class_lock(cls);
	t->slabs = c->nr_slabs;
	t->partial = c->nr_partial;
	t->objs_out = c->objs_out;
	t->refills = c->refills;
	t->drains = c->drains;
	pcm_unlock(&c->lock);
}

/* Class lock held.  Level 2: the counters agree; level 3: every partial
 * slab is a slab of this class and generation, and its free list is
 * well formed (objects inside it, on boundaries, no cycle) and as long as
 * its free objects.  At most `limit` slabs are looked at (the list totals
 * are checked when the walk is not cut). */
static void class_check(unsigned cls, int level, size_t limit)
{
	const struct pcm_class *c = &pcm_classes[cls];
	const struct pcm_class_info *ci = &pcm_class_info[cls];
	PCM_VERIFY(c->nr_empty <= c->nr_partial && c->nr_partial <= c->nr_slabs,
		   "class %u: %u empty, %u partial, %zu slabs", cls, c->nr_empty,
		   c->nr_partial, c->nr_slabs);
	PCM_VERIFY(c->objs_out <= c->nr_slabs * ci->nobjs,
		   "class %u: %zu objects out of %zu slabs of %u", cls, c->objs_out,
		   c->nr_slabs, ci->nobjs);
	if (level < 3)
		return;
	size_t partial = 0, empty = 0;
	const struct pcm_page *s = &c->partial;
	const struct pcm_page *h;
	for (h = s->next; h != s && partial < limit; h = h->next) {
		PCM_VERIFY(h && h->next && h->next->prev == h,
			   "class %u: broken partial list at %p", cls, (const void *)h);
		PCM_VERIFY(++partial <= c->nr_partial, "class %u: more than %u "
			   "partial slabs listed", cls, c->nr_partial);
		PCM_VERIFY(h->kind == PCM_PG_SLAB && h->cls == cls && h->head_off == 0 &&
			   h->order == ci->order && h->flags == gen_flags(c),
			   "class %u: partial slab %p has kind %u class %u head_off %u "
			   "order %u flags %u", cls, (const void *)h, h->kind, h->cls,
			   h->head_off, h->order, h->flags);
		PCM_VERIFY(h->inuse < ci->nobjs || !h->freelist,
			   "class %u: slab %p has %u of %u objects in use", cls,
			   (const void *)h, h->inuse, ci->nobjs);
		size_t nfree = 0;
		for (void *f = h->freelist; f; f = pcm_link_get(f)) {
			if (is_lazy(f)) { /* the rest of the slab, never handed out */
				check_obj(cls, h, lazy_start(f));
				nfree += ((size_t)ci->nobjs * ci->size -
					  (size_t)(lazy_start(f) - (char *)slab_base(h))) / ci->size;
				break;
			}
			check_obj(cls, h, f);
			PCM_VERIFY(++nfree <= ci->nobjs, "class %u: slab %p: cycle in "
				   "its free list", cls, (const void *)h);
		}
		PCM_VERIFY(nfree + h->inuse == ci->nobjs, "class %u: slab %p: %zu free "
			   "+ %u in use != %u objects", cls, (const void *)h, nfree,
			   h->inuse, ci->nobjs);
		empty += h->inuse == 0;
	}
	PCM_VERIFY(h != s || (partial == c->nr_partial && empty == c->nr_empty),
		   "class %u: %zu partial (%zu empty) slabs listed, counted %u (%u)",
		   cls, partial, empty, c->nr_partial, c->nr_empty);
}

void pcm_class_check(unsigned cls, int level)
{
	struct pcm_class *c = class_lock(cls);
	class_check(cls, level, SIZE_MAX);
	pcm_unlock(&c->lock);
}

void pcm_slab_release_empty(void)
{
	for (unsigned cls = 1; cls < PCM_NR_CLASSES; cls++) {
		struct pcm_class *c = class_lock(cls);
		struct pcm_page *release = NULL;
		struct pcm_page *s = &c->partial;
		for (struct pcm_page *pg = s->next; pg != s && c->nr_empty;) {
			struct pcm_page *next = pg->next;
			if (pg->inuse == 0) {
				pcm_list_del(pg);
				c->nr_partial--;
				c->nr_empty--;
				c->nr_slabs--;
				pg->next = release;
				release = pg;
			}
			pg = next;
		}
		pcm_unlock(&c->lock);
		while (release) {
			struct pcm_page *next = release->next;
			slab_release(release);
			release = next;
		}
	}
}
