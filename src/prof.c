/* The sampling heap profiler.  See prof.h. */

#include "prof.h"
#include "conf.h"
#include "config.h"
#include "fmt.h"
#include "lock.h"
#include "os.h"

#include <errno.h>
#include <stdint.h>

#define NR_STACKS 8192u   /* distinct call stacks (slot 0: none) */
#define NR_SAMPLES 65536u /* live samples; inserts stop at 3/4 full */
#define RAW_DEPTH 64      /* frames asked of backtrace(), pcmalloc's included */

struct prof_stack {
	uint64_t hash;
	uint32_t depth;
	uint32_t freed_n;   /* samples of this stack already freed */
	uint64_t freed_bytes;
	void *pc[PCM_PROF_DEPTH];
};

struct prof_sample {
	uintptr_t ptr; /* 0: empty slot */
	uint64_t size;
	uint32_t stack;
};

struct prof_tables {
	struct prof_stack stacks[NR_STACKS];
	struct prof_sample samples[NR_SAMPLES];
	/* Live samples by home slot: a free whose slot counts none was not
	 * sampled, known without the lock (most frees). */
	uint16_t homes[NR_SAMPLES];
};

int pcm_prof_on PCM_HOT;
static struct prof_tables *tab;
static pcm_lock_t prof_lock = PCM_LOCK_INIT(PCM_RANK_PROF);
static uint32_t nr_live, nr_stacks;
static uint64_t nr_sampled, nr_dropped;
static unsigned dump_seq;
static int dump_pending; /* a signal came while this thread held the lock */

static __thread int64_t bytes_left PCM_TLS; /* until the next sample */
static __thread uint64_t rng PCM_TLS;       /* 0: thread not started */
static __thread int busy PCM_TLS;           /* inside the sampler */

/* The bounds of pcmalloc's code (the build renames its objects' .text
 * sections to pcm_text); NULL where the objects were built otherwise, as in
 * the unit tests. */
extern char __start_pcm_text[] __attribute__((weak));
extern char __stop_pcm_text[] __attribute__((weak));

/* ---- sampling distance ---- */

/* ln(x) for x in (0, 1], without libm: x = m * 2^e with m in [1, 2), and
 * ln(m) = 2 atanh(s), s = (m - 1) / (m + 1) <= 1/3, summed to 1e-12. */
static double ln(double x)
{
	union {
		double d;
		uint64_t u;
	} v = { .d = x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & ((1ull << 52) - 1)) | (1023ull << 52);
	double s = (v.d - 1) / (v.d + 1), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return 2 * sum + e * 0.69314718055994530942;
}

static uint64_t next_random(void)
{
	uint64_t x = rng; /* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Bytes to the next sample: exponential with mean prof_rate. */
static int64_t draw(void)
{
	double u = (double)((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);
	double d = -ln(u) * (double)pcm_conf.prof_rate;
	return d >= 9e18 ? INT64_MAX : (int64_t)d + 1;
}

/* ---- the tables ---- */

static uint32_t hash_ptr(uintptr_t p)
{
	return (uint32_t)((p * 0x9e3779b97f4a7c15ull) >> 32) & (NR_SAMPLES - 1);
}

/* Slot of p in the sample table, or of the empty slot where it would go. */
static uint32_t find_slot(uintptr_t p)
{
	uint32_t i = hash_ptr(p);
	while (tab->samples[i].ptr && tab->samples[i].ptr != p)
		i = (i + 1) & (NR_SAMPLES - 1);
	return i;
}

/* Removes slot i, moving later entries of its probe run back (linear
 * probing's deletion without tombstones). */
static void remove_slot(uint32_t i)
{
	struct prof_sample *s = tab->samples;
	for (uint32_t j = i;;) {
		j = (j + 1) & (NR_SAMPLES - 1);
		if (!s[j].ptr)
			break;
		uint32_t home = hash_ptr(s[j].ptr);
		/* s[j] may move to i when i lies cyclically in [home, j). */
		if (((j - home) & (NR_SAMPLES - 1)) >= ((j - i) & (NR_SAMPLES - 1))) {
			s[i] = s[j];
			i = j;
		}
	}
	s[i].ptr = 0;
	__atomic_sub_fetch(&nr_live, 1, __ATOMIC_RELAXED);
}

/* Index of the stack with these frames, added if new; 0 when full. */
static uint32_t intern_stack(void *const *pc, uint32_t depth)
{
	uint64_t h = 0xcbf29ce484222325ull ^ depth;
	for (uint32_t i = 0; i < depth; i++)
		h = (h ^ (uintptr_t)pc[i]) * 0x100000001b3ull;
	uint32_t i = (uint32_t)(h >> 40) & (NR_STACKS - 1);
	for (uint32_t tries = 0; tries < NR_STACKS; tries++, i = (i + 1) & (NR_STACKS - 1)) {
		struct prof_stack *st = &tab->stacks[i];
		if (i == 0)
			continue;
		if (!st->depth) {
			if (nr_stacks >= NR_STACKS * 7 / 8)
				return 0;
			st->hash = h;
			st->depth = depth;
			__builtin_memcpy(st->pc, pc, depth * sizeof *pc);
			nr_stacks++;
			return i;
		}
		if (st->hash == h && st->depth == depth &&
		    !__builtin_memcmp(st->pc, pc, depth * sizeof *pc))
			return i;
	}
	return 0;
}

static void dump_to(int fd);
static void dump_signalled(void);

void pcm_prof_sample(void *p, size_t n)
{
	if (busy || pcm_reentered())
		return;
	if (unlikely(!rng)) {
		rng = pcm_os_random() | 1;
		bytes_left = draw();
	}
	bytes_left -= (int64_t)(n ? n : 1);
	if (likely(bytes_left >= 0))
		return;
	bytes_left = draw();

	busy = 1;
	int saved = errno;
	void *raw[RAW_DEPTH];
	int got = pcm_os_backtrace(raw, RAW_DEPTH), first = 0;
	/* Cut the frames inside pcmalloc: what remains starts at the
	 * caller of malloc. */
	if (__start_pcm_text)
		while (first < got && (char *)raw[first] >= __start_pcm_text &&
		       (char *)raw[first] < __stop_pcm_text)
			first++;
	else
		first = got > 2 ? 2 : got;
	uint32_t depth = (uint32_t)(got - first);
	if (depth > PCM_PROF_DEPTH)
		depth = PCM_PROF_DEPTH;

	pcm_lock(&prof_lock);
	nr_sampled++;
	uint32_t st = depth ? intern_stack(raw + first, depth) : 0;
	if (!st || nr_live >= NR_SAMPLES / 4 * 3) {
		nr_dropped++;
	} else {
		struct prof_sample *s = &tab->samples[find_slot((uintptr_t)p)];
		__atomic_add_fetch(&tab->homes[hash_ptr((uintptr_t)p)], 1, __ATOMIC_RELAXED);
		s->ptr = (uintptr_t)p;
		s->stack = st;
		s->size = n;
		__atomic_add_fetch(&nr_live, 1, __ATOMIC_RELAXED);
	}
	pcm_unlock(&prof_lock);
	if (unlikely(__atomic_load_n(&dump_pending, __ATOMIC_RELAXED)))
		dump_signalled();
	errno = saved;
	busy = 0;
}

void pcm_prof_forget(void *p)
{
	/* p's sampling, if any, happened before the program could hand p to
	 * this free: its count is visible here. */
	uint32_t home = hash_ptr((uintptr_t)p);
	if (!p || !__atomic_load_n(&tab->homes[home], __ATOMIC_RELAXED) || pcm_reentered())
		return;
	pcm_lock(&prof_lock);
	uint32_t i = find_slot((uintptr_t)p);
	struct prof_sample *s = &tab->samples[i];
	if (s->ptr) {
		__atomic_sub_fetch(&tab->homes[home], 1, __ATOMIC_RELAXED);
		struct prof_stack *st = &tab->stacks[s->stack];
		st->freed_n++;
		st->freed_bytes += s->size;
		remove_slot(i);
	}
	pcm_unlock(&prof_lock);
	if (unlikely(__atomic_load_n(&dump_pending, __ATOMIC_RELAXED)))
		dump_signalled();
}

/* ---- dumps ---- */

static void put_stack(struct pcm_out *o, const struct prof_stack *st)
{
	pcm_out_printf(o, " @");
	for (uint32_t i = 0; i < st->depth; i++)
		pcm_out_printf(o, " %p", st->pc[i]);
	pcm_out_printf(o, "\n");
}

/* Called with prof_lock held. */
static void dump_to(int fd)
{
	struct pcm_out o;
	pcm_out_init_fd(&o, fd);
	uint64_t live_bytes = 0, freed_n = 0, freed_bytes = 0;
	for (uint32_t i = 0; i < NR_SAMPLES; i++)
		if (tab->samples[i].ptr)
			live_bytes += tab->samples[i].size;
	for (uint32_t i = 1; i < NR_STACKS; i++) {
		freed_n += tab->stacks[i].freed_n;
		freed_bytes += tab->stacks[i].freed_bytes;
	}
	pcm_out_printf(&o, "heap profile: %6u: %8llu [%6llu: %8llu] @ heap_v2/%zu\n",
		       nr_live, (unsigned long long)live_bytes,
		       (unsigned long long)(nr_live + freed_n),
		       (unsigned long long)(live_bytes + freed_bytes),
		       pcm_conf.prof_rate);
	for (uint32_t i = 0; i < NR_SAMPLES; i++) {
		const struct prof_sample *s = &tab->samples[i];
		if (!s->ptr)
			continue;
		unsigned long long n = s->size;
		pcm_out_printf(&o, "%6u: %8llu [%6u: %8llu]", 1u, n, 1u, n);
		put_stack(&o, &tab->stacks[s->stack]);
	}
	for (uint32_t i = 1; i < NR_STACKS; i++) {
		const struct prof_stack *st = &tab->stacks[i];
		if (!st->freed_n)
			continue;
		pcm_out_printf(&o, "%6u: %8u [%6u: %8llu]", 0u, 0u, st->freed_n,
			       (unsigned long long)st->freed_bytes);
		put_stack(&o, st);
	}
	pcm_out_printf(&o, "\nMAPPED_LIBRARIES:\n");
	pcm_out_flush(&o);
	pcm_os_copy_file(fd, "/proc/self/maps");
}

static int dump_file(const char *path)
{
	int fd = pcm_os_create(path);
	if (fd < 0)
		return -1;
	dump_to(fd);
	pcm_os_close(fd);
	return 0;
}

/* The next automatic dump's name: PREFIX.PID.SEQ.heap. */
static void auto_name(char *buf, size_t cap)
{
	unsigned seq = __atomic_fetch_add(&dump_seq, 1, __ATOMIC_RELAXED);
	pcm_fmt(buf, cap, "%s.%d.%u.heap", pcm_conf.prof_prefix, pcm_os_getpid(), seq);
}

static void dump_auto(const char *why)
{
	char path[sizeof pcm_conf.prof_prefix + 48];
	auto_name(path, sizeof path);
	pcm_lock(&prof_lock);
	int r = dump_file(path);
	uint64_t sampled = nr_sampled, dropped = nr_dropped;
	pcm_unlock(&prof_lock);
	if (r)
		pcm_log("heap profile (%s): cannot write %s", why, path);
	else
		pcm_log("heap profile (%s) written to %s: %llu samples, %llu dropped",
			why, path, (unsigned long long)sampled,
			(unsigned long long)dropped);
}

static void dump_signalled(void)
{
	__atomic_store_n(&dump_pending, 0, __ATOMIC_RELAXED);
	dump_auto("signal");
}

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	/* The interrupted code of this thread may hold the lock: then the
	 * dump waits until it lets go. */
	if (pcm_lock_held(&prof_lock))
		__atomic_store_n(&dump_pending, 1, __ATOMIC_RELAXED);
	else
		dump_auto("signal");
	errno = saved;
}

int pcm_prof_dump_path(const char *path)
{
	if (!__atomic_load_n(&pcm_prof_on, __ATOMIC_ACQUIRE) || !path) {
		errno = EINVAL;
		return -1;
	}
	int saved = errno;
	pcm_lock(&prof_lock);
	int r = dump_file(path);
	pcm_unlock(&prof_lock);
	if (!r)
		errno = saved;
	return r;
}

void pcm_prof_after_fork_child(unsigned forker_tid)
{
	if (pcm_lock_vanished(&prof_lock, forker_tid)) {
		/* A thread that does not exist here was updating the tables:
		 * the child does without the profiler. */
		pcm_prof_on = 0;
		pcm_lock_reset(&prof_lock);
	}
}

void pcm_prof_start(void)
{
	if (pcm_prof_on)
		return;
	tab = pcm_os_map_aligned(pcm_align_up(sizeof *tab, PCM_PAGE_SIZE), PCM_PAGE_SIZE);
	if (!tab) {
		pcm_log("prof: no memory for the profiler's tables; profiling off");
		return;
	}
	void *pc[4];
	if (pcm_os_backtrace(pc, 4) <= 0) { /* loads libgcc_s: allocates */
		pcm_log("prof: backtrace() does not work here; profiling off");
		return;
	}
	if (pcm_conf.prof_signal && pcm_os_on_signal(pcm_conf.prof_signal, on_signal))
		pcm_log("prof: cannot handle signal %d", pcm_conf.prof_signal);
	__atomic_store_n(&pcm_prof_on, 1, __ATOMIC_RELEASE);
}

void pcm_prof_at_exit(void)
{
	if (__atomic_load_n(&pcm_prof_on, __ATOMIC_ACQUIRE))
		dump_auto("exit");
}
