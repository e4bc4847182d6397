/* fault_api: every API through failing system calls (issue 11).
 * Linked with the fault-injection build (make fault: src/os.c built with
 * -DPCM_FAULT_INJECT, fault.h), in which mmap, mremap, madvise, brk and
 * mprotect fail on a schedule.  Each schedule runs a random sequence of
 * malloc, calloc, realloc, reallocarray, aligned_alloc, memalign,
 * posix_memalign, valloc, pvalloc, free, free_sized, malloc_usable_size and
 * malloc_trim over small, large and huge blocks, in one thread and then in
 * four (with cross-thread frees); then the failures stop.  Asserted:
 *  - an allocation either succeeds (aligned, usable size large enough,
 *    calloc's memory zero) or returns NULL with errno ENOMEM
 *    (posix_memalign: returns ENOMEM and sets errno); a failed realloc
 *    leaves the block intact;
 *  - free, free_sized and malloc_trim leave errno alone;
 *  - every live block keeps its contents through every failure;
 *  - after each schedule, with failures off: the invariant walks hold
 *    (pcm_check_heap, when the build has it), and every allocation of every
 *    kind succeeds;
 *  - at the end, everything freed, pcmalloc's allocated bytes and slab
 *    objects are back to where they started: no block lost.
 * Prints the schedules and how many calls each kind failed.
 * Judged by counts only.
 */
#include "../api/pcm_test.h"

#if __has_include("../../src/check.h")
#include "../../src/check.h"
#define HAVE_CHECK_HEAP 1
#else
#define HAVE_CHECK_HEAP 0
#endif

enum { F_MMAP, F_MREMAP, F_MADVISE, F_BRK, F_MPROTECT, NR_F };
static const char *const kind_name[NR_F] = {"mmap", "mremap", "madvise", "brk",
					     "mprotect"};
extern void pcm_fault_set(unsigned kinds, unsigned every, unsigned permille,
			  uint64_t seed);
extern void pcm_fault_counts(unsigned long calls[NR_F], unsigned long fails[NR_F]);
#define ALL_KINDS ((1u << NR_F) - 1)

struct blk {
	unsigned char *p;
	size_t n;
	size_t align;
	uint64_t seed;
};

struct ctx {
	struct pcm_rng r;
	struct blk *b;
	int nslots;
	long allocs, fails, realloc_fails;
};

static _Atomic int fault_on; /* failures may happen now */
static _Atomic long thr_allocs, thr_fails, thr_realloc_fails;

static void check_blk(const struct blk *b, const char *when)
{
	long bad = pcm_verifyw_range(b->p, 0, b->n, b->seed);
	TCHECK(bad < 0, "%s: %zu-byte block (align %zu) corrupted at byte %ld",
	       when, b->n, b->align, bad);
}

static size_t pick_size(struct pcm_rng *r)
{
	switch (pcm_rand(r) % 16) {
	case 0:
		return pcm_rand_range(r, 4 * PCM_MIB, 12 * PCM_MIB); /* huge */
	case 1:
	case 2:
		return pcm_rand_range(r, 32 * PCM_KIB, 2 * PCM_MIB); /* large */
	case 3:
		return 0;
	default:
		return pcm_rand_size(r, PCM_MIB);
	}
}

/* An allocation came back: NULL must mean ENOMEM (and only while failures
 * are on); otherwise check and fill it. */
static bool took(struct ctx *c, struct blk *b, void *p, int err, size_t n,
		 size_t align, bool zero, const char *call)
{
	c->allocs++;
	if (!p) {
		c->fails++;
		TCHECK(err == ENOMEM, "%s(%zu, align %zu) = NULL with errno %d, "
				      "want ENOMEM",
		       call, n, align, err);
		TCHECK(atomic_load(&fault_on), "%s(%zu, align %zu) failed with no "
					       "system call failing",
		       call, n, align);
		b->p = NULL;
		return false;
	}
	TCHECK(pcm_aligned(p, align), "%s(%zu, align %zu) = %p misaligned", call,
	       n, align, p);
	size_t us = malloc_usable_size(p);
	TCHECK(us >= n, "%s(%zu): usable size %zu", call, n, us);
	if (zero)
		TCHECK(pcm_first_nonzero(p, n) < 0,
		       "%s(%zu): byte %ld not zero", call, n,
		       pcm_first_nonzero(p, n));
	b->p = p;
	b->n = n;
	b->align = align;
	b->seed = pcm_rand(&c->r);
	pcm_fillw_range(p, 0, n, b->seed);
	return true;
}

/* Called through a volatile pointer: GCC assumes the builtin
 * posix_memalign leaves errno alone, and would not reload it. */
static int (*volatile pm)(void **, size_t, size_t) = posix_memalign;

static void allocate(struct ctx *c, struct blk *b)
{
	size_t n = pick_size(&c->r);
	size_t align = (size_t)1 << pcm_rand_range(&c->r, 4, 16);
	void *p = NULL;
	int rc;
	errno = 0;
	switch (pcm_rand(&c->r) % 10) {
	case 0:
		p = calloc(1, n);
		took(c, b, p, errno, n, 16, true, "calloc");
		return;
	case 1:
		p = calloc(n / 8 + 1, 8);
		took(c, b, p, errno, (n / 8 + 1) * 8, 16, true, "calloc(n, 8)");
		return;
	case 2:
		p = aligned_alloc(align, n);
		took(c, b, p, errno, n, align, false, "aligned_alloc");
		return;
	case 3:
		p = memalign(align, n);
		took(c, b, p, errno, n, align, false, "memalign");
		return;
	case 4:
		p = (void *)1;
		rc = pm(&p, align, n);
		TCHECK(rc == 0 || (rc == ENOMEM && errno == ENOMEM),
		       "posix_memalign(%zu, %zu) = %d, errno %d", align, n, rc, errno);
		took(c, b, rc ? NULL : p, rc ? ENOMEM : 0, n, align, false,
		     "posix_memalign");
		return;
	case 5:
		p = valloc(n);
		took(c, b, p, errno, n, 4096, false, "valloc");
		return;
	case 6:
		p = pvalloc(n);
		took(c, b, p, errno, n, 4096, false, "pvalloc");
		return;
	case 7:
		p = realloc(NULL, n);
		took(c, b, p, errno, n, 16, false, "realloc(NULL)");
		return;
	default:
		p = malloc(n);
		took(c, b, p, errno, n, 16, false, "malloc");
		return;
	}
}

static void release(struct ctx *c, struct blk *b)
{
	check_blk(b, "before free");
	errno = 4321;
	/* free_sized only for what malloc, calloc and realloc gave (C23: an
	 * aligned block's sized free is free_aligned_sized); pcmalloc
	 * diagnoses a size that does not fit the block. */
	if (b->align <= 16 && pcm_rand(&c->r) % 2 && free_sized)
		free_sized(b->p, b->n);
	else
		free(b->p);
	TCHECK(errno == 4321, "free changed errno to %d", errno);
	b->p = NULL;
}

static void resize(struct ctx *c, struct blk *b)
{
	size_t n = pick_size(&c->r);
	if (n == 0)
		n = 1; /* realloc(p, 0) frees */
	bool arr = pcm_rand(&c->r) % 4 == 0;
	size_t want = arr ? (n / 4 + 1) * 4 : n;
	errno = 0;
	void *q = arr ? reallocarray(b->p, n / 4 + 1, 4) : realloc(b->p, n);
	int err = errno;
	if (!q) {
		c->realloc_fails++;
		TCHECK(err == ENOMEM, "realloc(%zu -> %zu) = NULL, errno %d", b->n,
		       want, err);
		TCHECK(atomic_load(&fault_on), "realloc(%zu -> %zu) failed with no "
					       "system call failing", b->n, n);
		check_blk(b, "after a failed realloc");
		return;
	}
	size_t keep = b->n < want ? b->n : want;
	long bad = pcm_verifyw_range(q, 0, keep, b->seed);
	TCHECK(bad < 0, "realloc %zu -> %zu lost byte %ld", b->n, want, bad);
	TCHECK(pcm_aligned(q, 16), "realloc result %p misaligned", q);
	TCHECK(malloc_usable_size(q) >= want, "realloc(%zu): usable %zu", want,
	       malloc_usable_size(q));
	b->p = q;
	b->align = 16;
	pcm_fillw_range(q, keep, want, b->seed);
	b->n = want;
}

static void step(struct ctx *c)
{
	struct blk *b = &c->b[pcm_rand(&c->r) % (uint64_t)c->nslots];
	unsigned what = (unsigned)(pcm_rand(&c->r) % 100);
	if (!b->p) {
		allocate(c, b);
	} else if (what < 45) {
		release(c, b);
	} else if (what < 80) {
		check_blk(b, "before realloc");
		resize(c, b);
	} else if (what < 99) {
		check_blk(b, "live");
		TCHECK(malloc_usable_size(b->p) >= b->n, "usable size shrank");
	} else {
		errno = 4321;
		malloc_trim(0);
		TCHECK(errno == 4321, "malloc_trim changed errno to %d", errno);
	}
}

/* ---- schedules ---- */

struct sched {
	unsigned kinds, every, permille;
	uint64_t seed;
};

#define SLOTS 192
#define THREADS 4

static struct blk main_slots[SLOTS];
static struct blk thr_slots[THREADS][SLOTS];
static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk swap_pool[64];

static void *thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct ctx c = {{(uint64_t)id * 7919 + 11}, thr_slots[id], SLOTS, 0, 0, 0};
	long ops = pcm_scale(2000, 10);
	for (long i = 0; i < ops; i++) {
		step(&c);
		if (i % 16 == 0) { /* trade a block: freed by another thread */
			struct blk *b = &c.b[pcm_rand(&c.r) % SLOTS];
			int j = (int)(pcm_rand(&c.r) % 64);
			pthread_mutex_lock(&swap_lock);
			struct blk t = swap_pool[j];
			swap_pool[j] = *b;
			pthread_mutex_unlock(&swap_lock);
			*b = t;
			if (b->p)
				check_blk(b, "traded");
		}
	}
	atomic_fetch_add(&thr_allocs, c.allocs);
	atomic_fetch_add(&thr_fails, c.fails);
	atomic_fetch_add(&thr_realloc_fails, c.realloc_fails);
	return NULL;
}

static void check_all(const char *when)
{
	for (int k = 0; k < SLOTS; k++) {
		if (main_slots[k].p)
			check_blk(&main_slots[k], when);
		for (int t = 0; t < THREADS; t++)
			if (thr_slots[t][k].p)
				check_blk(&thr_slots[t][k], when);
	}
	for (int j = 0; j < 64; j++)
		if (swap_pool[j].p)
			check_blk(&swap_pool[j], when);
}

static void walk(const char *when)
{
#if HAVE_CHECK_HEAP
	TCHECK(pcm_check_heap(3) == 0, "invariant walk failed %s", when);
#else
	(void)when;
#endif
}

/* With failures off, every kind of allocation succeeds. */
static void heap_usable(const char *when)
{
	static const size_t sizes[] = {1, 100, 1000, 5000, 40000, 300000,
				       3 * PCM_MIB, 9 * PCM_MIB};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		void *a = malloc(n), *b = calloc(1, n), *d = memalign(4096, n);
		void *e = NULL;
		int rc = posix_memalign(&e, 256, n);
		void *f = realloc(malloc(10), n);
		TCHECK(a && b && d && rc == 0 && f,
		       "%s: allocations of %zu bytes fail with failures off", when, n);
		if (b)
			TCHECK(pcm_first_nonzero(b, n) < 0, "%s: calloc(%zu) not zero",
			       when, n);
		if (a)
			memset(a, 1, n);
		free(a);
		free(b);
		free(d);
		free(rc ? NULL : e);
		free(f);
	}
}

static void free_everything(void)
{
	for (int k = 0; k < SLOTS; k++) {
		if (main_slots[k].p)
			free(main_slots[k].p);
		main_slots[k].p = NULL;
		for (int t = 0; t < THREADS; t++) {
			free(thr_slots[t][k].p);
			thr_slots[t][k].p = NULL;
		}
	}
	for (int j = 0; j < 64; j++) {
		free(swap_pool[j].p);
		swap_pool[j].p = NULL;
	}
}

static unsigned long total_fails[NR_F];

static void run(const struct sched *s, int threads)
{
	struct ctx c = {{s->seed * 31 + s->every * 7 + s->kinds}, main_slots, SLOTS,
			0, 0, 0};
	unsigned long calls0[NR_F], fails0[NR_F], calls1[NR_F], fails1[NR_F];
	/* Everything freed and free arenas given back first, so that the
	 * schedule meets new arenas, commits and brk. */
	free_everything();
	malloc_trim(0);
	pcm_fault_counts(calls0, fails0);
	atomic_store(&fault_on, 1);
	pcm_fault_set(s->kinds, s->every, s->permille, s->seed);
	if (threads) {
		pthread_t th[THREADS];
		int made = 0;
		for (int t = 0; t < THREADS; t++)
			if (pthread_create(&th[made], NULL, thread_main,
					   (void *)(intptr_t)t) == 0)
				made++;
		/* (pthread_create may fail for lack of a stack mapping.) */
		for (int t = 0; t < made; t++)
			pthread_join(th[t], NULL);
		c.allocs = atomic_exchange(&thr_allocs, 0);
		c.fails = atomic_exchange(&thr_fails, 0);
		c.realloc_fails = atomic_exchange(&thr_realloc_fails, 0);
	} else {
		long ops = pcm_scale(2500, 10);
		for (long i = 0; i < ops; i++)
			step(&c);
	}
	pcm_fault_set(0, 0, 0, 0);
	atomic_store(&fault_on, 0);
	pcm_fault_counts(calls1, fails1);
	check_all("after a schedule");
	walk("after a schedule");
	heap_usable("after a schedule");
	walk("after the heap was used again");
	if (getenv("PCM_TEST_VERBOSE")) {
		fprintf(stderr, "fault_api: kinds %#x every %u permille %u seed %llu "
				"%s: %ld allocs, %ld NULL, %ld reallocs failed; failed",
			s->kinds, s->every, s->permille, (unsigned long long)s->seed,
			threads ? "4 threads" : "1 thread", c.allocs, c.fails,
			c.realloc_fails);
		for (int k = 0; k < NR_F; k++)
			fprintf(stderr, " %s %lu/%lu", kind_name[k],
				fails1[k] - fails0[k], calls1[k] - calls0[k]);
		fputc('\n', stderr);
	}
	for (int k = 0; k < NR_F; k++)
		total_fails[k] += fails1[k] - fails0[k];
}

int main(void)
{
	pcm_test_begin("fault_api");
	if (!pcm_active()) {
		fprintf(stderr, "fault_api: needs the fault-injection build of pcmalloc\n");
		return 1;
	}
	pcm_warm_up(THREADS);
	struct pcmalloc_stats s0, s1;
	pcm_quiesce();
	pcm_stats(&s0);

	struct sched list[64];
	int n = 0;
	/* One kind at a time first (brk: a failed brk is not tried again). */
	for (int k = 0; k < NR_F; k++) {
		list[n++] = (struct sched){1u << k, 3, 0, 0};
		list[n++] = (struct sched){1u << k, 1, 0, 0};
	}
	static const unsigned everies[] = {1, 2, 3, 5, 8, 17, 64};
	for (size_t i = 0; i < sizeof everies / sizeof everies[0]; i++)
		list[n++] = (struct sched){ALL_KINDS, everies[i], 0, 0};
	static const unsigned permilles[] = {50, 200, 500, 900};
	for (size_t i = 0; i < sizeof permilles / sizeof permilles[0]; i++)
		for (uint64_t seed = 1; seed <= 2; seed++)
			list[n++] = (struct sched){ALL_KINDS, 0, permilles[i], seed};
	for (int i = 0; i < n; i++)
		run(&list[i], 0);
	for (int i = 0; i < n; i += 3)
		run(&list[i], 1);

	check_all("at the end");
	free_everything();
	walk("with everything freed");
	heap_usable("at the end");
	pcm_quiesce();
	pcm_stats(&s1);
	CHECKF(s1.allocated == s0.allocated,
	       "allocated %zu bytes at the start, %zu with everything freed",
	       s0.allocated, s1.allocated);
	CHECKF(s1.slab_objects <= s0.slab_objects + 16,
	       "slab_objects %zu at the start, %zu with everything freed",
	       s0.slab_objects, s1.slab_objects);
	fprintf(stderr, "fault_api: %d schedules (1 thread), %d (4 threads); calls failed:",
		n, (n + 2) / 3);
	for (int k = 0; k < NR_F; k++)
		fprintf(stderr, " %s %lu", kind_name[k], total_fails[k]);
	fputc('\n', stderr);
	return pcm_done("fault_api");
}
