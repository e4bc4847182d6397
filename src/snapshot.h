/*
 * A snapshot of every figure pcmalloc reports, in plain fixed-size types:
 * what the text report, the JSON report and pcmstat render (src/report.c),
 * and what a process publishes for `pcmstat PID` (src/publish.c).  The
 * layout is versioned (PCM_SNAP_SCHEMA): bump it when a field changes.
 * Written by the library, read by tools/pcmstat.c; no library internals.
 */
#ifndef PCM_SNAPSHOT_H
#define PCM_SNAPSHOT_H

#include <stdint.h>

#define PCM_SNAP_MAGIC 0x3170616e736d6370ull /* "pcmsnap1" */
#define PCM_SNAP_SCHEMA 1  /* of this struct and of the JSON report */
#define PCM_SNAP_CLASSES 128
#define PCM_SNAP_ORDERS 16
#define PCM_SNAP_ZONES 2
#define PCM_SNAP_PURGE 4   /* budget, decay, trim, background */
#define PCM_SNAP_CPUS 256  /* per-CPU caches shown (the first ones) */

struct pcm_snap_class {
	uint32_t size, order, objs_per_slab, large; /* large: one object a run */
	uint64_t slabs, objs_out, partial, refills, drains;
};

struct pcm_snap_zone {
	uint64_t used_pages, free_pages, dirty_pages, arenas;
	uint64_t nr_free[PCM_SNAP_ORDERS];
	uint64_t purge_calls[PCM_SNAP_PURGE], purge_pages[PCM_SNAP_PURGE];
};

struct pcm_snap_cpu {
	uint64_t objs, bytes;
};

struct pcm_snap {
	uint64_t magic;
	uint32_t schema, size;   /* PCM_SNAP_SCHEMA, sizeof(struct pcm_snap) */
	char version[16];        /* PCMALLOC_VERSION */
	int64_t pid;
	uint64_t time_ns;        /* CLOCK_REALTIME when taken */

	/* Bytes: current and peak (peaks sampled: see the legend). */
	uint64_t allocated, allocated_peak, small_allocated, large_allocated;
	uint64_t huge_allocated, huge_count, huge_count_peak, huge_peak;
	uint64_t resident, resident_peak, mapped, mapped_peak, committed;
	uint64_t brk_bytes, arenas, meta_bytes;
	uint64_t free_pages, dirty_pages, purged_bytes, purge_calls;
	uint64_t slabs, slab_bytes, slab_objects;

	/* Caches. */
	int32_t cache_mode;      /* 0 per-thread, 1 per-CPU, 2 none */
	char cache_index[8];     /* per-CPU: "mm_cid" or "cpu_id" */
	char percpu_off[64];     /* per-thread: why per-CPU is off */
	uint64_t cached_objects, cached_bytes, cached_large_bytes;
	uint64_t threads, cpu_caches, cpu_cache_bound;

	/* Background worker. */
	int32_t bg_state;        /* 0 not started, 1 running, 2 asleep, 3 off */
	uint64_t bg_rounds, bg_drained_objs, bg_purged_pages, bg_wakeups;

	/* Huge pages. */
	int32_t thp, sys_thp;    /* 0 never, 1 madvise, 2 always */
	uint64_t thp_hinted, thp_waiting;

	/* Settings that shape the figures. */
	uint64_t dirty_max, decay_ns;

	uint32_t nr_classes, nr_orders, nr_zones, nr_cpus;
	struct pcm_snap_class classes[PCM_SNAP_CLASSES]; /* [0] unused */
	struct pcm_snap_zone zones[PCM_SNAP_ZONES];      /* slab, large */
	struct pcm_snap_cpu cpus[PCM_SNAP_CPUS];         /* by cache index */
};

/*
 * What a process publishes for pcmstat: one shared memory object (memfd
 * "pcmalloc-stats", descriptor 100 or above, close-on-exec), found by
 * another process of the same user as /proc/PID/fd/N whose link reads
 * "/memfd:pcmalloc-stats (deleted)".  It goes away with the process (no
 * file left behind, whatever the exit), with exec, and a fork child makes
 * its own.  Nothing on the allocator's fast paths touches it.
 *
 * A reader asks for a fresh snapshot: req += 1, wake += 1, FUTEX_WAKE on
 * wake (the background worker sleeps on it), then waits (FUTEX_WAIT on ack)
 * until ack == its req.  The process answers from its background worker at
 * once, or else at its next allocator slow path.  The snapshot is read
 * under the seqlock `seq` (odd while being written: read again).
 */
#define PCM_PUB_NAME "pcmalloc-stats"
#define PCM_PUB_MAGIC 0x316275706d6370ull

struct pcm_pub {
	uint64_t magic;
	uint32_t schema, size;   /* PCM_SNAP_SCHEMA, sizeof(struct pcm_pub) */
	int64_t pid;
	uint32_t wake;           /* the worker's wake-up word (futex) */
	uint32_t req;            /* bumped by readers */
	uint32_t ack;            /* the req the last snapshot answered (futex) */
	uint32_t seq;            /* seqlock of snap */
	uint32_t worker;         /* 1: a background worker answers at once */
	uint32_t pad;
	uint64_t published_ns;   /* CLOCK_REALTIME of the last snapshot */
	struct pcm_snap snap;
};

/* Renderers (report.c): write a snapshot as the text report or as one JSON
 * object to an output (fmt.h's pcm_out).  No allocation. */
struct pcm_out;
void pcm_report_text(struct pcm_out *o, const struct pcm_snap *s);
void pcm_report_json(struct pcm_out *o, const struct pcm_snap *s);

#endif
