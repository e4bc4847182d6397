/* fork_threads: fork while other threads allocate.
 * 4 threads allocate, verify and free continuously (passing objects to each
 * other through a shared pool) while the main thread forks 100 times (10 in
 * quick mode), however long that takes.  Each child:
 *  - verifies, reallocs and frees the objects the main thread allocated
 *    before the fork, and the pool objects other threads allocated (threads
 *    that do not exist in the child);
 *  - mallocs, verifies and frees a few thousand objects of all sizes;
 *  - _exit()s with 0 only if everything checked out.
 * The parent checks every child's exit status: judged by counts only.
 * alarm() (PCM_HANG_SECS, far above a slow run) turns a deadlock (in the
 * parent or in a child) into a failure instead of a hang.
 * (Fine under UBSan; children of this threaded program deadlock inside the
 * ASan and TSan runtimes' own allocators.)
 */
#include "pcm_test.h"

#define NTHREADS 4
#define POOL 256

struct obj {
	unsigned char *p;
	size_t n;
	uint64_t seed;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj pool[POOL];
static atomic_int stop;
static _Atomic long thread_ops;

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] =
		"fork_threads: timeout: deadlock in fork or in a child?\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(3);
}

static void obj_new(struct obj *o, size_t n, uint64_t seed)
{
	o->n = n;
	o->p = malloc(n);
	REQUIRE(o->p);
	o->seed = seed;
	pcm_fillw_range(o->p, 0, n, seed);
}

static bool obj_ok(const struct obj *o)
{
	return pcm_verifyw_range(o->p, 0, o->n, o->seed) < 0;
}

static void *worker(void *arg)
{
	int self = (int)(intptr_t)arg;
	struct pcm_rng r = {(uint64_t)self + 17};
	long myops = 0;
	enum { NL = 128 };
	struct obj loc[NL];
	memset(loc, 0, sizeof(loc));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int k = (int)(pcm_rand(&r) % NL);
		if (loc[k].p) {
			TCHECK(obj_ok(&loc[k]), "thread %d: object of %zu bytes "
						"corrupted",
			       self, loc[k].n);
			if (pcm_rand(&r) % 4 == 0) {
				/* Swap with the shared pool. */
				int j = (int)(pcm_rand(&r) % POOL);
				pthread_mutex_lock(&pool_lock);
				struct obj t = pool[j];
				pool[j] = loc[k];
				pthread_mutex_unlock(&pool_lock);
				loc[k] = t;
				if (loc[k].p) {
					TCHECK(obj_ok(&loc[k]),
					       "pool object of %zu bytes corrupted",
					       loc[k].n);
					free(loc[k].p);
				}
			} else {
				free(loc[k].p);
			}
		}
		obj_new(&loc[k], pcm_rand_size(&r, 256 * 1024), pcm_rand(&r));
		atomic_fetch_add_explicit(&thread_ops, 1, memory_order_relaxed);
		/* Leave the children some CPU on a 2-core machine. */
		if (++myops % 16 == 0)
			usleep(200);
	}
	for (int k = 0; k < NL; k++) {
		if (loc[k].p)
			TCHECK(obj_ok(&loc[k]), "object corrupted at end");
		free(loc[k].p);
	}
	return NULL;
}

static void child_fail(const char *what)
{
	char buf[200];
	int n = snprintf(buf, sizeof(buf), "fork_threads child %d: %s\n",
			 (int)getpid(), what);
	ssize_t r = write(2, buf, (size_t)n);
	(void)r;
	_exit(1);
}

/* Runs in the child: only the forking thread exists now. */
static void child(struct obj *mine, int nmine, uint64_t seed)
{
	alarm(PCM_HANG_SECS);
	/* The parent's objects, allocated before the fork. */
	for (int i = 0; i < nmine; i++) {
		if (!obj_ok(&mine[i]))
			child_fail("parent object corrupted in child");
		size_t nn = mine[i].n * 2 + 100;
		unsigned char *q = realloc(mine[i].p, nn);
		if (!q)
			child_fail("realloc of a parent object failed");
		mine[i].p = q;
		if (!obj_ok(&mine[i]))
			child_fail("realloc of a parent object lost data");
		pcm_fillw_range(q, mine[i].n, nn, mine[i].seed);
		mine[i].n = nn;
	}
	/* Objects allocated by other threads (gone in the child).  The pool
	 * lock was taken by this thread before fork. */
	for (int j = 0; j < POOL; j++) {
		if (!pool[j].p)
			continue;
		if (!obj_ok(&pool[j]))
			child_fail("pool object corrupted in child");
		if (j % 2) {
			unsigned char *q = realloc(pool[j].p, pool[j].n + 5000);
			if (!q)
				child_fail("realloc of a pool object failed");
			free(q);
		} else {
			free(pool[j].p);
		}
		pool[j].p = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	/* Fresh work of all sizes. */
	enum { N = 2000 };
	static struct obj o[N];
	struct pcm_rng r = {seed};
	for (int i = 0; i < N; i++) {
		obj_new(&o[i], pcm_rand_size(&r, 512 * 1024), pcm_rand(&r));
		if (i % 3 == 0) {
			int j = (int)(pcm_rand(&r) % (uint64_t)(i + 1));
			if (o[j].p) {
				if (!obj_ok(&o[j]))
					child_fail("child object corrupted");
				free(o[j].p);
				o[j].p = NULL;
			}
		}
	}
	for (int i = 0; i < N; i++) {
		if (o[i].p && !obj_ok(&o[i]))
			child_fail("child object corrupted at end");
		free(o[i].p);
	}
	for (int i = 0; i < nmine; i++) {
		if (!obj_ok(&mine[i]))
			child_fail("parent object corrupted at end");
		free(mine[i].p);
	}
	void *big = malloc(64 * PCM_MIB);
	if (!big)
		child_fail("64 MiB malloc failed");
	memset(big, 1, 4096);
	free(big);
	_exit(0);
}

int main(void)
{
	pcm_test_begin("fork_threads");
	signal(SIGALRM, on_alarm);
	alarm(PCM_HANG_SECS);

	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, worker,
				       (void *)(intptr_t)i) == 0);

	enum { NMINE = 64 };
	struct obj mine[NMINE];
	struct pcm_rng r = {2024};
	for (int i = 0; i < NMINE; i++)
		obj_new(&mine[i], pcm_rand_size(&r, 4 * PCM_MIB), pcm_rand(&r));

	int forks = (int)pcm_scale(100, 10);
	double t0 = pcm_now();
	int bad = 0, f;
	for (f = 0; f < forks; f++) {
		/* Replace a few of the main thread's objects each time. */
		for (int k = 0; k < 4; k++) {
			int i = (int)(pcm_rand(&r) % NMINE);
			CHECK(obj_ok(&mine[i]));
			free(mine[i].p);
			obj_new(&mine[i], pcm_rand_size(&r, 4 * PCM_MIB),
				pcm_rand(&r));
		}
		pthread_mutex_lock(&pool_lock);
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0)
			child(mine, NMINE, (uint64_t)f);
		pthread_mutex_unlock(&pool_lock);
		int st;
		REQUIRE(waitpid(pid, &st, 0) == pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			bad++;
			CHECKF(0, "fork %d: child %s %d", f,
			       WIFEXITED(st) ? "exited with" : "killed by signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
	/* The threads did work beside the forks (however slowly they ran). */
	while (atomic_load(&thread_ops) < 1000)
		usleep(1000);
	atomic_store(&stop, 1);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NMINE; i++) {
		CHECK(obj_ok(&mine[i]));
		free(mine[i].p);
	}
	for (int j = 0; j < POOL; j++) {
		if (pool[j].p)
			CHECK(obj_ok(&pool[j]));
		free(pool[j].p);
	}
	CHECK(atomic_load(&thread_ops) > 0);
	CHECK(f == forks);
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr,
			"fork_threads: %d forks in %.1fs, %d bad, %ld thread "
			"ops\n",
			f, pcm_now() - t0, bad, (long)atomic_load(&thread_ops));
	return pcm_done("fork_threads");
}
