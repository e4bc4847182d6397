/* pcm-test: no-valgrind */
/*
 * Regressions found in review, each once a real bug:
 *  - calloc(0, n) as the program's very first allocation returned a free
 *    page (start-up had not run, so the size-class tables read 0);
 *  - calloc returned stale data after purging failed (madvise refuses
 *    locked memory: mlockall), the block having been put back as "clean";
 *  - a huge block growing with realloc next to another huge block made the
 *    neighbour unknown (its registry entries were written, then cleared,
 *    when in-place growth failed), so freeing it crashed;
 *  - a double free whose two frees ran on different CPUs went unnoticed
 *    (only the current CPU's cache was searched) and the object was later
 *    handed out twice.
 * (No valgrind: it has no rseq, and the first calloc would not be first.)
 */
#include "pcm_test.h"

static void double_free_across_cpus(void)
{
	cpu_set_t a, b;
	CPU_ZERO(&a);
	CPU_ZERO(&b);
	CPU_SET(0, &a);
	CPU_SET(1, &b);
	char *p = malloc(64);
	REQUIRE(p);
	p[0] = 1;
	char *volatile again = p; /* hide the deliberate bug from the compiler */
	sched_setaffinity(0, sizeof a, &a);
	free(p);
	sched_setaffinity(0, sizeof b, &b);
	free(again); /* must be diagnosed */
	_exit(0);
}

int main(void)
{
	/* Before anything else allocates. */
	unsigned char *z = calloc(0, 1);
	unsigned char *z2 = calloc(1, 0);
	REQUIRE(z && z2 && z != z2);
	z[0] = 7;
	free(z);
	free(z2);

	pcm_test_begin("regress");

	/* Huge blocks growing beside each other. */
	{
		char *keep[48];
		int nk = 0;
		for (int round = 0; round < 4; round++) {
			size_t n = 4u << 20;
			char *p = malloc(n);
			REQUIRE(p);
			while (n < (200u << 20)) {
				n += n / 8 + 4096 * (size_t)round;
				p = realloc(p, n);
				REQUIRE(p);
				p[n - 1] = 2;
				if (nk < 48) { /* a neighbour, often right behind p */
					keep[nk] = malloc(5u << 20);
					REQUIRE(keep[nk]);
					keep[nk++][0] = 1;
				}
			}
			free(p);
		}
		for (int i = 0; i < nk; i++) {
			if (pcm_active())
				CHECKF(pcmalloc_owns(keep[i]), "neighbour %d forgotten", i);
			CHECK(keep[i][0] == 1);
			free(keep[i]);
		}
	}

	/* calloc after a purge that the kernel refused. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
		for (int round = 0; round < 3; round++) {
			size_t n = (1u << 20) + (size_t)round * 12288;
			unsigned char *p = malloc(n);
			REQUIRE(p);
			memset(p, 0xaa, n);
			free(p);
			malloc_trim(0); /* madvise(MADV_DONTNEED) fails: EINVAL */
			unsigned char *q = calloc(1, n);
			REQUIRE(q);
			long bad = pcm_first_nonzero(q, n);
			CHECKF(bad < 0, "calloc after mlockall: byte %ld is not zero", bad);
			free(q);
		}
		munlockall();
	} else {
		pcm_note("mlockall refused (%s): that part skipped", strerror(errno));
	}

	/* A double free across CPUs, in a child: SIGABRT with the diagnosis. */
	if (pcm_active() && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		int fds[2];
		REQUIRE(pipe(fds) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(fds[1], 2);
			double_free_across_cpus();
		}
		close(fds[1]);
		char buf[512] = { 0 };
		ssize_t got = read(fds[0], buf, sizeof buf - 1);
		(void)got;
		int st;
		waitpid(pid, &st, 0);
		CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		       "double free across CPUs not caught (status %d)", st);
		CHECKF(strstr(buf, "double free") != NULL, "message: %s", buf);
	}
	return check_done("regress");
}
