/* pcm-test: no-valgrind no-debug */
/* idle_return: memory held by caches and free pages leaves while the
 * program idles, with no further call into the allocator (issue 12).
 *
 * The worker goes to sleep when it has had nothing to do for a while, and
 * only the allocator's slow paths wake it.  So after the allocations, the
 * test waits (no allocator call but statistics) until the worker is asleep:
 * the frees that follow must wake it.  In secure mode they did not (its
 * frees returned before the wake-up), nor did small frees that overflow the
 * CPU caches: the memory stayed until the next malloc, which, under load,
 * made this test time out (issue 11).  Now a sleeping worker with RSS still
 * above the bound after the frees is a failure at once, not a hang.
 *
 * 600,000 objects of 16..2015 bytes (about 600 MiB) are allocated, shuffled
 * and freed by two threads pinned to different CPUs, so that the CPU caches
 * end up holding objects scattered over many slabs, which keeps those slabs
 * (and their pages) resident.  The main thread then makes no allocator call
 * at all: it polls its RSS (/proc/self/statm, read with read(2)) until RSS
 * is within a generous bound of what it held before, or a hang timeout
 * (PCM_HANG_SECS / 2) expires.  Nothing is judged by time: a slow machine only polls
 * longer.  Skipped (passes) when pcmalloc is not active or its background
 * worker is turned off.  (No valgrind: RSS means nothing there.)
 */
#include "pcm_test.h"

#define N 600000
#define BOUND_KIB (48 * 1024) /* dirty budget (16 MiB), caches, the array */

static void *objs[N];
static char json[1 << 20];

/* The background worker's state, from the JSON report ("running",
 * "asleep", "not started", "off"); reading it wakes nothing. */
static const char *bg_state(void)
{
	pcm_stats_json(json, sizeof json);
	const char *k = "\"background\": {\"state\": \"";
	char *p = strstr(json, k);
	REQUIRE(p);
	p += strlen(k);
	char *e = strchr(p, '"');
	REQUIRE(e);
	*e = 0;
	return p;
}

static long rss_kib(void)
{
	char b[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	b[n > 0 ? n : 0] = 0;
	long size = 0, res = 0;
	if (sscanf(b, "%ld %ld", &size, &res) != 2)
		return -1;
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *freer(void *arg)
{
	long id = (long)arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((int)(id % sysconf(_SC_NPROCESSORS_ONLN)), &set);
	sched_setaffinity(0, sizeof set, &set);
	for (long i = id; i < N; i += 2)
		free(objs[i]);
	return NULL;
}

int main(void)
{
	pcm_test_begin("idle_return");
	const char *conf = getenv("PCMALLOC_CONF");
	if (!pcm_active() || pcm_quick() || !pcmalloc_stats_print_json ||
	    (conf && strstr(conf, "background:0"))) {
		pcm_note("idle_return: skipped");
		return pcm_done("idle_return");
	}
	long base = rss_kib();
	struct pcm_rng r = {12345};
	for (long i = 0; i < N; i++) {
		size_t n = 16 + pcm_rand(&r) % 2000;
		objs[i] = malloc(n);
		REQUIRE(objs[i]);
		memset(objs[i], 0x5a, n);
	}
	for (long i = N - 1; i > 0; i--) {
		long j = (long)(pcm_rand(&r) % (uint64_t)(i + 1));
		void *t = objs[i];
		objs[i] = objs[j];
		objs[j] = t;
	}
	long peak = rss_kib();
	/* Until the worker (started by the memory held) has had nothing to
	 * do long enough to sleep. */
	struct timespec tick = {0, 50 * 1000 * 1000};
	const char *st = bg_state();
	for (int i = 0; i < PCM_HANG_SECS / 2 * 20 && strcmp(st, "asleep"); i++) {
		nanosleep(&tick, NULL);
		st = bg_state();
	}
	CHECKF(!strcmp(st, "asleep"), "the worker never went to sleep (%s)", st);
	pthread_t t[2];
	for (long k = 0; k < 2; k++)
		REQUIRE(pthread_create(&t[k], NULL, freer, (void *)k) == 0);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	long after_free = rss_kib(), now = after_free;
	/* From here on: no allocator call but statistics until the verdict.
	 * The frees woke the worker; it sleeps again only once it has had
	 * nothing to do, that is with the memory returned.  The state is read
	 * before RSS, which only falls. */
	for (int i = 0; i < PCM_HANG_SECS / 2 * 20 && now > base + BOUND_KIB; i++) {
		nanosleep(&tick, NULL);
		st = bg_state();
		now = rss_kib();
		if (!strcmp(st, "asleep") && now > base + BOUND_KIB)
			break;
	}
	CHECKF(now <= base + BOUND_KIB,
	       "RSS %ld KiB after idling (before: %ld KiB, peak %ld KiB, right after "
	       "the frees %ld KiB; the worker %s): want at most %d KiB above the "
	       "start", now, base, peak, after_free, st, BOUND_KIB);
	pcm_note("idle_return: base %ld, peak %ld, after free %ld, idle %ld KiB", base,
		 peak, after_free, now);
	return pcm_done("idle_return");
}
