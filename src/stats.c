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
#include "tcache.h"

#include <errno.h>
#include <string.h>

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
	st->cache_mode = pcm_percpu_base ? PCMALLOC_CACHE_PER_CPU
					 : PCMALLOC_CACHE_PER_THREAD;
}

static const char *mib(char *buf, size_t cap, size_t bytes)
{
	pcm_fmt(buf, cap, "%zu.%02zu MiB", bytes >> 20,
		((bytes & ((1u << 20) - 1)) * 100) >> 20);
	return buf;
}

void pcm_stats_print(int fd)
{
	struct pcm_out o;
	struct pcmalloc_stats st;
	char b1[32], b2[32], b3[32];
	int saved = errno;
	pcm_out_init_fd(&o, fd);
	pcm_stats_collect(&st);
	pcm_out_printf(&o, "------ pcmalloc statistics (version %s) ------\n",
		       PCMALLOC_VERSION);
	size_t pc_objs, pc_bytes, pc_large, pc_regions, pc_bound;
	pcm_percpu_totals(&pc_objs, &pc_bytes, &pc_large, &pc_regions, &pc_bound);
	if (!pcm_conf.tcache)
		pcm_out_printf(&o, "cache mode:      none (tcache:0)\n");
	else if (pcm_percpu_base)
		pcm_out_printf(&o, "cache mode:      per-CPU (rseq, indexed by %s): %zu CPU "
			       "caches in use, at most %s each; %zu threads\n",
			       pcm_cid_off == 24 ? "mm_cid" : "cpu_id", pc_regions,
			       mib(b1, sizeof b1, pc_bound), st.threads);
	else
		pcm_out_printf(&o, "cache mode:      per-thread (%zu live thread caches; "
			       "per-CPU off: %s)\n", st.threads, pcm_percpu_off_reason());
	pcm_out_printf(&o, "allocated:       %s  (small %s, large %s, ",
		       mib(b1, sizeof b1, st.allocated),
		       mib(b2, sizeof b2, st.small_allocated),
		       mib(b3, sizeof b3, st.large_allocated));
	pcm_out_printf(&o, "huge %s in %zu mappings)\n",
		       mib(b1, sizeof b1, st.huge_allocated), st.huge_count);
	pcm_out_printf(&o, "mapped:          %s  (%zu arenas of 64 MiB reserved, %s "
		       "of them committed; %s by brk)\n",
		       mib(b1, sizeof b1, st.mapped), st.arenas,
		       mib(b3, sizeof b3, st.committed - st.huge_allocated - pcm_meta_bytes()),
		       mib(b2, sizeof b2, st.brk_bytes));
	pcm_out_printf(&o, "resident (est.): %s  free pages %zu, dirty %zu, "
		       "returned to OS %s\n", mib(b1, sizeof b1, st.resident),
		       st.free_pages, st.dirty_pages,
		       mib(b2, sizeof b2, st.purged_bytes));
	size_t tc_o, tc_b, tc_large, tc_n;
	pcm_tcache_totals(&tc_o, &tc_b, &tc_large, &tc_n);
	pcm_out_printf(&o, "cached:          %zu objects, %s (of which large classes %s)\n",
		       st.cached_objects, mib(b1, sizeof b1, st.cached_bytes),
		       mib(b2, sizeof b2, pc_large + tc_large));
	struct pcm_bg_totals bg;
	pcm_background_totals(&bg);
	static const char *const bg_names[] = {
		[PCM_BG_NONE] = "not started", [PCM_BG_RUNNING] = "running",
		[PCM_BG_ASLEEP] = "asleep", [PCM_BG_OFF] = "off"};
	pcm_out_printf(&o, "background:      %s; %llu rounds, %llu cached objects "
		       "returned, %llu pages purged, %llu wake-ups\n",
		       bg_names[bg.state & 3], (unsigned long long)bg.rounds,
		       (unsigned long long)bg.drained_objs,
		       (unsigned long long)bg.purged_pages,
		       (unsigned long long)bg.wakeups);
	size_t hinted = 0, split = 0;
	for (int z = 0; z < PCM_NR_ZONES; z++)
		pcm_zone_thp_regions(&pcm_zones[z], &hinted, &split);
	pcm_out_printf(&o, "THP policy:      %s (kernel %s); %zu regions of 2 MiB hinted "
		       "for huge pages, %zu of them waiting to collapse\n",
		       pcm_conf.thp == 0 ? "never" : pcm_conf.thp == 1 ? "madvise" : "always",
		       pcm_conf_sys_thp() == 0 ? "never" : pcm_conf_sys_thp() == 1 ? "madvise" : "always",
		       hinted, split);
	pcm_out_printf(&o, "slabinfo:  class   size  order objs/slab  slabs  "
		       "objs-out  refills  drains\n");
	for (unsigned cls = 1; cls < PCM_NR_CLASSES && pcm_is_initialised(); cls++) {
		struct pcm_class_totals s;
		pcm_class_totals(cls, &s);
		if (!s.slabs && !s.refills)
			continue;
		const struct pcm_class_info *ci = &pcm_class_info[cls];
		pcm_out_printf(&o, "           %5u %6u %6u %9u %6zu %9zu %8llu %7llu\n",
			       cls, ci->size, ci->order, ci->nobjs, s.slabs,
			       s.objs_out, (unsigned long long)s.refills,
			       (unsigned long long)s.drains);
	}
	for (int z = 0; z < PCM_NR_ZONES && pcm_is_initialised(); z++) {
		struct pcm_zone_totals zt;
		pcm_zone_totals(&pcm_zones[z], &zt);
		const uint64_t *calls = zt.purge_calls_by, *pages = zt.purged_pages_by;
		pcm_out_printf(&o, "buddyinfo %-5s (used %zu pages; free blocks by order):",
			       z == PCM_ZONE_SLAB ? "slab" : "large", zt.used_pages);
		for (int i = 0; i < PCM_NR_ORDERS; i++)
			pcm_out_printf(&o, " %zu", zt.nr_free[i]);
		pcm_out_printf(&o, "\n  purged (madvise calls/pages): budget %llu/%llu, "
			       "decay %llu/%llu, trim %llu/%llu, background %llu/%llu\n",
			       (unsigned long long)calls[PCM_PURGE_BUDGET],
			       (unsigned long long)pages[PCM_PURGE_BUDGET],
			       (unsigned long long)calls[PCM_PURGE_DECAY],
			       (unsigned long long)pages[PCM_PURGE_DECAY],
			       (unsigned long long)calls[PCM_PURGE_TRIM],
			       (unsigned long long)pages[PCM_PURGE_TRIM],
			       (unsigned long long)calls[PCM_PURGE_BACKGROUND],
			       (unsigned long long)pages[PCM_PURGE_BACKGROUND]);
	}
	pcm_out_flush(&o);
	errno = saved;
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
	pcm_out_printf(&o, "</sizes>\n<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n",
		       st.cached_objects, st.cached_bytes);
	pcm_out_printf(&o, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n",
		       free_objs, free_bytes + (st.free_pages << PCM_PAGE_SHIFT));
	pcm_out_printf(&o, "<system type=\"current\" size=\"%zu\"/>\n", sys);
	pcm_out_printf(&o, "<system type=\"max\" size=\"%zu\"/>\n", st.mapped);
	pcm_out_printf(&o, "<aspace type=\"total\" size=\"%zu\"/>\n", st.mapped);
	pcm_out_printf(&o, "<aspace type=\"mprotect\" size=\"%zu\"/>\n</heap>\n", st.mapped);
	pcm_out_printf(&o, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n",
		       st.cached_objects, st.cached_bytes);
	pcm_out_printf(&o, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n",
		       free_objs, free_bytes + (st.free_pages << PCM_PAGE_SHIFT));
	pcm_out_printf(&o, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n",
		       st.huge_count, st.huge_allocated);
	pcm_out_printf(&o, "<system type=\"current\" size=\"%zu\"/>\n", sys + st.huge_allocated);
	pcm_out_printf(&o, "<system type=\"max\" size=\"%zu\"/>\n", st.mapped);
	pcm_out_printf(&o, "<aspace type=\"total\" size=\"%zu\"/>\n", st.mapped);
	pcm_out_printf(&o, "<aspace type=\"mprotect\" size=\"%zu\"/>\n</malloc>\n", st.mapped);
	pcm_out_flush(&o);
	return 0;
}
