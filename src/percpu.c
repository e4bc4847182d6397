/*
 * Per-CPU caches: set-up, the batch operations, the transfer cache that
 * sits between CPU caches and slabs, and draining.  See percpu.h.
 */
#include "percpu.h"
#include "cache.h"
#include "conf.h"
#include "fmt.h"
#include "lock.h"
#include "os.h"
#include "sizeclass.h"
#include "slab.h"

#include <errno.h>

#define STOPPED (0xffffull << 32) /* begin 0xffff, end 0: fails everything */

/* The null region before the regions exist: its headers, at the address
 * that slot index -1 selects below pcm_rseq_base.  Every sequence fails on
 * them before its commit, so nothing writes them: read-only data (in .data
 * they would push .data and __rseq_cs past one page). */
static const uint64_t null_hdrs[PCM_NR_CLASSES] = { [0 ... PCM_NR_CLASSES - 1] = STOPPED };

char *pcm_percpu_base;
char *pcm_rseq_base = (char *)(uintptr_t)null_hdrs + (1ul << PCM_PERCPU_SHIFT);
uintptr_t pcm_cid_off = 4;
struct pcm_rseq pcm_rseq_stand_in = PCM_RSEQ_STAND_IN_INIT;
static unsigned nr_regions;
static int membarrier_ok;
static const char *off_reason = "not started";
/* Per-CPU mode is decided at start-up (pcm_percpu_init_process) but its
 * regions are made later (pcm_percpu_start): a program that makes a handful
 * of allocations never maps them. */
enum start_state { START_DONE = 0, START_PENDING, START_RUNNING };
static int start_state PCM_HOT; /* enum start_state; DONE: nothing to start */

/*
 * Capacity.  Per class, the same in every region: the capacity a region
 * starts with (cap0: about 16 KiB of objects for a small class, 128 KiB for
 * a large one), the most it may grow to (max), and two arrays of slots: the
 * starting array of cap0 slots (begin), packed with the other classes'
 * right after the region's header so that a region whose classes hold a
 * few objects each touches few pages, and, for a class that may grow, an
 * array of max slots (big) higher up, which it moves into when it first
 * grows beyond cap0 (an address-space reservation: its pages are touched
 * only by a class that grows).  A region's capacity for a class is its
 * header's end - begin, between a floor (floor_of) and max.  A class grows
 * (doubling) only on demonstrated demand: a miss or overflow that follows
 * three of the same class in the region, with no other class's between,
 * as a working set larger than the capacity does, batch after batch
 * (glibc-bench).  Classes that fluctuate around small working sets (many
 * threads each keeping a few objects of many classes: threads-rss,
 * thread-churn) miss now and then, one class's misses among the others',
 * and keep cap0.  A region's small classes keep their capacity together
 * within budget_bytes: room for one class at its maximum while every other
 * is at its floor (about 1 MiB).  A class that grows beyond it takes
 * capacity from classes that have not missed lately, which shrink
 * (halving, their surplus objects going to the transfer cache).  The
 * budget is less than all classes' cap0, which a region starts with: the
 * first class to grow takes the unused classes' surplus.  So a working set
 * larger than cap0 stays in the CPU cache, and a CPU cache holds at most
 * about 1 MiB of small objects.  (With a budget of every class's cap0 and
 * growth on any close miss, 2.8 MiB: the random walks of threads-rss's 40
 * classes filled half of it, and slabs keep their high-water mark;
 * thread-churn's peak RSS 11.7 MiB, 3.5 with this.)  A starting array has
 * START_MIN slots when cap0 is smaller (classes above 256 bytes), so that
 * such a class's first doublings stay in it.  See "---- capacity ----".
 */
static uint16_t cap_of[PCM_NR_CLASSES], max_of[PCM_NR_CLASSES];
static uint16_t begin_of[PCM_NR_CLASSES]; /* the starting array's first slot */
static uint16_t start_of[PCM_NR_CLASSES]; /* its slots (cap0 or more) */
static uint16_t big_of[PCM_NR_CLASSES];   /* the big array's, 0 if none */
static uint16_t batch_of[PCM_NR_CLASSES];
static size_t bound_bytes;  /* what one region can hold at most */
static size_t budget_bytes; /* small classes' capacity in one region */

/* A region: the headers, the idle scan's marks, the misses since the last
 * capacity decision, the set-up state, the capacity clock hand and the
 * class of the last miss, then the slots: the starting arrays, packed, and
 * the big arrays. */
#define HDR_BYTES (PCM_NR_CLASSES * 8)
#define SEEN_OFF HDR_BYTES
#define MISS_OFF (SEEN_OFF + 2 * PCM_NR_CLASSES)
#define STATE_OFF ((MISS_OFF + PCM_NR_CLASSES + 7) & ~7)
#define RECENT_OFF (STATE_OFF + 8)
#define FIRST_SLOT ((RECENT_OFF + 8) / 8) /* slots below hold the above */
#define REGION_SLOTS 65535u /* 16-bit indices; end <= 65535 */
#define MAX_BATCH 64
#define START_MIN 64 /* slots of a starting array, if max allows */
#define RECENT 3 /* the region's last misses that grow() looks at */
#define RECENT_REFILL 0x80 /* in recent(): that miss was a refill */

_Static_assert(HDR_BYTES <= STATE_OFF && RECENT_OFF + RECENT <= FIRST_SLOT * 8 &&
	       PCM_NR_CLASSES <= RECENT_REFILL,
	       "region header layout");
_Static_assert(REGION_SLOTS * 8 <= 1ul << PCM_PERCPU_SHIFT, "region size");

/* The transfer cache: per class, a bounded stack of objects between the CPU
 * caches and the slabs, so that a drain on one CPU feeds a refill on
 * another, and a working set somewhat larger than a CPU cache moves in
 * batches, without touching slab free lists.
 *
 * Its capacity follows demand.  It starts at four of the class's starting
 * batches, which a flow of objects between CPUs needs, and doubles (up to xfer_max) only for a
 * sweep: emptied from full by refills alone, then filled from empty by
 * overflows alone, as a working set larger than a CPU cache is allocated
 * and freed again (glibc-bench).  Where CPUs both give and take (threads
 * freeing what others allocated, the last blocks of threads that exited),
 * its level is a random walk: objects come from the slabs when it is empty
 * and go back only when it is full, so with room to spare the walk climbs
 * (as the square root of the batches moved) and what it leaves below
 * itself is never used (thread-churn with 2 MiB for every class: 5.8 MiB
 * of transfer caches in 8.9 MiB of slabs after 40000 threads; 1.2 MiB with
 * four batches).  Filling from empty alone is no sign of demand either: a
 * class freed more than allocated (threads-rss's larger sizes) does that,
 * and its objects are not wanted back.  Emptied (the background worker's
 * rounds, malloc_trim), a transfer cache starts over at four batches. */
#define XFER_OBJS 8192
#define XFER_BYTES (8ul << 20)
#define XFER_NEAR (4 * MAX_BATCH) /* slots beside the lock: four batches */
struct xfer {
	pcm_lock_t lock;
	uint32_t n;    /* at most cap */
	uint16_t cap;  /* the capacity (objects), 0: four batches */
	uint8_t sweep; /* XF_* below */
	void *objs[XFER_NEAR];
} __attribute__((aligned(PCM_CACHE_LINE)));
static struct xfer xfer[PCM_NR_CLASSES];
/* The slots beyond four batches, apart: the near ones of every class stay
 * packed, a class that keeps a few objects there touches a page shared
 * with others (with 16 KiB arrays, one page a class: +80 KiB in
 * threads-rss).  The far ones are address space after the per-CPU
 * regions, in their mapping (start_regions), touched only by a class whose
 * transfer cache holds more: far_of[c] is class c's first, sized by
 * xfer_max(c) (2.5 MiB in all; an array of the largest for every class
 * was 7 MiB of .bss in every process). */
static void **xfer_far;
static uint32_t far_of[PCM_NR_CLASSES];

/* What a transfer cache's level did lately (struct xfer's sweep): */
enum {
	XF_MIXED = 1, /* since it was last empty, more than overflows came in */
	XF_TOP = 2,   /* since it was last full, objects only went out */
	XF_SWEPT = 4, /* it went from full to empty with objects only going out */
};

static inline void **xfer_slot(unsigned cls, unsigned i)
{
	return i < XFER_NEAR ? &xfer[cls].objs[i] : &xfer_far[far_of[cls] + i - XFER_NEAR];
}

/* A small class's transfer cache may grow to 8192 objects and 8 MiB of
 * them (a swept working set of up to 8 MiB of a class stays out of the
 * slabs: glibc-bench's 1600 blocks of 4 KiB and 6400 of 1 KiB; what it
 * holds was the program's a moment before, and the background worker,
 * which runs once 16 MiB are held, empties it within a round), but always
 * four batches; a large class's stays at four batches (its
 * objects are page runs the CPU caches keep already; more would hold memory
 * that other classes cannot use). */
static inline unsigned xfer_four(unsigned cls)
{
	return 4u * batch_of[cls];
}

static inline unsigned xfer_max(unsigned cls)
{
	size_t four = xfer_four(cls);
	if (pcm_class_is_large(cls))
		return (unsigned)four;
	size_t by_bytes = XFER_BYTES / pcm_class_size(cls);
	_Static_assert(XFER_NEAR <= XFER_OBJS && XFER_OBJS <= UINT16_MAX, "transfer cache size");
	return (unsigned)(by_bytes < four ? four : by_bytes > XFER_OBJS ? XFER_OBJS : by_bytes);
}

static pcm_lock_t drain_lock = PCM_LOCK_INIT(PCM_RANK_DRAIN);

/* The least capacity steal() leaves a class: an eighth of cap0, at least
 * one object. */
static inline unsigned floor_of(unsigned cls)
{
	return cap_of[cls] / 8 ? cap_of[cls] / 8 : 1;
}

static inline char *region(unsigned cid)
{
	return pcm_percpu_base + ((size_t)cid << PCM_PERCPU_SHIFT);
}

static inline uint64_t *hdr(char *r, unsigned cls)
{
	return (uint64_t *)r + cls;
}

static inline uint64_t hdr_make(uint64_t begin, uint64_t end, uint64_t cur)
{
	return cur | (end << 16) | (begin << 32);
}

/* The header a class starts with: its starting array, empty, cap0. */
static inline uint64_t hdr_empty(unsigned cls)
{
	return hdr_make(begin_of[cls], begin_of[cls] + cap_of[cls], begin_of[cls]);
}

/* The first slot of the array that `current` cur of class cls indexes: the
 * big array's ranges lie above every starting array's (with a slot between,
 * so that a full starting array's cur is below them), so cur alone tells,
 * whatever the header's begin/end say (stopped, for instance). */
static inline unsigned arr_begin(unsigned cls, unsigned cur)
{
	return big_of[cls] && cur >= big_of[cls] ? big_of[cls] : begin_of[cls];
}

/* Slots of the array that starts at slot b. */
static inline unsigned arr_slots(unsigned cls, unsigned b)
{
	return b == begin_of[cls] ? start_of[cls] : max_of[cls];
}

/* A region's set-up state (ensure_region). */
enum region_state { REGION_UNSET = 0, REGION_SETTING_UP, REGION_READY };

static inline uint32_t *state(char *r)
{
	return (uint32_t *)(r + STATE_OFF);
}

static inline uint16_t *clock_hand(char *r)
{
	return (uint16_t *)(r + STATE_OFF + 4);
}

/* The classes of the region's last RECENT misses or overflows, the last
 * first (grow). */
static inline uint8_t *recent(char *r)
{
	return (uint8_t *)(r + RECENT_OFF);
}

static inline uint8_t *misses(char *r, unsigned cls)
{
	return (uint8_t *)(r + MISS_OFF) + cls;
}

const char *pcm_percpu_off_reason(void)
{
	return pcm_percpu_base || pcm_percpu_pending() ? NULL : off_reason;
}

int pcm_percpu_init_process(void)
{
#if PCM_HAVE_PERCPU
	unsigned fs = 0;
	if (!pcm_conf.percpu) {
		off_reason = "disabled by PCMALLOC_CONF=percpu:0";
		return 0;
	}
	struct pcm_rseq *rs = pcm_os_rseq_area(&fs);
	if (!rs) {
		off_reason = "rseq not registered by glibc";
		return 0;
	}
	if (__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED) >= 0x80000000u) {
		off_reason = "rseq registration failed";
		return 0;
	}
	pcm_cid_off = fs >= 28 ? 24 : 4; /* mm_cid (Linux 6.3+) is dense */
	__atomic_store_n(&start_state, START_PENDING, __ATOMIC_RELEASE);
	return 1;
#else
	off_reason = "not supported on this architecture";
	return 0;
#endif
}

/* The regions themselves: the system calls (sysfs, mmap, naming,
 * membarrier registration) that per-CPU mode needs, made by the first thread
 * that leaves the warm-up (cache.c), not at start-up. */
static void start_regions(void)
{
	/* Capacities: a small class starts with about 16 KiB of objects
	 * (4..256) and may grow to 512 KiB (at most 2048); a large class
	 * keeps about 128 KiB, at least one object. */
	unsigned slot = FIRST_SLOT;
	size_t most = 0;
	budget_bytes = bound_bytes = 0;
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		size_t size = pcm_class_info[c].size, n = 16384 / size, m;
		if (pcm_class_is_large(c)) {
			n = m = (128u << 10) / size ? (128u << 10) / size : 1;
		} else {
			n = n < 4 ? 4 : n > 256 ? 256 : n;
			m = (512u << 10) / size;
			m = m < n ? n : m > 2048 ? 2048 : m;
		}
		cap_of[c] = (uint16_t)n;
		max_of[c] = (uint16_t)m;
		batch_of[c] = (uint16_t)(cap_of[c] / 2 > MAX_BATCH ? MAX_BATCH : cap_of[c] / 2);
		begin_of[c] = (uint16_t)slot;
		start_of[c] = (uint16_t)(n < START_MIN && m > n ? (m < START_MIN ? m : START_MIN) : n);
		slot += start_of[c];
		/* xfer[c] is not written here (but for its lock's rank, which
		 * only debug builds check): its 2 KiB a class (and the far
		 * slots) stay untouched, no page faults, until the class is
		 * used. */
		if (PCM_DEBUG >= 1)
			pcm_lock_init(&xfer[c].lock, PCM_RANK_XFER);
		if (!pcm_class_is_large(c)) {
			budget_bytes += (size_t)floor_of(c) * size;
			most = m * size > most ? m * size : most;
		}
	}
	/* The small classes' budget: one class at its maximum, every other at
	 * its floor, and an eighth of the maximum to spare. */
	budget_bytes += most + most / 8;
	slot++; /* the gap arr_begin() needs */
	size_t far = 0;
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		big_of[c] = max_of[c] > start_of[c] ? (uint16_t)slot : 0;
		slot += big_of[c] ? max_of[c] : 0;
		if (pcm_class_is_large(c))
			bound_bytes += (size_t)cap_of[c] * pcm_class_info[c].size;
		far_of[c] = (uint32_t)far;
		far += xfer_max(c) > XFER_NEAR ? xfer_max(c) - XFER_NEAR : 0;
	}
	bound_bytes += budget_bytes;
	if (slot > REGION_SLOTS) {
		off_reason = "per-CPU region too small (build error)";
		return;
	}
	nr_regions = pcm_os_possible_cpus();
	/* The regions, after the null region (percpu.h), then the transfer
	 * caches' far slots. */
	size_t regions_len = (size_t)(nr_regions + 1) << PCM_PERCPU_SHIFT;
	size_t len = regions_len + pcm_align_up(far * sizeof(void *), PCM_PAGE_SIZE);
	/* Page-aligned is enough (the sequences add the slot's offset to the
	 * base): one mmap, where 64 KiB alignment took three calls. */
	char *map = pcm_os_map_aligned(len, PCM_PAGE_SIZE);
	if (!map) {
		off_reason = "no memory for per-CPU regions";
		return;
	}
	pcm_os_name(map, len, "pcmalloc per-CPU");
	membarrier_ok = pcm_os_membarrier_register() == 0;
	if (!membarrier_ok) { /* without fences, caches could never be drained */
		pcm_os_unmap(map, len);
		off_reason = "membarrier rseq fences not available";
		return;
	}
	for (unsigned c = 0; c < PCM_NR_CLASSES; c++)
		((uint64_t *)map)[c] = STOPPED;
	xfer_far = (void **)(map + regions_len);
	char *base = map + (1ul << PCM_PERCPU_SHIFT);
	__atomic_store_n(&pcm_percpu_base, base, __ATOMIC_RELEASE);
	/* Threads on a stand-in may read either base: each has a null
	 * region below it. */
	__atomic_store_n(&pcm_rseq_base, base, __ATOMIC_RELEASE);
}

int pcm_percpu_start(void)
{
	int st = __atomic_load_n(&start_state, __ATOMIC_ACQUIRE);
	if (st != START_PENDING)
		return st != START_RUNNING;
	if (!__atomic_compare_exchange_n(&start_state, &st, START_RUNNING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return 0;
	int saved = errno; /* a successful malloc leaves errno alone */
	start_regions();
	errno = saved;
	__atomic_store_n(&start_state, START_DONE, __ATOMIC_RELEASE);
	return 1;
}

int pcm_percpu_pending(void)
{
	return __atomic_load_n(&start_state, __ATOMIC_ACQUIRE) != START_DONE;
}

struct pcm_rseq *pcm_percpu_thread_area(void)
{
	unsigned fs;
	if (!pcm_percpu_base)
		return NULL;
	struct pcm_rseq *rs = pcm_os_rseq_area(&fs);
	if (!rs || __atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED) >= nr_regions)
		return NULL;
	return rs;
}

static int parked; /* a fence failed: stopped headers with current reset */

/* Fences, retried: the call fails only for lack of kernel memory. */
static int fence(void)
{
	for (int i = 0; i < 3; i++)
		if (pcm_os_membarrier_rseq() == 0)
			return 1;
	return 0;
}

/* Sets up the region of the CPU slot the thread is on now, if needed. */
static void ensure_region(struct pcm_rseq *rs)
{
	unsigned cid = __atomic_load_n((uint32_t *)((char *)rs + pcm_cid_off),
				       __ATOMIC_RELAXED);
	if (cid >= nr_regions)
		return;
	char *r = region(cid);
	uint32_t *st = state(r), zero = REGION_UNSET;
	if (__atomic_load_n(st, __ATOMIC_ACQUIRE) == REGION_READY)
		return;
	/* Under the drain lock, so that a drain sees a region either not set
	 * up (and leaves it) or set up before it stops it. */
	pcm_lock(&drain_lock);
	if (!__atomic_compare_exchange_n(st, &zero, REGION_SETTING_UP, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED)) {
		pcm_unlock(&drain_lock);
		return; /* set up already */
	}
	/* The cid was read outside any critical section: by now another
	 * thread may run on this region, its sequences reading the all-zero
	 * headers (stopped only while current and begin/end come from the same
	 * value).  So the headers are set up as a drain re-enables them (steps
	 * 3-5 of the protocol below): current = begin still stopped, a fence,
	 * then empty.  A sequence that read the zero current and then the
	 * enabled end would straddle the fence, which restarts it. */
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
		__atomic_store_n(hdr(r, c), begin_of[c] | STOPPED, __ATOMIC_RELEASE);
	if (fence()) {
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
			__atomic_store_n(hdr(r, c), hdr_empty(c), __ATOMIC_RELEASE);
	} else {
		parked = 1; /* stays stopped; the next drain enables it */
	}
	__atomic_store_n(st, REGION_READY, __ATOMIC_RELEASE);
	pcm_unlock(&drain_lock);
}

#if PCM_HAVE_PERCPU
/* Pushes objs[0..n) on this CPU's cache; returns how many fitted. */
static unsigned long push_batch(struct pcm_rseq *rs, unsigned long cls,
				void **objs, unsigned long n)
{
	unsigned long reg, tmp, k, dst, i, x;
	__asm__ volatile(PCM_RSEQ_PROLOGUE
		 "movzwl (%[reg], %[cls], 8), %k[tmp]\n\t"
		 "movzwl 2(%[reg], %[cls], 8), %k[k]\n\t"
		 "subl %k[tmp], %k[k]\n\t"
		 "jbe 6f\n\t"
		 "cmpq %[n], %[k]\n\t"
		 "cmova %[n], %[k]\n\t"
		 "leaq (%[reg], %[tmp], 8), %[dst]\n\t"
		 "xorl %k[i], %k[i]\n"
		 "5:\n\t"
		 "movq (%[objs], %[i], 8), %[x]\n\t"
		 "movq %[x], (%[dst], %[i], 8)\n\t"
		 "addq $1, %[i]\n\t"
		 "cmpq %[k], %[i]\n\t"
		 "jb 5b\n\t"
		 "addl %k[k], %k[tmp]\n\t"
		 "movw %w[tmp], (%[reg], %[cls], 8)\n"
		 PCM_RSEQ_NOTHING("k")
		 : [reg] "=&r"(reg), [tmp] "=&r"(tmp), [k] "=&r"(k),
		   [dst] "=&r"(dst), [i] "=&r"(i), [x] "=&r"(x)
		 : [rs] "r"(rs), [off] "r"(pcm_cid_off),
		   [base] "m"(pcm_rseq_base), [cls] "r"(cls), [objs] "r"(objs),
		   [n] "r"(n)
		 : "memory", "cc");
	return k;
}

/* Pops up to n objects from this CPU's cache into out[]; returns how many. */
static unsigned long pop_batch(struct pcm_rseq *rs, unsigned long cls,
			       void **out, unsigned long n)
{
	unsigned long reg, tmp, k, dst, i, x;
	__asm__ volatile(PCM_RSEQ_PROLOGUE
		 "movzwl (%[reg], %[cls], 8), %k[tmp]\n\t"
		 "movzwl 4(%[reg], %[cls], 8), %k[k]\n\t"
		 "cmpl %k[k], %k[tmp]\n\t"
		 "jbe 6f\n\t"
		 "negl %k[k]\n\t"
		 "addl %k[tmp], %k[k]\n\t"
		 "cmpq %[n], %[k]\n\t"
		 "cmova %[n], %[k]\n\t"
		 "subl %k[k], %k[tmp]\n\t"
		 "leaq (%[reg], %[tmp], 8), %[dst]\n\t"
		 "xorl %k[i], %k[i]\n"
		 "5:\n\t"
		 "movq (%[dst], %[i], 8), %[x]\n\t"
		 "movq %[x], (%[out], %[i], 8)\n\t"
		 "addq $1, %[i]\n\t"
		 "cmpq %[k], %[i]\n\t"
		 "jb 5b\n\t"
		 "movw %w[tmp], (%[reg], %[cls], 8)\n"
		 PCM_RSEQ_NOTHING("k")
		 : [reg] "=&r"(reg), [tmp] "=&r"(tmp), [k] "=&r"(k),
		   [dst] "=&r"(dst), [i] "=&r"(i), [x] "=&r"(x)
		 : [rs] "r"(rs), [off] "r"(pcm_cid_off),
		   [base] "m"(pcm_rseq_base), [cls] "r"(cls), [out] "r"(out),
		   [n] "r"(n)
		 : "memory", "cc");
	return k;
}
#else
static unsigned long push_batch(struct pcm_rseq *rs, unsigned long cls,
				void **objs, unsigned long n)
{
	(void)rs, (void)cls, (void)objs, (void)n;
	return 0;
}
static unsigned long pop_batch(struct pcm_rseq *rs, unsigned long cls,
			       void **out, unsigned long n)
{
	(void)rs, (void)cls, (void)out, (void)n;
	return 0;
}
#endif

/* ---- capacity ----
 *
 * Within the array a class is in, a region's capacity for it changes only
 * on its own CPU, through a critical section whose commit is a
 * compare-and-swap of the whole header that moves `end` (set_end).  It
 * gives up when the header's begin is not the one the caller computed the
 * new end from (stopped, not set up, or the class moved) and when `current`
 * is above the new end.  The drain's argument (below) holds with it: a stop
 * that lands after the sequence's load makes the CAS fail, and a sequence
 * that starts after a fence reads the stopped header and gives up.
 *
 * A class that grows beyond its starting array moves to its big array
 * (move_up): that is a drain of its one header whose step 3 copies the
 * objects instead of giving them away, and whose step 5 enables the header
 * on the big array: begin = big, current = big + the objects, end = big +
 * the new capacity.  Under drain_lock, with both fences, so the drain's
 * proof covers it word for word: between F1 and step 5 no sequence commits
 * on the header, so the copy reads the final objects and `current`; after
 * step 5 a sequence that commits read `current` after F2, the new one (one
 * that read the old `current`, of the starting array, and the new begin/end
 * would straddle F2, which restarts it).  The starting array's slots keep
 * stale copies, below no `current` until the class is back there.  The
 * drain and the region set-up put a class back in its starting array with
 * its starting capacity (an idle class drained by the background worker
 * starts over).  What a region records for the policy (misses, the clock
 * hand) is written racily by its threads: heuristics.
 */

#if PCM_HAVE_PERCPU
/* Sets this CPU's end for cls (the whole header by CAS): 1, or 0 when the
 * header's begin is not `begin` (stopped, not set up, or in the other
 * array), it holds more than new_end - begin objects, or it changed
 * meanwhile.  new_end - begin must not exceed the array's slots. */
static int set_end(struct pcm_rseq *rs, unsigned long cls, unsigned long begin,
		   unsigned long new_end)
{
	unsigned long reg, tmp, res;
	__asm__ volatile(PCM_RSEQ_PROLOGUE
		 "movq (%[reg], %[cls], 8), %%rax\n\t"
		 "movq %%rax, %[tmp]\n\t"
		 "shrq $32, %[tmp]\n\t"
		 "cmpw %w[begin], %w[tmp]\n\t"
		 "jne 6f\n\t"
		 "cmpw %w[nend], %%ax\n\t"
		 "ja 6f\n\t"
		 "movq %%rax, %[tmp]\n\t"
		 "andq %[mask], %[tmp]\n\t"
		 "orq %[shifted], %[tmp]\n\t"
		 "lock cmpxchgq %[tmp], (%[reg], %[cls], 8)\n"
		 "2:\n\t"
		 "setz %b[res]\n\t"
		 "movzbl %b[res], %k[res]\n"
		 "3:\n\t"
		 ".pushsection __rseq_failure, \"ax\"\n"
		 "6:\n\t"
		 "xorl %k[res], %k[res]\n\t"
		 "jmp 3b\n\t"
		 ".popsection\n\t"
		 : [reg] "=&r"(reg), [tmp] "=&r"(tmp), [res] "=&r"(res)
		 : [rs] "r"(rs), [off] "r"(pcm_cid_off),
		   [base] "m"(pcm_rseq_base), [cls] "r"(cls),
		   [begin] "r"(begin), [nend] "r"(new_end),
		   [mask] "r"(~(0xffffull << 16)), [shifted] "r"(new_end << 16)
		 : "rax", "memory", "cc");
	return (int)res;
}
#else
static int set_end(struct pcm_rseq *rs, unsigned long cls, unsigned long begin,
		   unsigned long new_end)
{
	(void)rs, (void)cls, (void)begin, (void)new_end;
	return 0;
}
#endif

/* The first slot of the array class c's header h is enabled on, or 0
 * (stopped, or not set up). */
static inline unsigned hdr_begin(unsigned c, uint64_t h)
{
	unsigned b = (h >> 32) & 0xffff;
	return b == begin_of[c] || (b == big_of[c] && b) ? b : 0;
}

/* Capacity of class c in region r (0 while stopped or not set up). */
static unsigned cap_in(char *r, unsigned c)
{
	uint64_t h = __atomic_load_n(hdr(r, c), __ATOMIC_RELAXED);
	unsigned b = hdr_begin(c, h), end = (h >> 16) & 0xffff;
	return b && end > b ? end - b : 0;
}

static void release(unsigned cls, void **objs, unsigned n, int overflow);

/* Class c on this CPU down to cap objects: its surplus goes to the transfer
 * cache. */
static void shrink(struct pcm_rseq *rs, char *r, unsigned c, unsigned cap)
{
	void *objs[MAX_BATCH];
	for (int tries = 0; tries < 64; tries++) {
		uint64_t h = __atomic_load_n(hdr(r, c), __ATOMIC_RELAXED);
		unsigned b = hdr_begin(c, h), cur = h & 0xffff;
		if (!b)
			return; /* stopped (a drain) */
		if (set_end(rs, c, b, b + cap))
			return;
		unsigned want = cur > b + cap ? cur - b - cap : 1;
		unsigned n = (unsigned)pop_batch(rs, c, objs, want < MAX_BATCH ? want : MAX_BATCH);
		if (!n && !cap_in(r, c))
			return; /* stopped, or another CPU's region now */
		if (n)
			release(c, objs, n, 0);
	}
}

/* Takes about `want` bytes of capacity from the small classes of region r
 * that have not missed since the clock hand last passed them (those that
 * have get a second chance): each shrinks by half, down to an eighth of its
 * starting capacity.  Returns the bytes taken. */
static size_t steal(struct pcm_rseq *rs, char *r, unsigned except, size_t want)
{
	size_t got = 0;
	unsigned hand = *clock_hand(r);
	for (unsigned i = 0; i < 2 * PCM_NR_CLASSES && got < want; i++) {
		hand = hand + 1 >= PCM_NR_CLASSES ? 1 : hand + 1;
		if (hand == except || pcm_class_is_large(hand))
			continue;
		uint8_t *m = misses(r, hand);
		if (*m) {
			*m = (uint8_t)(*m >> 1);
			continue;
		}
		unsigned cap = cap_in(r, hand), floor = floor_of(hand);
		if (cap <= floor)
			continue;
		unsigned to = cap / 2 > floor ? cap / 2 : floor;
		shrink(rs, r, hand, to);
		got += (size_t)(cap - to) * pcm_class_info[hand].size;
	}
	*clock_hand(r) = (uint16_t)hand;
	return got;
}

/* Class c of region r moves from its starting array to its big array with
 * capacity cap (see above).  drain_lock held.  1 if it moved. */
static int move_up(char *r, unsigned c, unsigned cap)
{
	uint64_t *hp = hdr(r, c), h = __atomic_load_n(hp, __ATOMIC_RELAXED);
	unsigned b = begin_of[c], big = big_of[c];
	if (hdr_begin(c, h) != b)
		return 0; /* moved or drained meanwhile */
	/* 1. stop (the CAS keeps a racing commit; only commits on its CPU
	 * and set_end change the header, never its begin) */
	while (!__atomic_compare_exchange_n(hp, &h, (h & 0xffff) | STOPPED, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
	uint64_t was = h;
	/* 2. F1 */
	if (!fence()) {
		h = __atomic_load_n(hp, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(hp, &h, (was & ~0xffffull) | (h & 0xffff),
						    0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			;
		return 0;
	}
	/* 3. copy */
	unsigned cur = __atomic_load_n(hp, __ATOMIC_ACQUIRE) & 0xffff;
	unsigned n = cur > b ? cur - b : 0;
	void **slots = (void **)r;
	for (unsigned i = 0; i < n; i++)
		slots[big + i] = slots[b + i];
	__atomic_store_n(hp, (big + n) | STOPPED, __ATOMIC_RELEASE);
	/* 4. F2 (failing, the header stays stopped: the next drain gives the
	 * objects in the big array back and enables it) */
	if (!fence()) {
		parked = 1;
		return 0;
	}
	/* 5. enable */
	__atomic_store_n(hp, hdr_make(big, big + cap, big + n), __ATOMIC_RELEASE);
	return 1;
}

/* Class cls missed (over 0) or overflowed (over 1) on this CPU: if the
 * region's last RECENT misses or overflows were all of cls too, doubles its
 * capacity, up to its maximum, within the region's budget.  Returns the
 * capacity now; *turn (for an overflow) says whether the region's last miss
 * was a refill of cls.  (A working set larger than the capacity misses
 * batch after batch, nothing else between; classes that only fluctuate
 * around a small working set, many threads each keeping a few objects of
 * every class, miss now and then, one class's misses among the others':
 * growing those fills the budget with random walks' highs, which the slabs
 * keep (threads-rss, thread-churn).  With one of the last two enough, as
 * before, two classes taking turns grew too, and so did, in the end, every
 * class of threads-rss: thread-churn's peak RSS 7.7 MiB against 3.5, with
 * the last two all of cls 4.1.) */
static unsigned grow(struct pcm_rseq *rs, unsigned cls, int over, int *turn)
{
	if (pcm_class_is_large(cls))
		return 0;
	unsigned cid = __atomic_load_n((uint32_t *)((char *)rs + pcm_cid_off),
				       __ATOMIC_RELAXED);
	if (cid >= nr_regions)
		return 0;
	char *r = region(cid);
	uint8_t *m = misses(r, cls);
	if (*m < 255)
		(*m)++;
	uint8_t *last = recent(r);
	if (turn)
		*turn = last[0] == (cls | RECENT_REFILL);
	int again = 1;
	for (unsigned i = RECENT - 1; i > 0; i--) {
		again &= (last[i] & ~RECENT_REFILL) == cls;
		last[i] = last[i - 1];
	}
	again &= (last[0] & ~RECENT_REFILL) == cls;
	last[0] = (uint8_t)(over ? cls : cls | RECENT_REFILL);
	unsigned cap = cap_in(r, cls);
	if (!again || !cap || cap >= max_of[cls])
		return cap;
	unsigned want = cap * 2 < max_of[cls] ? cap * 2 : max_of[cls];
	size_t size = pcm_class_info[cls].size, total = 0;
	for (unsigned c = 1; c < PCM_NR_CLASSES && !pcm_class_is_large(c); c++)
		total += (size_t)cap_in(r, c) * pcm_class_info[c].size;
	size_t need = total + (want - cap) * size;
	if (need > budget_bytes) {
		size_t got = steal(rs, r, cls, need - budget_bytes);
		total = got < total ? total - got : 0;
		size_t room = budget_bytes > total ? budget_bytes - total : 0;
		if (cap + room / size < want)
			want = cap + (unsigned)(room / size);
		if (want <= cap)
			return cap;
	}
	uint64_t h = __atomic_load_n(hdr(r, cls), __ATOMIC_RELAXED);
	unsigned b = hdr_begin(cls, h);
	if (b == begin_of[cls] && want > start_of[cls]) {
		pcm_lock(&drain_lock);
		move_up(r, cls, want);
		pcm_unlock(&drain_lock);
	} else if (b) {
		set_end(rs, cls, b, b + want);
	}
	return cap_in(r, cls);
}

/* Objects a refill or an overflow of cls moves, its capacity on this CPU
 * being cap: half of it, so that a class that grew for a working set moves
 * it in fewer, larger batches (4 KiB objects start with batches of 2);
 * within [its starting batch, MAX_BATCH].  But an overflow that comes right
 * after a refill of the class moves its starting batch: a working set of
 * more than half the capacity, allocated and freed in turn, would otherwise
 * refill half a capacity, overflow half of it, and do both on every round
 * without ever fitting (glibc-bench's 100 blocks of 4 KiB, capacity 128). */
static unsigned batch(unsigned cls, unsigned cap)
{
	unsigned b = cap / 2 > batch_of[cls] ? cap / 2 : batch_of[cls];
	return b > MAX_BATCH ? MAX_BATCH : b ? b : 1;
}

/* ---- the transfer cache and the slabs behind it ---- */

/* Takes up to want objects: first from the transfer cache (*from_xfer of
 * them, marked free), then from the slabs. */
static unsigned fetch(unsigned cls, void **out, unsigned want, unsigned *from_xfer)
{
	struct xfer *x = &xfer[cls];
	unsigned got = 0;
	if (__atomic_load_n(&x->n, __ATOMIC_RELAXED)) {
		pcm_lock(&x->lock);
		while (got < want && x->n)
			out[got++] = *xfer_slot(cls, --x->n);
		if (x->n)
			x->sweep |= XF_MIXED;
		else /* emptied: a sweep out if it was full since */
			x->sweep = x->sweep & XF_TOP ? XF_SWEPT : 0;
		pcm_unlock(&x->lock);
	}
	*from_xfer = got;
	if (got < want)
		got += pcm_slab_take_array(cls, out + got, want - got);
	return got;
}

static void release(unsigned cls, void **objs, unsigned n, int overflow)
{
	struct xfer *x = &xfer[cls];
	pcm_lock(&x->lock);
	unsigned cap = x->cap ? x->cap : xfer_four(cls), max = xfer_max(cls);
	if (!overflow) {
		x->sweep |= XF_MIXED;
	} else if (x->n + n > cap && (x->sweep & (XF_SWEPT | XF_MIXED)) == XF_SWEPT &&
		   cap < max) {
		/* Emptied by a sweep out from full, filled again by a sweep
		 * in: room for the sweep. */
		while (x->n + n > cap && cap < max)
			cap = cap * 2 < max ? cap * 2 : max;
		x->cap = (uint16_t)cap;
	}
	x->sweep &= (uint8_t)~XF_TOP;
	while (n && x->n < cap)
		*xfer_slot(cls, x->n++) = objs[--n];
	if (x->n == cap)
		x->sweep |= XF_TOP;
	pcm_unlock(&x->lock);
	if (n)
		pcm_slab_put_array(cls, objs, n);
}

PCM_NOINLINE void *pcm_percpu_refill(struct pcm_rseq *rs, unsigned cls,
				     uintptr_t key)
{
	void *objs[MAX_BATCH];
	unsigned nx;
	ensure_region(rs);
	/* A class whose capacity steal() cut below its starting batch takes
	 * what fits, not a batch to give most of back. */
	unsigned cap = grow(rs, cls, 0, NULL), want = batch(cls, cap);
	want = cap && want > cap + 1 ? cap + 1 : want;
	unsigned n = fetch(cls, objs, want, &nx);
	if (unlikely(!n)) {
		errno = ENOMEM;
		return NULL;
	}
	/* Objects from the transfer cache have been free since a CPU cache
	 * marked them: their key word is checked; the slabs' get it. */
	for (unsigned i = 0; i < n; i++)
		if (i >= nx)
			pcm_obj_mark_free(objs[i], key);
		else if (unlikely(!pcm_obj_looks_free(objs[i], key)))
			pcm_cache_corrupt(cls, objs[i]);
	void *p = objs[--n];
	unsigned pushed = n ? (unsigned)push_batch(rs, cls, objs, n) : 0;
	if (pushed < n) /* migrated, stopped or full meanwhile */
		release(cls, objs + pushed, n - pushed, 0);
	return p;
}

PCM_NOINLINE void pcm_percpu_overflow(struct pcm_rseq *rs, unsigned cls, void *p)
{
	void *objs[MAX_BATCH + 1];
	if (pcm_reentered())
		return; /* from a signal handler inside pcmalloc: p leaks */
	int saved = errno;
	ensure_region(rs);
	int turn = 0;
	unsigned cap = grow(rs, cls, 1, &turn);
	if (pcm_percpu_push(rs, cls, p)) { /* it grew */
		errno = saved;
		return;
	}
	unsigned n = (unsigned)pop_batch(rs, cls, objs, turn ? batch_of[cls] : batch(cls, cap));
	if (!pcm_percpu_push(rs, cls, p))
		objs[n++] = p;
	if (n)
		release(cls, objs, n, 1);
	errno = saved;
}

int pcm_percpu_holds(unsigned cls, const void *p)
{
	if (!pcm_percpu_base)
		return 0;
	/* Every CPU's cache: the first free may have run on another CPU.  The
	 * slots are read racily; finding p at all means it was freed while
	 * the caller still thinks it is live. */
	for (unsigned cid = 0; cid < nr_regions; cid++) {
		char *r = region(cid);
		if (__atomic_load_n(state(r), __ATOMIC_ACQUIRE) != REGION_READY)
			continue;
		unsigned cur = __atomic_load_n(hdr(r, cls), __ATOMIC_RELAXED) & 0xffff;
		void **slots = (void **)r;
		unsigned b = arr_begin(cls, cur), end = b + arr_slots(cls, b);
		for (unsigned i = b; i < cur && i < end; i++)
			if (__atomic_load_n(&slots[i], __ATOMIC_RELAXED) == p)
				return 1;
	}
	struct xfer *x = &xfer[cls];
	int found = 0;
	pcm_lock(&x->lock);
	for (unsigned i = 0; i < x->n && !found; i++)
		found = *xfer_slot(cls, i) == p;
	pcm_unlock(&x->lock);
	return found;
}

/* ---- draining ----
 *
 * Taking the objects out of another CPU's cache while its threads run.
 *
 * Who writes a header.  A thread running on CPU slot k writes slot k's
 * headers only through the commit of a critical section, the last
 * instruction of the sequence: either it writes the 16 bits of `current`
 * and nothing else, by a store (the batch sequences) or an in-place add or
 * subtract of 1 (the fast path's push and pop, see below); or it changes
 * `end` by a compare-and-swap of the whole header against the value the
 * sequence loaded and found neither stopped nor unset (set_end, under
 * "---- capacity ----"), which fails if anything wrote the header since.
 * The drain, the move of a class to its big array (move_up) and the region
 * set-up (ensure_region), all under drain_lock, write whole 64-bit
 * headers; move_up is steps 1-5 below on one header, set-up follows steps
 * 3-5 from all-zero headers.
 * Nothing else writes a region's headers; nobody writes the null region's
 * (percpu.h), whose stopped headers fail every sequence.
 *
 * What a sequence reads.  Every sequence loads `current` first and then
 * `begin` (pop) or `end` (push) with a separate load, decides, and commits.
 * So a sequence may combine `current` from one header value with
 * `begin`/`end` from a later one.  A stopped header (begin 0xffff, end 0)
 * makes every sequence give up whatever `current` it read: pop sees
 * current <= begin, push sees current >= end; a sequence that gives up
 * stores nothing.
 *
 * The in-place commit reads `current` once more.  It writes the value the
 * sequence loaded first, plus or minus 1, as a store would: between the two
 * reads `current` changes only by a commit on this CPU (which restarts the
 * sequence: preemption) or by a drain's step 3 or set-up, which come after a
 * fence; a sequence in flight across that fence is restarted, and one that
 * starts after it reads a stopped `end`/`begin` and gives up.  A step-1 CAS
 * landing between the commit's read and write keeps `current` and changes
 * only begin/end, which the 16-bit write leaves alone: the result is the
 * commit landing after the CAS, case (b) below.
 *
 * The fence.  membarrier(PRIVATE_EXPEDITED_RSEQ) returns after every CPU
 * running a thread of the process has taken its interrupt, which sends a
 * thread inside a critical section back to its start; a thread not running
 * then was sent back when it was switched out.  So a sequence that commits
 * after a fence F loaded all it read after F's interrupt reached its CPU
 * (or after its last preemption), hence after everything the drain stored
 * before calling F.
 *
 * The protocol, for every header h it drains:
 *   1. stop:   h := current(h) | STOPPED        (CAS: keeps a racing commit)
 *   2. fence F1
 *   3. drain:  cur := current(h); give slots [begin, cur) to the slabs,
 *              begin being that of the array cur indexes (arr_begin);
 *              h := begin0 | STOPPED            (current reset to the
 *                                                starting array, stopped)
 *   4. fence F2
 *   5. enable: h := empty (current = begin0, end = begin0 + cap0)
 *
 * Why it is safe.
 *  (a) Between F1 and step 5 no sequence commits on h: one that commits
 *      after F1 read begin/end after F1 (the fence), and those are STOPPED
 *      until step 5, so it gave up (a capacity CAS that loaded h before the
 *      stop fails: the stop changed h).  Hence the drain reads the final
 *      `current` in step 3 and the slots [begin, cur) are not touched by
 *      anyone else while it gives them away: they are the drain's.
 *  (b) A commit before F1 either landed before the CAS (the CAS keeps it)
 *      or after it, into the stopped header (step 3 reads it after F1).
 *  (c) After step 5, a sequence that commits read `current` after F2 (the
 *      fence again), so it read begin (step 3) or a later value written by
 *      a commit on the live header: never the `current` the drain threw
 *      away.  With one fence only, a sequence could load the old `current`
 *      while h was stopped and `end`/`begin` after step 5, and commit an
 *      index into slots whose objects the slabs own again; that handed
 *      objects out twice (issue 12).
 *
 * If F1 fails, `current` was never changed: each stopped header gets back
 * by CAS (keeping any racing commit) the begin of the array its `current`
 * indexes, with the starting capacity (a `current` above `end` makes
 * pushes fail and pops work, as a sequence that read an earlier header
 * could anyway).  If F2 fails (after retries), the headers
 * stay stopped, which is correct (every operation takes the slow path), and
 * the next drain finishes the job: its F1 does what F2 should have done.
 */

/* Loops over every header (region r, class c) of every set-up region. */
#define FOR_EACH_HEADER(r, c)                                                  \
	for (unsigned cid_ = 0; cid_ < nr_regions; cid_++)                     \
		if (__atomic_load_n(state(r = region(cid_)), __ATOMIC_ACQUIRE) == REGION_READY) \
			for (c = 1; c < PCM_NR_CLASSES; c++)

static inline int stopped(uint64_t h)
{
	return (h & STOPPED) == STOPPED;
}

/* Last `current` seen by an idle scan, per header: after the headers. */

static inline uint16_t *seen(char *r, unsigned cls)
{
	return (uint16_t *)(r + SEEN_OFF) + cls;
}

/* Steps 1-5 above on the selected headers: every non-empty one, or with
 * idle_only those whose `current` has not moved since the previous idle
 * scan.  drain_lock held.  Returns the objects given back. */
static size_t drain_cpu_caches(int idle_only)
{
	char *r;
	unsigned c;
	size_t n = 0, nstopped = 0;
	/* 1. stop */
	FOR_EACH_HEADER(r, c) {
		uint64_t h = __atomic_load_n(hdr(r, c), __ATOMIC_RELAXED);
		unsigned cur = h & 0xffff;
		int pick = stopped(h) || cur > arr_begin(c, cur);
		if (idle_only) {
			pick = pick && (stopped(h) || cur == *seen(r, c));
			*seen(r, c) = (uint16_t)cur;
		}
		if (!pick)
			continue;
		while (!__atomic_compare_exchange_n(hdr(r, c), &h,
						    (h & 0xffff) | STOPPED, 0,
						    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			;
		nstopped++;
	}
	if (!nstopped)
		return 0;
	/* 2. F1 */
	if (!fence()) {
		if (parked)
			return 0; /* some currents were reset unfenced: stay stopped */
		FOR_EACH_HEADER(r, c) {
			uint64_t h = __atomic_load_n(hdr(r, c), __ATOMIC_RELAXED);
			unsigned b = arr_begin(c, h & 0xffff);
			while (stopped(h) &&
			       !__atomic_compare_exchange_n(
				       hdr(r, c), &h, hdr_make(b, b + cap_of[c], h & 0xffff),
				       0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				;
		}
		return 0;
	}
	/* 3. drain */
	FOR_EACH_HEADER(r, c) {
		uint64_t h = __atomic_load_n(hdr(r, c), __ATOMIC_ACQUIRE);
		if (!stopped(h))
			continue;
		unsigned cur = h & 0xffff, b = arr_begin(c, cur);
		if (cur > b) {
			pcm_slab_put_array(c, (void **)r + b, cur - b);
			n += cur - b;
		}
		__atomic_store_n(hdr(r, c), begin_of[c] | STOPPED, __ATOMIC_RELEASE);
	}
	/* 4. F2 */
	if (!fence()) {
		parked = 1;
		return n;
	}
	parked = 0;
	/* 5. enable */
	FOR_EACH_HEADER(r, c) {
		if (stopped(__atomic_load_n(hdr(r, c), __ATOMIC_RELAXED))) {
			__atomic_store_n(hdr(r, c), hdr_empty(c), __ATOMIC_RELEASE);
			*seen(r, c) = begin_of[c];
		}
	}
	return n;
}

/* The transfer caches go back to the slabs. */
static size_t drain_xfer(void)
{
	size_t total = 0;
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		struct xfer *x = &xfer[c];
		void *objs[4 * MAX_BATCH];
		while (__atomic_load_n(&x->n, __ATOMIC_RELAXED)) {
			pcm_lock(&x->lock);
			unsigned n = 0;
			while (n < 4 * MAX_BATCH && x->n)
				objs[n++] = *xfer_slot(c, --x->n);
			pcm_unlock(&x->lock);
			if (n)
				pcm_slab_put_array(c, objs, n);
			total += n;
		}
		if (__atomic_load_n(&x->cap, __ATOMIC_RELAXED)) { /* starts over */
			pcm_lock(&x->lock);
			if (x->n <= xfer_four(c))
				x->cap = x->sweep = 0;
			pcm_unlock(&x->lock);
		}
	}
	return total;
}

size_t pcm_percpu_drain(int idle_only)
{
	if (!pcm_percpu_base)
		return 0;
	int saved = errno;
	size_t n = 0;
	pcm_lock(&drain_lock);
	if (membarrier_ok)
		n = drain_cpu_caches(idle_only);
	n += drain_xfer();
	pcm_unlock(&drain_lock);
	errno = saved;
	return n;
}

void pcm_percpu_totals(size_t *objs, size_t *bytes, size_t *large_bytes,
		       size_t *regions, size_t *bound)
{
	size_t o = 0, b = 0, lb = 0, nr = 0;
	for (unsigned cid = 0; pcm_percpu_base && cid < nr_regions; cid++) {
		char *r = region(cid);
		if (__atomic_load_n(state(r), __ATOMIC_ACQUIRE) != REGION_READY)
			continue;
		nr++;
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
			uint64_t h = __atomic_load_n(hdr(r, c), __ATOMIC_RELAXED);
			unsigned cur = h & 0xffff, first = arr_begin(c, cur);
			if (cur > first) {
				size_t k = cur - first;
				o += k;
				b += k * pcm_class_info[c].size;
				if (pcm_class_is_large(c))
					lb += k * pcm_class_info[c].size;
			}
		}
	}
	for (unsigned c = 1; pcm_percpu_base && c < PCM_NR_CLASSES; c++) {
		unsigned n = __atomic_load_n(&xfer[c].n, __ATOMIC_RELAXED);
		o += n;
		b += (size_t)n * pcm_class_info[c].size;
		if (pcm_class_is_large(c))
			lb += (size_t)n * pcm_class_info[c].size;
	}
	*objs = o;
	*bytes = b;
	*large_bytes = lb;
	*regions = nr;
	*bound = bound_bytes;
}

unsigned pcm_percpu_fill(unsigned max, size_t *objs, size_t *bytes)
{
	unsigned n = pcm_percpu_base && nr_regions < max ? nr_regions : pcm_percpu_base ? max : 0;
	for (unsigned cid = 0; cid < n; cid++) {
		char *r = region(cid);
		size_t o = 0, b = 0;
		if (__atomic_load_n(state(r), __ATOMIC_ACQUIRE) == REGION_READY)
			for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
				unsigned cur = __atomic_load_n(hdr(r, c), __ATOMIC_RELAXED) & 0xffff;
				unsigned first = arr_begin(c, cur);
				if (cur > first) {
					o += cur - first;
					b += (size_t)(cur - first) * pcm_class_info[c].size;
				}
			}
		objs[cid] = o;
		bytes[cid] = b;
	}
	return n;
}

void pcm_percpu_after_fork_child(uint32_t forker)
{
	/* Regions being made by a thread that is gone: made again by the
	 * child's first thread to ask (the parent's mapping, if made, leaks). */
	if (start_state == START_RUNNING && !pcm_percpu_base)
		start_state = START_PENDING;
	if (!pcm_percpu_base)
		return;
	membarrier_ok = pcm_os_membarrier_register() == 0;
	int forker_drains = pcm_lock_forker_holds(&drain_lock, forker);
	/* A region being set up by a thread that is gone: finish it.  (Set up
	 * by the forking thread itself, from a signal handler: it finishes.) */
	for (unsigned cid = 0; !forker_drains && cid < nr_regions; cid++) {
		char *r = region(cid);
		if (*state(r) != REGION_SETTING_UP)
			continue;
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
			if (!*hdr(r, c))
				*hdr(r, c) = hdr_empty(c);
		*state(r) = REGION_READY;
	}
	for (unsigned c = 1; c < PCM_NR_CLASSES; c++) {
		if (pcm_lock_vanished(&xfer[c].lock, forker)) {
			xfer[c].n = xfer[c].cap = xfer[c].sweep = 0; /* abandoned: its objects leak */
			pcm_lock_reset(&xfer[c].lock);
		}
	}
	if (forker_drains)
		return; /* fork in a signal handler inside a drain: it finishes */
	/* No drain runs in the child, and no other thread: stopped headers
	 * (a drain of a thread that is gone, or parked after a failed fence)
	 * are reset to empty; objects not yet given back leak. */
	for (unsigned cid = 0; cid < nr_regions; cid++) {
		char *r = region(cid);
		if (__atomic_load_n(state(r), __ATOMIC_ACQUIRE) != REGION_READY)
			continue;
		for (unsigned c = 1; c < PCM_NR_CLASSES; c++)
			if (stopped(*hdr(r, c)))
				*hdr(r, c) = hdr_empty(c);
	}
	parked = 0;
	pcm_lock_reset(&drain_lock);
}
