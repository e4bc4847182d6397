/*
 * Run-time configuration from PCMALLOC_CONF="key:value,key:value", read once
 * at start-up without allocating.  Unknown keys and bad values are reported
 * on stderr, naming the key and the value refused, and otherwise ignored.
 * Values are parsed strictly: sizes N, Nk, NM, NG (binary units), durations
 * N (the key's unit), Nms, Ns; anything else, or an overflow, is refused.
 * The table in conf.c has one row per key.
 *
 *   stats:0|1|json       print the statistics report at exit (json: as JSON)
 *   stats_signal:SIG     print it on this signal (USR2, SIGUSR2, 12)
 *   stats_interval:DUR   print it every DUR (10s, 500ms; plain: seconds)
 *   stats_publish:0|1    publish counters for pcmstat PID (default 1; the
 *                        page is made after the first calls, publish.c)
 *   vma_names:0|1        name mappings in /proc/PID/maps (default 1)
 *   verbose:0|1          report start-up decisions and every setting
 *   thp:never|madvise|always   huge-page policy (default: madvise)
 *   brk:0|1              grow the first arenas with brk/sbrk (default 1)
 *   percpu:0|1           use rseq per-CPU caches where possible (default 1)
 *   tcache:0|1           thread caches at all (0: every call takes a lock)
 *   dirty_max:BYTES      free memory kept resident before purging (K/M/G)
 *   decay_ms:DUR         purge free memory left unused this long
 *   background:0|1       a worker thread returns idle memory (default 1)
 *   prof:0|1             the sampling heap profiler (prof.h); turns tcache off
 *   prof_rate:BYTES      mean bytes between two samples (default 512K)
 *   prof_prefix:PATH     automatic dumps go to PATH.PID.SEQ.heap
 *   prof_signal:SIG      dump on this signal (USR1, USR2, HUP or a number)
 *   valgrind:0|1         under memcheck, describe blocks to it (default 1;
 *                        0: pcmalloc runs as plain code, to check pcmalloc)
 */
#ifndef PCM_CONF_H
#define PCM_CONF_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* libpcmalloc-secure.so is built with this set to 1. */
#ifndef PCM_SECURE_DEFAULT
#define PCM_SECURE_DEFAULT 0
#endif

PCM_BEGIN_DECLS

enum pcm_thp_mode { PCM_THP_NEVER = 0, PCM_THP_MADVISE = 1, PCM_THP_ALWAYS = 2 };

struct pcm_conf {
	int stats;
	int verbose;
	int thp;     /* our policy (enum pcm_thp_mode) */
	int sys_thp; /* the kernel's mode (enum pcm_thp_mode), -1 until asked */
	int brk;
	int percpu;
	int tcache;
	int background;
	int valgrind;
	int secure; /* secure mode (secure.h); turns the caches off */
	size_t dirty_max_pages;
	uint64_t decay_ns;
	int stats_signal;           /* 0: none */
	uint64_t stats_interval_ns; /* 0: none */
	int stats_publish;
	int vma_names;
	int prof;
	int prof_signal;
	size_t prof_rate;
	char prof_prefix[200];
};

extern struct pcm_conf pcm_conf;

/* Parses `text` into pcm_conf (defaults first); reports problems. */
void pcm_conf_parse(const char *text);
/* Reads PCMALLOC_CONF. */
void pcm_conf_init(void);
/* The kernel's THP mode, read from sysfs the first time it matters (a
 * program too small for huge pages never asks). */
int pcm_conf_sys_thp(void);
/* Logs every effective setting and where it came from (verbose:1). */
void pcm_conf_print(void);
/* "USR2" for SIGUSR2 (without the SIG prefix), or NULL. */
const char *pcm_conf_signal_name(int sig);

PCM_END_DECLS

#endif
