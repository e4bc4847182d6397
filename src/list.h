/*
 * Circular doubly-linked lists of page descriptors, through their next and
 * prev fields, with a sentinel descriptor as the head: buddy free lists and
 * slab partial lists.
 */
#ifndef PCM_LIST_H
#define PCM_LIST_H

#include "types.h"

static inline void pcm_list_init(struct pcm_page *s)
{
	s->next = s->prev = s;
}

static inline int pcm_list_empty(const struct pcm_page *s)
{
	return s->next == s;
}

/* Inserts pg first (after the sentinel). */
static inline void pcm_list_add(struct pcm_page *s, struct pcm_page *pg)
{
	pg->next = s->next;
	pg->prev = s;
	s->next->prev = pg;
	s->next = pg;
}

/* Inserts pg last (before the sentinel). */
static inline void pcm_list_add_tail(struct pcm_page *s, struct pcm_page *pg)
{
	pg->prev = s->prev;
	pg->next = s;
	s->prev->next = pg;
	s->prev = pg;
}

static inline void pcm_list_del(struct pcm_page *pg)
{
	pg->prev->next = pg->next;
	pg->next->prev = pg->prev;
	pg->next = pg->prev = NULL;
}

#endif
