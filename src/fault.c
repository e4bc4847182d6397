/* Fault injection: the schedule.  See fault.h.  Empty unless built with
 * -DPCM_FAULT_INJECT. */
#include "fault.h"

#ifdef PCM_FAULT_INJECT
#include "os.h"

static unsigned f_kinds, f_every, f_permille;
static uint64_t f_seed;
static unsigned long f_seq, f_calls[PCM_NR_FAULTS], f_fails[PCM_NR_FAULTS];
static int f_env_read;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static unsigned long num(const char **s)
{
	unsigned long v = 0;
	while (**s >= '0' && **s <= '9')
		v = v * 10 + (unsigned long)(*(*s)++ - '0');
	if (**s == ',')
		(*s)++;
	return v;
}

static void read_env(void)
{
	char buf[96];
	__atomic_store_n(&f_env_read, 1, __ATOMIC_RELAXED);
	if (!pcm_os_getenv("PCM_FAULT", buf, sizeof buf))
		return;
	const char *s = buf;
	unsigned kinds = (unsigned)num(&s), every = (unsigned)num(&s);
	unsigned permille = (unsigned)num(&s);
	pcm_fault_set(kinds, every, permille, num(&s));
}

int pcm_fault_hit(unsigned kind)
{
	if (unlikely(!__atomic_load_n(&f_env_read, __ATOMIC_RELAXED)))
		read_env();
	__atomic_fetch_add(&f_calls[kind], 1, __ATOMIC_RELAXED);
	if (!(__atomic_load_n(&f_kinds, __ATOMIC_RELAXED) & (1u << kind)))
		return 0;
	unsigned long n = __atomic_add_fetch(&f_seq, 1, __ATOMIC_RELAXED);
	unsigned every = __atomic_load_n(&f_every, __ATOMIC_RELAXED);
	int hit = every ? n % every == 0
			: mix(__atomic_load_n(&f_seed, __ATOMIC_RELAXED) ^ n) % 1000 <
				  __atomic_load_n(&f_permille, __ATOMIC_RELAXED);
	if (hit)
		__atomic_fetch_add(&f_fails[kind], 1, __ATOMIC_RELAXED);
	return hit;
}

void pcm_fault_set(unsigned kinds, unsigned every, unsigned permille,
		   uint64_t seed)
{
	__atomic_store_n(&f_env_read, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&f_kinds, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f_every, every, __ATOMIC_RELAXED);
	__atomic_store_n(&f_permille, permille, __ATOMIC_RELAXED);
	__atomic_store_n(&f_seed, seed, __ATOMIC_RELAXED);
	__atomic_store_n(&f_seq, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&f_kinds, kinds, __ATOMIC_SEQ_CST);
}

void pcm_fault_counts(unsigned long calls[PCM_NR_FAULTS],
		      unsigned long fails[PCM_NR_FAULTS])
{
	for (int k = 0; k < PCM_NR_FAULTS; k++) {
		calls[k] = __atomic_load_n(&f_calls[k], __ATOMIC_RELAXED);
		fails[k] = __atomic_load_n(&f_fails[k], __ATOMIC_RELAXED);
	}
}
#else
typedef int pcm_fault_unused; /* ISO C: no empty translation unit */
#endif
