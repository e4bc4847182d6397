/*
 * Introspection: counters read from each layer (never a heap walk under a
 * lock others wait on), the report printed by malloc_stats() and at exit
 * with PCMALLOC_CONF=stats:1, mallinfo2() and malloc_info()'s XML.
 */
#ifndef PCM_STATS_H
#define PCM_STATS_H

#include <malloc.h>
#include <stdio.h>

#include "../include/pcmalloc.h"
#include "util.h"

PCM_BEGIN_DECLS

void pcm_stats_collect(struct pcmalloc_stats *st);
/* Samples the figures whose peak is not kept where they change
 * (allocated): the background worker calls it each round. */
void pcm_stats_sample_peaks(void);
void pcm_stats_print(int fd);         /* pcmalloc's own report */
void pcm_stats_print_json(int fd);    /* the same as JSON */
void pcm_stats_print_conf(int fd);    /* the one stats:1|json asks for */
struct pcm_snap;
void pcm_stats_snapshot(struct pcm_snap *s); /* every figure (snapshot.h) */
void pcm_malloc_stats_impl(void);     /* glibc's summary lines, then ours */
struct mallinfo2 pcm_mallinfo2_impl(void);
int pcm_malloc_info_impl(int options, FILE *fp);

PCM_END_DECLS

#endif
