/* soak: a long mixed multithreaded workload (issue 11); `make soak`
 * (SOAK_TIME seconds, default 600; not part of make test or CI).
 *
 * Linked with the static library.  For SOAK_TIME seconds:
 *  - 4 worker threads at a time, each living for a random number of
 *    operations and then exiting, replaced at once (threads come and go);
 *    each keeps 1024 blocks (malloc, calloc, memalign, aligned_alloc,
 *    posix_memalign, small to 8 MiB), grows realloc chains (a buffer grown
 *    and shrunk step by step), and trades blocks with the others through a
 *    shared pool, so that most frees are cross-thread;
 *  - the main thread, every 200 ms: malloc_trim; every 2 s: fork, the
 *    child checks blocks it inherited, allocates, then execs this program in
 *    child mode (a short workload of its own under pcmalloc), whose exit
 *    status is checked; every 5 s: a checkpoint: RSS against a bound, the
 *    invariant walks (when the library has them), a line of progress.
 * Every block's contents are checked before it is freed or moved, and all
 * that remain at the end.  RSS must stay under 2 x the bytes live + 256 MiB
 * at every checkpoint (a leak or a failure to return memory grows past it).
 * Exits non-zero on any anomaly, with what it did.
 */
#include "../api/pcm_test.h"

#if __has_include("../../src/check.h")
#include "../../src/check.h"
#define HAVE_CHECK_HEAP 1
#else
#define HAVE_CHECK_HEAP 0
#endif

#define WORKERS 4
#define SLOTS 1024
#define POOL 512

struct blk {
	unsigned char *p;
	size_t n;
	uint64_t seed;
};

static atomic_int stop;
static _Atomic long ops_malloc, ops_calloc, ops_aligned, ops_free, ops_realloc,
	ops_traded, threads_made, forks, execs, trims, anomalies;
static _Atomic long live_bytes;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk pool[POOL];

#define ANOMALY(...)                                                           \
	do {                                                                   \
		TCHECK(0, __VA_ARGS__);                                        \
		atomic_fetch_add(&anomalies, 1);                               \
	} while (0)

static void check(const struct blk *b, const char *when)
{
	long bad = pcm_verifyw_range(b->p, 0, b->n, b->seed);
	if (bad >= 0)
		ANOMALY("%s: %zu-byte block %p corrupted at byte %ld", when, b->n,
			(void *)b->p, bad);
}

static size_t soak_size(struct pcm_rng *r)
{
	return pcm_rand_size(r, 8 * PCM_MIB);
}

static void new_blk(struct pcm_rng *r, struct blk *b)
{
	size_t n = soak_size(r);
	unsigned k = (unsigned)(pcm_rand(r) % 8);
	size_t align = (size_t)1 << pcm_rand_range(r, 4, 13);
	void *p = NULL;
	if (k == 0) {
		p = calloc(1, n);
		if (p && pcm_first_nonzero(p, n) >= 0)
			ANOMALY("calloc(%zu) not zero", n);
		atomic_fetch_add(&ops_calloc, 1);
	} else if (k == 1) {
		p = memalign(align, n);
		atomic_fetch_add(&ops_aligned, 1);
	} else if (k == 2) {
		if (posix_memalign(&p, align, n))
			p = NULL;
		atomic_fetch_add(&ops_aligned, 1);
	} else if (k == 3) {
		p = aligned_alloc(align, n);
		atomic_fetch_add(&ops_aligned, 1);
	} else {
		p = malloc(n);
		align = 16;
		atomic_fetch_add(&ops_malloc, 1);
	}
	if (k == 0)
		align = 16;
	if (!p) {
		ANOMALY("allocation of %zu bytes failed (errno %d)", n, errno);
		b->p = NULL;
		return;
	}
	if (!pcm_aligned(p, align))
		ANOMALY("%p not aligned to %zu", p, align);
	b->p = p;
	b->n = n;
	b->seed = pcm_rand(r);
	pcm_fillw_range(p, 0, n, b->seed);
	atomic_fetch_add(&live_bytes, (long)n);
}

static void drop(struct blk *b, const char *when)
{
	check(b, when);
	free(b->p);
	atomic_fetch_add(&live_bytes, -(long)b->n);
	atomic_fetch_add(&ops_free, 1);
	b->p = NULL;
}

/* A realloc chain: one buffer grown step by step (a string being built),
 * sometimes shrunk, its contents checked at every step. */
static void realloc_chain(struct pcm_rng *r)
{
	struct blk b = {NULL, 0, pcm_rand(r)};
	int steps = (int)pcm_rand_range(r, 10, 400);
	size_t step = pcm_rand_range(r, 1, 20000);
	for (int i = 0; i < steps; i++) {
		size_t n = pcm_rand(r) % 8 ? b.n + step : b.n / 2 + 1;
		unsigned char *q = realloc(b.p, n);
		atomic_fetch_add(&ops_realloc, 1);
		if (!q) {
			ANOMALY("realloc(%zu -> %zu) failed", b.n, n);
			break;
		}
		size_t keep = b.n < n ? b.n : n;
		long bad = pcm_verifyw_range(q, 0, keep, b.seed);
		if (bad >= 0)
			ANOMALY("realloc chain: %zu -> %zu lost byte %ld", b.n, n, bad);
		pcm_fillw_range(q, keep, n, b.seed);
		b.p = q;
		b.n = n;
	}
	free(b.p);
}

static void *worker(void *arg)
{
	struct pcm_rng r = {(uint64_t)(intptr_t)arg * 0x9e3779b97f4a7c15ull};
	struct blk *mine = calloc(SLOTS, sizeof *mine);
	if (!mine) {
		ANOMALY("calloc of the slot table failed");
		return NULL;
	}
	long life = (long)pcm_rand_range(&r, 500, 20000);
	for (long i = 0; i < life && !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
		struct blk *b = &mine[pcm_rand(&r) % SLOTS];
		unsigned what = (unsigned)(pcm_rand(&r) % 100);
		if (what < 10) { /* trade with the pool: a cross-thread free */
			pthread_mutex_lock(&pool_lock);
			struct blk *q = &pool[pcm_rand(&r) % POOL];
			struct blk t = *q;
			*q = *b;
			pthread_mutex_unlock(&pool_lock);
			*b = t;
			atomic_fetch_add(&ops_traded, 1);
			if (b->p)
				check(b, "traded");
		} else if (what < 11) {
			realloc_chain(&r);
		} else if (b->p) {
			drop(b, "before free");
		} else {
			new_blk(&r, b);
		}
	}
	/* Half of what is left goes to the pool (freed by others), the rest
	 * is freed here. */
	for (int k = 0; k < SLOTS; k++) {
		if (!mine[k].p)
			continue;
		if (k % 2) {
			drop(&mine[k], "at thread exit");
			continue;
		}
		pthread_mutex_lock(&pool_lock);
		struct blk *q = &pool[pcm_rand(&r) % POOL];
		struct blk t = *q;
		*q = mine[k];
		pthread_mutex_unlock(&pool_lock);
		if (t.p)
			drop(&t, "from the pool at thread exit");
	}
	free(mine);
	return NULL;
}

/* Child mode (after exec): a short workload of its own. */
static int child_mode(void)
{
	struct pcm_rng r = {(uint64_t)getpid()};
	static struct blk b[512];
	for (int i = 0; i < 20000; i++) {
		struct blk *x = &b[pcm_rand(&r) % 512];
		if (x->p)
			drop(x, "exec'd child");
		else
			new_blk(&r, x);
	}
	for (int i = 0; i < 512; i++)
		if (b[i].p)
			drop(&b[i], "exec'd child at the end");
	return atomic_load(&anomalies) || atomic_load(&pcm_thread_failures) ? 1 : 0;
}

static void fork_exec(const char *self)
{
	pid_t pid = fork();
	if (pid < 0) {
		ANOMALY("fork failed: errno %d", errno);
		return;
	}
	if (pid == 0) {
		alarm(PCM_HANG_SECS);
		/* Inherited blocks from the pool (whose lock the parent held
		 * across fork: stable; the threads are gone here). */
		int bad = 0;
		for (int j = 0; j < POOL; j += 7)
			if (pool[j].p && pcm_verifyw_range(pool[j].p, 0, pool[j].n, pool[j].seed) >= 0)
				bad++;
		void *p = malloc(12345), *q = malloc(3 * PCM_MIB);
		if (!p || !q || bad)
			_exit(5);
		free(p);
		free(q);
		execl(self, self, "--child", (char *)NULL);
		_exit(6);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		ANOMALY("fork + exec child: status %#x", st);
	atomic_fetch_add(&forks, 1);
	atomic_fetch_add(&execs, 1);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_mode();
	pcm_test_begin("soak");
	const char *t = getenv("SOAK_TIME");
	double secs = t ? atof(t) : 600;
	printf("soak: %.0f s, %d worker threads coming and going, fork + exec every "
	       "2 s, malloc_trim every 200 ms, checkpoints every 5 s\n",
	       secs, WORKERS);
	fflush(stdout);
	alarm((unsigned)secs + PCM_HANG_SECS); /* a hang fails, with SIGALRM */
	pthread_t th[WORKERS];
	long next_id = 0;
	for (int i = 0; i < WORKERS; i++) {
		REQUIRE(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)++next_id) == 0);
		atomic_fetch_add(&threads_made, 1);
	}
	double t0 = pcm_now(), last_fork = t0, last_check = t0;
	size_t max_rss = 0;
	long max_live = 0, checkpoints = 0;
	while (pcm_now() - t0 < secs && !atomic_load(&anomalies)) {
		usleep(200 * 1000);
		/* Threads that finished are replaced. */
		for (int i = 0; i < WORKERS; i++) {
			if (pthread_tryjoin_np(th[i], NULL) == 0) {
				REQUIRE(pthread_create(&th[i], NULL, worker,
						       (void *)(intptr_t)++next_id) == 0);
				atomic_fetch_add(&threads_made, 1);
			}
		}
		malloc_trim(0);
		atomic_fetch_add(&trims, 1);
		double now = pcm_now();
		if (now - last_fork >= 2) {
			pthread_mutex_lock(&pool_lock);
			fork_exec(argv[0]);
			pthread_mutex_unlock(&pool_lock);
			last_fork = now;
		}
		if (now - last_check >= 5) {
			last_check = now;
			checkpoints++;
			long live = atomic_load(&live_bytes);
			size_t rss = pcm_rss();
			if (live > max_live)
				max_live = live;
			if (rss > max_rss)
				max_rss = rss;
			size_t bound = 2 * (size_t)(live > 0 ? live : 0) + 256 * PCM_MIB;
			if (rss > bound)
				ANOMALY("RSS %zu MiB above the bound %zu MiB (%ld MiB live)",
					rss >> 20, bound >> 20, live >> 20);
#if HAVE_CHECK_HEAP
			if (pcm_check_heap(3) != 0)
				ANOMALY("invariant walk failed");
#endif
			printf("soak: %4.0f s: %ld threads, %ld mallocs, %ld callocs, %ld "
			       "aligned, %ld reallocs, %ld frees, %ld traded, %ld fork+exec, "
			       "live %ld MiB, RSS %zu MiB\n",
			       now - t0, atomic_load(&threads_made), atomic_load(&ops_malloc),
			       atomic_load(&ops_calloc), atomic_load(&ops_aligned),
			       atomic_load(&ops_realloc), atomic_load(&ops_free),
			       atomic_load(&ops_traded), atomic_load(&forks), live >> 20,
			       rss >> 20);
			fflush(stdout);
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	for (int j = 0; j < POOL; j++)
		if (pool[j].p)
			drop(&pool[j], "in the pool at the end");
	pcm_quiesce();
	struct pcmalloc_stats st;
	if (pcm_stats(&st) && st.huge_count != 0)
		ANOMALY("%zu huge mappings left with everything freed", st.huge_count);
	if (atomic_load(&live_bytes) != 0)
		ANOMALY("model: %ld bytes live at the end", atomic_load(&live_bytes));
	printf("soak: done in %.0f s: %ld threads, %ld mallocs, %ld callocs, %ld aligned, "
	       "%ld reallocs, %ld frees, %ld traded between threads, %ld fork+exec, "
	       "%ld trims, %ld checkpoints; max live %ld MiB, max RSS %zu MiB; %ld "
	       "anomalies\n",
	       pcm_now() - t0, atomic_load(&threads_made), atomic_load(&ops_malloc),
	       atomic_load(&ops_calloc), atomic_load(&ops_aligned),
	       atomic_load(&ops_realloc), atomic_load(&ops_free),
	       atomic_load(&ops_traded), atomic_load(&forks), atomic_load(&trims),
	       checkpoints, max_live >> 20, max_rss >> 20, atomic_load(&anomalies));
	fflush(stdout);
	return pcm_done("soak");
}
