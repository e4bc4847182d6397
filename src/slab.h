/*
 * Slabs, SLUB style.  A slab is a buddy block of 2^order pages cut into
 * objects of one size class; free objects are chained through their first
 * word, the link XOR-ed with a per-process secret so that a stray write or
 * a use-after-free cannot plant an arbitrary pointer unnoticed.  Each class
 * keeps the slabs that have free objects on a partial list; full slabs are
 * on no list; an emptied slab goes back to the buddy allocator (one per
 * class is kept to absorb churn).
 *
 * Objects move between slabs and caches in batches, as encoded lists.
 */
#ifndef PCM_SLAB_H
#define PCM_SLAB_H

#include "types.h"
#include "util.h"

PCM_BEGIN_DECLS

extern uintptr_t pcm_secret;   /* free-list link key */
extern struct pcm_class pcm_classes[PCM_NR_CLASSES];

PCM_INLINE void *pcm_link_get(const void *obj)
{
	return (void *)(*(const uintptr_t *)obj ^ pcm_secret);
}

PCM_INLINE void pcm_link_set(void *obj, const void *next)
{
	*(uintptr_t *)obj = (uintptr_t)next ^ pcm_secret;
}

void pcm_slabs_init(void);

/* Takes up to `want` (>= 1) objects of class cls: returns how many, the
 * encoded list in *head (its last link is NULL).  0 means out of memory. */
unsigned pcm_slab_take(unsigned cls, void **head, unsigned want);

/* Returns an encoded list of n objects of class cls to their slabs. */
void pcm_slab_put(unsigned cls, void *head, unsigned n);

/* The same, with the objects in an array. */
unsigned pcm_slab_take_array(unsigned cls, void **arr, unsigned want);
void pcm_slab_put_array(unsigned cls, void **arr, unsigned n);

/* Double-free check for obj of class cls: 1 if obj is free in its slab. */
int pcm_slab_is_free(unsigned cls, void *obj);

/* A class's counters, read under its lock (statistics). */
struct pcm_class_totals {
	size_t slabs, partial, objs_out;
	uint64_t refills, drains;
};
void pcm_class_totals(unsigned cls, struct pcm_class_totals *t);

/* Checks the class's invariants (debug.h: level 2 counters, level 3 its
 * partial slabs and their free lists); aborts naming the first that
 * fails.  Takes the class lock. */
void pcm_class_check(unsigned cls, int level);

/* Fork repair, in the child: a class whose lock a vanished thread held
 * forgets its slabs (their objects leak; later frees into them are
 * ignored). */
void pcm_slabs_after_fork_child(uint32_t forker_tid);

/* Gives every class's kept empty slabs back to the buddy allocator. */
void pcm_slab_release_empty(void);

PCM_END_DECLS

#endif
