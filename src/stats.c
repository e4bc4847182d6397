/* Statistics.  See stats.h. */

#include "stats.h"
#include "arena.h"
#include "buddy.h"
#include "conf.h"
#include "fmt.h"
#include "huge.h"
#include "lifecycle.h"
#include "meta.h"
#include "percpu.h"
#include "background.h"
#include "sizeclass.h"
#include "slab.h"
#include "os.h"
#include "peak.h"
#include "snapshot.h"
#include "tcache.h"

#include <errno.h>
#include <string.h>

static size_t allocated_peak; /* sampled (stats.h) */

void pcm_stats_collect(struct pcmalloc_stats *st)
{
	memset(st, 0, sizeof *st);
	if (!pcm_is_initialised())
		return;
	size_t hc, hb, hmc, hmb;
	pcm_huge_totals(&hc, &hb, &hmc, &hmb);
	size_t pc_objs, pc_bytes, pc_large, pc_regions, pc_bound, tc_large;
	pcm_tcache_totals(&st->cached_objects, &st->cached_bytes, &tc_large, &st->threads);
	pcm_percpu_totals(&pc_objs, &pc_bytes, &pc_large, &pc_regions, &pc_bound);
	st->cached_objects += pc_objs;
	st->cached_bytes += pc_bytes;
	size_t small_out_bytes = 0, large_out_bytes = 0, class_runs_bytes = 0;
	for (unsigned cls = 1; cls < PCM_NR_CLASSES; cls++) {
		struct pcm_class_totals s;
		pcm_class_totals(cls, &s);
		size_t bytes = s.slabs * ((size_t)pcm_class_info[cls].slab_pages << PCM_PAGE_SHIFT);
		st->slab_objects += s.objs_out;
		st->slabs += s.slabs;
		st->slab_bytes += bytes;
		if (pcm_class_is_large(cls)) { /* runs of the large zone */
			class_runs_bytes += bytes;
			large_out_bytes += s.objs_out * pcm_class_info[cls].size;
		} else {
			small_out_bytes += s.objs_out * pcm_class_info[cls].size;
		}
	}
	size_t purged = 0, dirty = 0, free_pages = 0, arenas = 0;
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		struct pcm_zone_totals zt;
		pcm_zone_totals(&pcm_zones[z], &zt);
		free_pages += zt.free_pages;
		dirty += zt.dirty_pages;
		purged += zt.purged_pages;
		st->purge_calls += zt.purge_calls;
		st->committed += (zt.committed_pages + zt.arenas * PCM_META_PAGES)
				 << PCM_PAGE_SHIFT;
		arenas += zt.arenas;
		if (z == PCM_ZONE_LARGE) /* exact runs, not the classes' */
			st->large_allocated = (zt.used_pages << PCM_PAGE_SHIFT) -
					      (class_runs_bytes < (zt.used_pages << PCM_PAGE_SHIFT)
						       ? class_runs_bytes
						       : zt.used_pages << PCM_PAGE_SHIFT);
	}
	/* Objects out of slabs and not in a cache are live: up to 32 KiB
	 * "small"; large-class objects count with the exact runs as "large". */
	size_t exact_runs = st->large_allocated;
	size_t large_cached = pc_large + tc_large, small_cached = st->cached_bytes - large_cached;
	st->small_allocated = small_out_bytes > small_cached ? small_out_bytes - small_cached : 0;
	st->large_allocated += large_out_bytes > large_cached ? large_out_bytes - large_cached : 0;
	st->huge_allocated = hb;
	st->huge_count = hc;
	st->allocated = st->small_allocated + st->large_allocated + hb;
	st->free_pages = free_pages;
	st->dirty_pages = dirty;
	st->purged_bytes = purged << PCM_PAGE_SHIFT;
	st->arenas = arenas;
	st->brk_bytes = __atomic_load_n(&pcm_arena_brk_bytes, __ATOMIC_RELAXED);
	st->mapped = __atomic_load_n(&pcm_arena_mapped_bytes, __ATOMIC_RELAXED) +
		     hb + pcm_meta_bytes();
	st->committed += hb + pcm_meta_bytes();
	/* Resident estimate: pages in use, dirty free pages, metadata. */
	size_t used_pages = (st->slab_bytes + exact_runs) >> PCM_PAGE_SHIFT;
	st->resident = ((used_pages + dirty + arenas * PCM_META_PAGES)
			<< PCM_PAGE_SHIFT) + hb + pcm_meta_bytes();
	/* (Per-CPU also while its regions wait for the first calls: the
	 * mode the caches will be in.) */
	st->cache_mode = pcm_percpu_base || pcm_percpu_pending() ? PCMALLOC_CACHE_PER_CPU
								 : PCMALLOC_CACHE_PER_THREAD;	pcm_peak_note(&allocated_peak, st->allocated);
	pcm_peak_note(&pcm_peaks.resident_peak, st->resident);
	pcm_peak_note(&pcm_peaks.mapped_peak, st->mapped);
	st->allocated_peak = __atomic_load_n(&allocated_peak, __ATOMIC_RELAXED);
	st->resident_peak = __atomic_load_n(&pcm_peaks.resident_peak, __ATOMIC_RELAXED);
	st->mapped_peak = __atomic_load_n(&pcm_peaks.mapped_peak, __ATOMIC_RELAXED);
}

void pcm_stats_sample_peaks(void)
{
	struct pcmalloc_stats st;
	pcm_stats_collect(&st); /* notes the peaks */
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

void pcm_stats_snapshot(struct pcm_snap *s)
{
	struct pcmalloc_stats st;
	memset(s, 0, sizeof *s);
	pcm_stats_collect(&st);
	s->magic = PCM_SNAP_MAGIC;
	s->schema = PCM_SNAP_SCHEMA;
	s->size = sizeof *s;
	copy_str(s->version, sizeof s->version, PCMALLOC_VERSION);
	s->pid = pcm_os_getpid();
	s->time_ns = pcm_os_realtime_ns();

	size_t hc, hb, hmc, hmb;
	pcm_huge_totals(&hc, &hb, &hmc, &hmb);
	s->allocated = st.allocated;
	s->allocated_peak = st.allocated_peak;
	s->small_allocated = st.small_allocated;
	s->large_allocated = st.large_allocated;
	s->huge_allocated = st.huge_allocated;
	s->huge_count = st.huge_count;
	s->huge_count_peak = hmc;
	s->huge_peak = hmb;
	s->resident = st.resident;
	s->resident_peak = st.resident_peak;
	s->mapped = st.mapped;
	s->mapped_peak = st.mapped_peak;
	s->committed = st.committed;
	s->brk_bytes = st.brk_bytes;
	s->arenas = st.arenas;
	s->meta_bytes = pcm_meta_bytes();
	s->free_pages = st.free_pages;
	s->dirty_pages = st.dirty_pages;
	s->purged_bytes = st.purged_bytes;
	s->purge_calls = st.purge_calls;
	s->slabs = st.slabs;
	s->slab_bytes = st.slab_bytes;
	s->slab_objects = st.slab_objects;

	size_t pc_objs, pc_bytes, pc_large, pc_regions, pc_bound;
	size_t tc_o, tc_b, tc_large, tc_n;
	pcm_percpu_totals(&pc_objs, &pc_bytes, &pc_large, &pc_regions, &pc_bound);
	pcm_tcache_totals(&tc_o, &tc_b, &tc_large, &tc_n);
	s->cache_mode = !pcm_conf.tcache ? 2 : pcm_percpu_base || pcm_percpu_pending() ? 1 : 0;
	copy_str(s->cache_index, sizeof s->cache_index, pcm_cid_off == 24 ? "mm_cid" : "cpu_id");
	copy_str(s->percpu_off, sizeof s->percpu_off, pcm_percpu_off_reason());
	s->cached_objects = st.cached_objects;
	s->cached_bytes = st.cached_bytes;
	s->cached_large_bytes = pc_large + tc_large;
	s->threads = st.threads;
	s->cpu_caches = pc_regions;
	s->cpu_cache_bound = pc_bound;

	struct pcm_bg_totals bg;
	pcm_background_totals(&bg);
	s->bg_state = bg.state & 3;
	s->bg_rounds = bg.rounds;
	s->bg_drained_objs = bg.drained_objs;
	s->bg_purged_pages = bg.purged_pages;
	s->bg_wakeups = bg.wakeups;

	s->thp = pcm_conf.thp;
	s->sys_thp = pcm_conf_sys_thp();
	s->dirty_max = (uint64_t)pcm_conf.dirty_max_pages << PCM_PAGE_SHIFT;
	s->decay_ns = pcm_conf.decay_ns;

	s->nr_classes = PCM_NR_CLASSES;
	s->nr_orders = PCM_NR_ORDERS;
	s->nr_zones = PCM_NR_ZONES;
	_Static_assert(PCM_NR_CLASSES <= PCM_SNAP_CLASSES, "snapshot classes");
	_Static_assert(PCM_NR_ORDERS <= PCM_SNAP_ORDERS, "snapshot orders");
	_Static_assert(PCM_NR_ZONES <= PCM_SNAP_ZONES, "snapshot zones");
	_Static_assert(PCM_NR_PURGE <= PCM_SNAP_PURGE, "snapshot purge reasons");
	if (!pcm_is_initialised())
		return;
	size_t hinted = 0, split = 0;
	for (int z = 0; z < PCM_NR_ZONES; z++)
		pcm_zone_thp_regions(&pcm_zones[z], &hinted, &split);
	s->thp_hinted = hinted;
	s->thp_waiting = split;
	for (unsigned cls = 1; cls < PCM_NR_CLASSES; cls++) {
		const struct pcm_class_info *ci = &pcm_class_info[cls];
		struct pcm_snap_class *sc = &s->classes[cls];
		struct pcm_class_totals cs;
		pcm_class_totals(cls, &cs);
		sc->size = ci->size;
		sc->order = ci->order;
		sc->objs_per_slab = ci->nobjs;
		sc->large = pcm_class_is_large(cls);
		sc->slabs = cs.slabs;
		sc->objs_out = cs.objs_out;
		sc->partial = cs.partial;
		sc->refills = cs.refills;
		sc->drains = cs.drains;
	}
	for (int z = 0; z < PCM_NR_ZONES; z++) {
		struct pcm_zone_totals zt;
		struct pcm_snap_zone *sz = &s->zones[z];
		pcm_zone_totals(&pcm_zones[z], &zt);
		for (int i = 0; i < PCM_NR_ORDERS; i++)
			sz->nr_free[i] = zt.nr_free[i];
		for (int i = 0; i < PCM_NR_PURGE; i++) {
			sz->purge_calls[i] = zt.purge_calls_by[i];
			sz->purge_pages[i] = zt.purged_pages_by[i];
		}
		sz->used_pages = zt.used_pages;
		sz->free_pages = zt.free_pages;
		sz->dirty_pages = zt.dirty_pages;
		sz->arenas = zt.arenas;
	}
	size_t objs[PCM_SNAP_CPUS], bytes[PCM_SNAP_CPUS];
	s->nr_cpus = pcm_percpu_fill(PCM_SNAP_CPUS, objs, bytes);
	for (unsigned i = 0; i < s->nr_cpus; i++) {
		s->cpus[i].objs = objs[i];
		s->cpus[i].bytes = bytes[i];
	}
}

/* The report in text or JSON, written without allocating: the snapshot
 * is on the stack (about 14 KiB). */
static void print_report(int fd, int json)
{
	struct pcm_out o;
	struct pcm_snap s;
	int saved = errno;
	pcm_out_init_fd(&o, fd);
	pcm_stats_snapshot(&s);
	if (json)
		pcm_report_json(&o, &s);
	else
		pcm_report_text(&o, &s);
	pcm_out_flush(&o);
	errno = saved;
}

void pcm_stats_print(int fd)
{
	print_report(fd, 0);
}

void pcm_stats_print_json(int fd)
{
	print_report(fd, 1);
}

void pcm_stats_print_conf(int fd)
{
	print_report(fd, pcm_conf.stats == 2);
}

void pcm_malloc_stats_impl(void)
{
	struct pcmalloc_stats st;
	size_t hc, hb, hmc, hmb;
	int saved = errno;
	pcm_stats_collect(&st);
	pcm_huge_totals(&hc, &hb, &hmc, &hmb);
	size_t sys = st.resident - st.huge_allocated;
	size_t inuse = st.small_allocated + st.large_allocated;
	struct pcm_out o;
	pcm_out_init_fd(&o, 2);
	/* glibc's layout first, so scripts that parse it keep working. */
	pcm_out_printf(&o, "Arena 0:\n");
	pcm_out_printf(&o, "system bytes     = %10zu\n", sys);
	pcm_out_printf(&o, "in use bytes     = %10zu\n", inuse);
	pcm_out_printf(&o, "Total (incl. mmap):\n");
	pcm_out_printf(&o, "system bytes     = %10zu\n", sys + hb);
	pcm_out_printf(&o, "in use bytes     = %10zu\n", inuse + hb);
	pcm_out_printf(&o, "max mmap regions = %10zu\n", hmc);
	pcm_out_printf(&o, "max mmap bytes   = %10zu\n", hmb);
	pcm_out_flush(&o);
	pcm_stats_print(2);
	errno = saved;
}

struct mallinfo2 pcm_mallinfo2_impl(void)
{
	struct pcmalloc_stats st;
	struct mallinfo2 mi;
	memset(&mi, 0, sizeof mi);
	pcm_stats_collect(&st);
	size_t sys = st.resident - st.huge_allocated;
	size_t inuse = st.small_allocated + st.large_allocated;
	size_t nfree = 0;
	for (int z = 0; z < PCM_NR_ZONES && pcm_is_initialised(); z++) {
		struct pcm_zone_totals zt;
		pcm_zone_totals(&pcm_zones[z], &zt);
		for (int o = 0; o < PCM_NR_ORDERS; o++)
			nfree += zt.nr_free[o];
	}
	mi.arena = sys;
	mi.ordblks = nfree;
	mi.smblks = st.cached_objects;
	mi.hblks = st.huge_count;
	mi.hblkhd = st.huge_allocated;
	mi.fsmblks = st.cached_bytes;
	mi.uordblks = inuse;
	mi.fordblks = sys > inuse ? sys - inuse : 0;
	mi.keepcost = st.dirty_pages << PCM_PAGE_SHIFT;
	return mi;
}

static void file_sink(struct pcm_out *o, const char *s, size_t n)
{
	fwrite(s, 1, n, (FILE *)o->ctx);
}

int pcm_malloc_info_impl(int options, FILE *fp)
{
	if (options != 0)
		return EINVAL; /* as glibc: returned, errno untouched */
	struct pcmalloc_stats st;
	pcm_stats_collect(&st);
	struct pcm_out o;
	o.len = 0;
	o.sink = file_sink;
	o.ctx = fp;
	/* Free objects per class: in slabs plus in caches. */
	pcm_out_printf(&o, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
	size_t free_objs = 0, free_bytes = 0;
	for (unsigned cls = 1; cls < PCM_NR_CLASSES && pcm_is_initialised(); cls++) {
		struct pcm_class_totals s;
		pcm_class_totals(cls, &s);
		const struct pcm_class_info *ci = &pcm_class_info[cls];
		size_t cap = s.slabs * ci->nobjs;
		size_t nfree = cap > s.objs_out ? cap - s.objs_out : 0;
		if (!nfree)
			continue;
		size_t from = cls > 1 ? pcm_class_info[cls - 1].size + 1 : 1;
		pcm_out_printf(&o, "  <size from=\"%zu\" to=\"%u\" total=\"%zu\" "
			       "count=\"%zu\"/>\n", from, ci->size, nfree * ci->size,
			       nfree);
		free_objs += nfree;
		free_bytes += nfree * ci->size;
	}
	size_t sys = st.resident - st.huge_allocated;
	/* The most the heap has held ("max"), as glibc's max_system_mem. */
	size_t peak_sys = st.resident_peak > sys ? st.resident_peak : sys;
	pcm_out_printf(&o, "</sizes>\n<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n",
		       st.cached_objects, st.cached_bytes);
	pcm_out_printf(&o, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n",
		       free_objs, free_bytes + (st.free_pages << PCM_PAGE_SHIFT));
	pcm_out_printf(&o, "<system type=\"current\" size=\"%zu\"/>\n", sys);
	pcm_out_printf(&o, "<system type=\"max\" size=\"%zu\"/>\n", peak_sys);
	pcm_out_printf(&o, "<aspace type=\"total\" size=\"%zu\"/>\n", st.mapped);
	pcm_out_printf(&o, "<aspace type=\"mprotect\" size=\"%zu\"/>\n</heap>\n", st.mapped);
	pcm_out_printf(&o, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n",
		       st.cached_objects, st.cached_bytes);
	pcm_out_printf(&o, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n",
		       free_objs, free_bytes + (st.free_pages << PCM_PAGE_SHIFT));
	pcm_out_printf(&o, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n",
		       st.huge_count, st.huge_allocated);
	pcm_out_printf(&o, "<system type=\"current\" size=\"%zu\"/>\n", sys + st.huge_allocated);
	pcm_out_printf(&o, "<system type=\"max\" size=\"%zu\"/>\n", peak_sys);
	pcm_out_printf(&o, "<aspace type=\"total\" size=\"%zu\"/>\n", st.mapped);
	pcm_out_printf(&o, "<aspace type=\"mprotect\" size=\"%zu\"/>\n</malloc>\n", st.mapped);
	pcm_out_flush(&o);
	return 0;
}
