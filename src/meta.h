/*
 * Internal metadata: fixed 64-byte records (headers of huge mappings) carved
 * from pages taken straight from the OS.  Records are never unmapped, so a
 * stale pointer to one is always safe to read.
 */
#ifndef PCM_META_H
#define PCM_META_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

PCM_BEGIN_DECLS

#define PCM_META_RECORD 64

void *pcm_meta_alloc(void); /* zeroed record, or NULL */
void pcm_meta_free(void *rec);
size_t pcm_meta_bytes(void);
void pcm_meta_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
