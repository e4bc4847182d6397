/*
 * The statistics report, text and JSON, rendered from a snapshot
 * (snapshot.h).  Shared by the library (exit, signal, interval,
 * malloc_stats) and by pcmstat, so both say the same thing the same way.
 * No allocation, no stdio: everything goes through pcm_out.
 */
#include "snapshot.h"
#include "fmt.h"

#include <string.h>

static const char thp_names[][8] = {"never", "madvise", "always"};
static const char bg_names[][12] = {"not started", "running", "asleep", "off"};
static const char mode_names[][12] = {"per-thread", "per-CPU", "none"};
static const char purge_names[][12] = {"budget", "decay", "trim", "background"};
static const char zone_names[][8] = {"slab", "large"};

/* "12.34 MiB" (two decimals, truncated) */
static const char *mib(char *buf, size_t cap, uint64_t bytes)
{
	pcm_fmt(buf, cap, "%llu.%02llu MiB", (unsigned long long)(bytes >> 20),
		(unsigned long long)(((bytes & ((1u << 20) - 1)) * 100) >> 20));
	return buf;
}

/* names[i] of a table of names (rows of chars, not pointers: read-only data
 * that the loader does not relocate), "?" when i is out of range. */
static const char *word(const char *rows, size_t stride, size_t n, int i)
{
	return i >= 0 && (size_t)i < n ? rows + (size_t)i * stride : "?";
}
#define WORD(names, i) word((names)[0], sizeof(names)[0], sizeof(names) / sizeof(names)[0], (i))

void pcm_report_text(struct pcm_out *o, const struct pcm_snap *s)
{
	char b1[32], b2[32], b3[32], b4[32];
	pcm_out_printf(o, "------ pcmalloc statistics (version %s, pid %lld) ------\n",
		       s->version, (long long)s->pid);
	pcm_out_printf(o, "                    %14s %14s\n", "current", "peak");
	pcm_out_printf(o, "allocated:          %14s %14s  (small %s, large %s, ",
		       mib(b1, sizeof b1, s->allocated), mib(b2, sizeof b2, s->allocated_peak),
		       mib(b3, sizeof b3, s->small_allocated), mib(b4, sizeof b4, s->large_allocated));
	pcm_out_printf(o, "huge %s in %llu mappings)\n", mib(b1, sizeof b1, s->huge_allocated),
		       (unsigned long long)s->huge_count);
	pcm_out_printf(o, "resident (est.):    %14s %14s  (free pages %llu = %s, of which dirty %llu = %s)\n",
		       mib(b1, sizeof b1, s->resident), mib(b2, sizeof b2, s->resident_peak),
		       (unsigned long long)s->free_pages, mib(b3, sizeof b3, s->free_pages << 12),
		       (unsigned long long)s->dirty_pages, mib(b4, sizeof b4, s->dirty_pages << 12));
	pcm_out_printf(o, "mapped:             %14s %14s  (%llu arenas of 64 MiB reserved, ",
		       mib(b1, sizeof b1, s->mapped), mib(b2, sizeof b2, s->mapped_peak),
		       (unsigned long long)s->arenas);
	uint64_t arena_committed = s->committed - s->huge_allocated - s->meta_bytes;
	pcm_out_printf(o, "%s committed, %s by brk; huge %s; metadata %s)\n",
		       mib(b1, sizeof b1, arena_committed), mib(b2, sizeof b2, s->brk_bytes),
		       mib(b3, sizeof b3, s->huge_allocated), mib(b4, sizeof b4, s->meta_bytes));
	pcm_out_printf(o, "huge mappings:      %14llu %14llu  (peak bytes %s)\n",
		       (unsigned long long)s->huge_count, (unsigned long long)s->huge_count_peak,
		       mib(b1, sizeof b1, s->huge_peak));
	pcm_out_printf(o, "returned to the OS: %s in %llu madvise calls\n",
		       mib(b1, sizeof b1, s->purged_bytes), (unsigned long long)s->purge_calls);
	if (s->cache_mode == 2)
		pcm_out_printf(o, "cache mode:         none (tcache:0)\n");
	else if (s->cache_mode == 1)
		pcm_out_printf(o, "cache mode:         per-CPU (rseq, indexed by %s): %llu CPU "
			       "caches in use, at most %s each; %llu threads\n",
			       s->cache_index, (unsigned long long)s->cpu_caches,
			       mib(b1, sizeof b1, s->cpu_cache_bound), (unsigned long long)s->threads);
	else
		pcm_out_printf(o, "cache mode:         per-thread (%llu live thread caches; "
			       "per-CPU off: %s)\n", (unsigned long long)s->threads,
			       s->percpu_off[0] ? s->percpu_off : "?");
	pcm_out_printf(o, "cached:             %llu objects, %s (of which large classes %s)\n",
		       (unsigned long long)s->cached_objects, mib(b1, sizeof b1, s->cached_bytes),
		       mib(b2, sizeof b2, s->cached_large_bytes));
	if (s->cache_mode == 1 && s->nr_cpus) {
		pcm_out_printf(o, "per-CPU cache fill (cache index: KiB):");
		for (unsigned i = 0; i < s->nr_cpus && i < PCM_SNAP_CPUS; i++)
			if (s->cpus[i].objs)
				pcm_out_printf(o, " %u:%llu", i,
					       (unsigned long long)(s->cpus[i].bytes >> 10));
		pcm_out_printf(o, "\n");
	}
	pcm_out_printf(o, "background:         %s; %llu rounds, %llu cached objects "
		       "returned, %llu pages purged, %llu wake-ups\n",
		       WORD(bg_names, s->bg_state), (unsigned long long)s->bg_rounds,
		       (unsigned long long)s->bg_drained_objs,
		       (unsigned long long)s->bg_purged_pages, (unsigned long long)s->bg_wakeups);
	pcm_out_printf(o, "THP policy:         %s (kernel %s); %llu regions of 2 MiB hinted "
		       "for huge pages, %llu of them waiting to collapse\n",
		       WORD(thp_names, s->thp), WORD(thp_names, s->sys_thp),
		       (unsigned long long)s->thp_hinted, (unsigned long long)s->thp_waiting);
	pcm_out_printf(o, "slabinfo:  class   size  order objs/slab  slabs  "
		       "objs-out  refills  drains\n");
	for (unsigned c = 1; c < s->nr_classes && c < PCM_SNAP_CLASSES; c++) {
		const struct pcm_snap_class *sc = &s->classes[c];
		if (!sc->slabs && !sc->refills)
			continue;
		pcm_out_printf(o, "           %5u %6u %6u %9u %6llu %9llu %8llu %7llu\n", c,
			       sc->size, sc->order, sc->objs_per_slab,
			       (unsigned long long)sc->slabs, (unsigned long long)sc->objs_out,
			       (unsigned long long)sc->refills, (unsigned long long)sc->drains);
	}
	for (unsigned z = 0; z < s->nr_zones && z < PCM_SNAP_ZONES; z++) {
		const struct pcm_snap_zone *sz = &s->zones[z];
		pcm_out_printf(o, "buddyinfo %-5s (used %llu pages = %s; free blocks by order 0-%u):",
			       WORD(zone_names, (int)z), (unsigned long long)sz->used_pages,
			       mib(b1, sizeof b1, sz->used_pages << 12), s->nr_orders - 1);
		for (unsigned i = 0; i < s->nr_orders && i < PCM_SNAP_ORDERS; i++)
			pcm_out_printf(o, " %llu", (unsigned long long)sz->nr_free[i]);
		pcm_out_printf(o, "\n  purged (madvise calls/pages):");
		for (int i = 0; i < PCM_SNAP_PURGE; i++)
			pcm_out_printf(o, "%s %s %llu/%llu", i ? "," : "", purge_names[i],
				       (unsigned long long)sz->purge_calls[i],
				       (unsigned long long)sz->purge_pages[i]);
		pcm_out_printf(o, "\n");
	}
	pcm_out_puts(o,
		"legend: MiB = 2^20 bytes; a page is 4 KiB.\n"
		"  allocated  bytes in live allocations (usable sizes); its peak is the highest value\n"
		"             sampled: at each statistics call (report, pcmstat, mallinfo2...) and\n"
		"             each round of the background worker (every 250 ms while it runs)\n"
		"  resident   estimate of the RAM held: arena pages in use or dirty, page\n"
		"             descriptors, huge mappings, metadata; peak kept as pages are handed out\n"
		"  mapped     address space taken from the OS (arenas are reserved 64 MiB at a time\n"
		"             and committed as used); peak exact\n"
		"  dirty      free pages still backed by RAM (returned by budget, decay or trim)\n"
		"  slabinfo   per size class: objects a slab holds (a large class: one run each),\n"
		"             slabs, objs-out = objects out of the slabs (live, or in a cache),\n"
		"             refills/drains = batches moved from the slabs to the caches and back\n"
		"  buddyinfo  free blocks per order: order n is 2^n pages (0 = 4 KiB, 12 = 16 MiB)\n"
		"  purged     madvise(MADV_DONTNEED) calls/pages by reason: budget (too much dirty\n"
		"             memory), decay (unused too long), trim (malloc_trim), background\n");
}

/* ---- JSON ---- */

static void jstr(struct pcm_out *o, const char *s)
{
	pcm_out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			pcm_out_printf(o, "\\%c", c);
		else if (c < 0x20)
			pcm_out_printf(o, "\\u%04x", c);
		else
			pcm_out_printf(o, "%c", c);
	}
	pcm_out_printf(o, "\"");
}

static void cur_peak(struct pcm_out *o, const char *name, uint64_t cur, uint64_t peak,
		     const char *end)
{
	pcm_out_printf(o, "\"%s\": {\"current\": %llu, \"peak\": %llu}%s", name,
		       (unsigned long long)cur, (unsigned long long)peak, end);
}

#define U(x) ((unsigned long long)(x))

void pcm_report_json(struct pcm_out *o, const struct pcm_snap *s)
{
	pcm_out_printf(o, "{\"schema\": %u, \"version\": ", s->schema);
	jstr(o, s->version);
	pcm_out_printf(o, ", \"pid\": %lld, \"time_ns\": %llu, \"units\": \"bytes\",\n",
		       (long long)s->pid, U(s->time_ns));
	pcm_out_printf(o, " ");
	cur_peak(o, "allocated", s->allocated, s->allocated_peak, ", ");
	cur_peak(o, "resident", s->resident, s->resident_peak, ", ");
	cur_peak(o, "mapped", s->mapped, s->mapped_peak, ",\n");
	pcm_out_printf(o, " \"allocated_by_kind\": {\"small\": %llu, \"large\": %llu, \"huge\": %llu},\n",
		       U(s->small_allocated), U(s->large_allocated), U(s->huge_allocated));
	pcm_out_printf(o, " \"huge\": {\"count\": %llu, \"count_peak\": %llu, \"bytes\": %llu, "
		       "\"bytes_peak\": %llu},\n", U(s->huge_count), U(s->huge_count_peak),
		       U(s->huge_allocated), U(s->huge_peak));
	pcm_out_printf(o, " \"arenas\": {\"count\": %llu, \"committed\": %llu, \"brk\": %llu, "
		       "\"metadata\": %llu},\n", U(s->arenas),
		       U(s->committed - s->huge_allocated - s->meta_bytes), U(s->brk_bytes),
		       U(s->meta_bytes));
	pcm_out_printf(o, " \"pages\": {\"page_size\": 4096, \"free\": %llu, \"dirty\": %llu, "
		       "\"returned_bytes\": %llu, \"madvise_calls\": %llu},\n", U(s->free_pages),
		       U(s->dirty_pages), U(s->purged_bytes), U(s->purge_calls));
	pcm_out_printf(o, " \"slabs\": {\"count\": %llu, \"bytes\": %llu, \"objects_out\": %llu},\n",
		       U(s->slabs), U(s->slab_bytes), U(s->slab_objects));
	pcm_out_printf(o, " \"cache\": {\"mode\": ");
	jstr(o, WORD(mode_names, s->cache_mode));
	pcm_out_printf(o, ", \"index\": ");
	jstr(o, s->cache_mode == 1 ? s->cache_index : "");
	pcm_out_printf(o, ", \"percpu_off\": ");
	jstr(o, s->cache_mode == 1 ? "" : s->percpu_off);
	pcm_out_printf(o, ", \"objects\": %llu, \"bytes\": %llu, \"large_bytes\": %llu, "
		       "\"threads\": %llu, \"cpu_caches\": %llu, \"cpu_cache_bound\": %llu,\n"
		       "  \"per_cpu\": [", U(s->cached_objects), U(s->cached_bytes),
		       U(s->cached_large_bytes), U(s->threads), U(s->cpu_caches),
		       U(s->cpu_cache_bound));
	for (unsigned i = 0; i < s->nr_cpus && i < PCM_SNAP_CPUS; i++)
		pcm_out_printf(o, "%s{\"index\": %u, \"objects\": %llu, \"bytes\": %llu}",
			       i ? ", " : "", i, U(s->cpus[i].objs), U(s->cpus[i].bytes));
	pcm_out_printf(o, "]},\n \"background\": {\"state\": ");
	jstr(o, WORD(bg_names, s->bg_state));
	pcm_out_printf(o, ", \"rounds\": %llu, \"drained_objects\": %llu, \"purged_pages\": %llu, "
		       "\"wakeups\": %llu},\n", U(s->bg_rounds), U(s->bg_drained_objs),
		       U(s->bg_purged_pages), U(s->bg_wakeups));
	pcm_out_printf(o, " \"thp\": {\"policy\": ");
	jstr(o, WORD(thp_names, s->thp));
	pcm_out_printf(o, ", \"kernel\": ");
	jstr(o, WORD(thp_names, s->sys_thp));
	pcm_out_printf(o, ", \"hinted_regions\": %llu, \"waiting_regions\": %llu},\n",
		       U(s->thp_hinted), U(s->thp_waiting));
	pcm_out_printf(o, " \"conf\": {\"dirty_max\": %llu, \"decay_ns\": %llu},\n",
		       U(s->dirty_max), U(s->decay_ns));
	pcm_out_printf(o, " \"classes\": [");
	int first = 1;
	for (unsigned c = 1; c < s->nr_classes && c < PCM_SNAP_CLASSES; c++) {
		const struct pcm_snap_class *sc = &s->classes[c];
		if (!sc->slabs && !sc->refills)
			continue;
		pcm_out_printf(o, "%s\n  {\"class\": %u, \"size\": %u, \"order\": %u, "
			       "\"objs_per_slab\": %u, \"large\": %s, \"slabs\": %llu, "
			       "\"objs_out\": %llu, \"partial\": %llu, \"refills\": %llu, "
			       "\"drains\": %llu}", first ? "" : ",", c, sc->size, sc->order,
			       sc->objs_per_slab, sc->large ? "true" : "false", U(sc->slabs),
			       U(sc->objs_out), U(sc->partial), U(sc->refills), U(sc->drains));
		first = 0;
	}
	pcm_out_printf(o, "],\n \"zones\": [");
	for (unsigned z = 0; z < s->nr_zones && z < PCM_SNAP_ZONES; z++) {
		const struct pcm_snap_zone *sz = &s->zones[z];
		pcm_out_printf(o, "%s\n  {\"name\": \"%s\", \"used_pages\": %llu, \"free_pages\": %llu, "
			       "\"dirty_pages\": %llu, \"arenas\": %llu, \"free_blocks_by_order\": [",
			       z ? "," : "", WORD(zone_names, (int)z), U(sz->used_pages),
			       U(sz->free_pages), U(sz->dirty_pages), U(sz->arenas));
		for (unsigned i = 0; i < s->nr_orders && i < PCM_SNAP_ORDERS; i++)
			pcm_out_printf(o, "%s%llu", i ? ", " : "", U(sz->nr_free[i]));
		pcm_out_printf(o, "], \"purged\": {");
		for (int i = 0; i < PCM_SNAP_PURGE; i++)
			pcm_out_printf(o, "%s\"%s\": {\"calls\": %llu, \"pages\": %llu}", i ? ", " : "",
				       purge_names[i], U(sz->purge_calls[i]), U(sz->purge_pages[i]));
		pcm_out_printf(o, "}}");
	}
	pcm_out_printf(o, "]}\n");
}
