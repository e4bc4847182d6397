/* pcm-test: no-valgrind */
/* limits: allocation under address-space and data limits (issue 7).
 * In a child per limit (RLIMIT_AS as ulimit -v sets it, RLIMIT_DATA as
 * prlimit --data sets it), each 300 MiB above what the process uses:
 *  - blocks of 64 KiB..1 MiB are allocated (first page written) until
 *    malloc fails, which must be NULL with ENOMEM, and must have served at
 *    least half of the headroom (glibc serves about 95%);
 *  - everything is freed; then malloc(100), malloc(200000), malloc(8 MiB)
 *    and calloc(3 MiB) must all succeed;
 *  - a second round must get at least 90% of the first: address space
 *    given back is usable again, whatever kind of allocation held it.
 * And a wild write far past the heap (into the part of a small block's
 * 64 MiB arena that is not in use) faults instead of landing silently.
 * Judged by counts and exit statuses only.  (No valgrind: it maps its own
 * memory.)
 */
#include "pcm_test.h"

#define HEADROOM (300 * PCM_MIB)
#define MAXB 20000

static void *blk[MAXB];

static size_t status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t v = 0, klen = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, klen))
			v = strtoul(line + klen, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static size_t fill_until_fail(struct pcm_rng *r, int *nblocks, int *err)
{
	size_t total = 0;
	int n = 0;
	for (;;) {
		size_t sz = 65536 + pcm_rand(r) % PCM_MIB;
		errno = 0;
		void *p = n < MAXB ? malloc(sz) : NULL;
		if (!p) {
			*err = errno;
			break;
		}
		memset(p, 1, 4096);
		blk[n++] = p;
		total += sz;
	}
	*nblocks = n;
	return total;
}

static int child(int resource)
{
	size_t used = status_kib(resource == RLIMIT_AS ? "VmSize:" : "VmData:") * 1024;
	struct rlimit rl = {used + HEADROOM, used + HEADROOM};
	if (setrlimit(resource, &rl) != 0)
		return 10;
	struct pcm_rng r = {7};
	int n, err;
	size_t first = fill_until_fail(&r, &n, &err);
	int bad = 0;
	if (err != ENOMEM) {
		fprintf(stderr, "limits: malloc failed with errno %d, want ENOMEM\n", err);
		bad |= 1;
	}
	if (first < HEADROOM / 2) {
		fprintf(stderr, "limits: only %zu MiB of %zu MiB headroom served\n",
			first >> 20, HEADROOM >> 20);
		bad |= 2;
	}
	/* Freed in a random order: the blocks the caches keep then come from
	 * every arena, not only from the last one. */
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(pcm_rand(&r) % (unsigned)(i + 1));
		void *t = blk[i];
		blk[i] = blk[j];
		blk[j] = t;
	}
	for (int i = 0; i < n; i++)
		free(blk[i]);
	void *a = malloc(100), *b = malloc(200000), *c = malloc(8 * PCM_MIB),
	     *d = calloc(1, 3 * PCM_MIB);
	if (!a || !b || !c || !d) {
		fprintf(stderr, "limits: after freeing all: %s %s %s %s\n",
			a ? "" : "malloc(100) failed", b ? "" : "malloc(200000) failed",
			c ? "" : "malloc(8M) failed", d ? "" : "calloc(3M) failed");
		bad |= 4;
	}
	free(a), free(b), free(c), free(d);
	size_t second = fill_until_fail(&r, &n, &err);
	if (second < first / 10 * 9) {
		fprintf(stderr, "limits: second round %zu MiB, first %zu MiB\n",
			second >> 20, first >> 20);
		bad |= 8;
	}
	for (int i = 0; i < n; i++)
		free(blk[i]);
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "limits: %s: %zu MiB, then %zu MiB\n",
			resource == RLIMIT_AS ? "RLIMIT_AS" : "RLIMIT_DATA", first >> 20,
			second >> 20);
	return bad;
}

static void run(int resource, const char *name)
{
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(child(resource));
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s %d", name,
	       WIFEXITED(st) ? "exited with" : "killed by signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void wild_write(void)
{
	pid_t pid = pcm_fork_crasher();
	if (pid == 0) {
		char *p = malloc(64);
		if (!p)
			_exit(3);
		/* 63 MiB into the arena of p: far past anything in use. */
		volatile char *far = (char *)(((uintptr_t)p & ~(uintptr_t)(64 * PCM_MIB - 1)) +
					      63 * PCM_MIB);
		*far = 1;
		_exit(0); /* the write landed */
	}
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	       "wild write 63 MiB into a small block's arena: child %s %d, want SIGSEGV",
	       WIFSIGNALED(st) ? "killed by signal" : "exited with",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(void)
{
	pcm_test_begin("limits");
	if (pcm_active())
		wild_write();
	if (pcm_quick()) { /* sanitizers reserve address space of their own */
		pcm_note("limits: skipped in quick mode");
		return pcm_done("limits");
	}
	run(RLIMIT_AS, "RLIMIT_AS");
	run(RLIMIT_DATA, "RLIMIT_DATA");
	return pcm_done("limits");
}
