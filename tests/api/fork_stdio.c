/* pcm-test: no-valgrind (valgrind runs one thread at a time: the forking thread starves and the race this test needs never happens) */
/* fork_stdio: fork racing with stdio locks.
 * Thread A loops getline() over a file of long lines: getline reallocs while
 * holding the FILE's lock.  Thread B loops fflush(NULL), which takes the
 * stdio list lock and then every FILE's lock.  Thread C loops fork(); the
 * child _exit(0)s (every other child first mallocs and frees); the parent
 * reaps it and checks the status.  An allocator that holds its own locks
 * across fork (taken in a pthread_atfork prepare handler, before glibc takes
 * the stdio list lock) deadlocks here.  Runs until 500 children (50 in
 * quick mode) were checked while the file was read through and flushed
 * many times, however long that takes; alarm() (PCM_HANG_SECS) turns a
 * deadlock into a failure.  Thread A also checks every line it reads.
 * (Skipped when built with ThreadSanitizer, whose fork handling deadlocks.)
 */
#include "pcm_test.h"

static atomic_int stop;
static _Atomic long lines_read, flushes, forks, bad_children;
static char path[64];
static int nlines;

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "fork_stdio: timeout: deadlock between fork, "
				  "stdio locks and malloc?\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(3);
}

/* Line k: length len(k) (without the newline), byte j = 'a' + (k + j) % 26. */
static size_t line_len(int k)
{
	return (size_t)(pcm_mix64((uint64_t)k) % 65536) + 1;
}

static void make_file(void)
{
	strcpy(path, "/tmp/pcm_fork_stdio_XXXXXX");
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	FILE *f = fdopen(fd, "w");
	REQUIRE(f);
	nlines = (int)pcm_scale(400, 4);
	for (int k = 0; k < nlines; k++) {
		size_t n = line_len(k);
		for (size_t j = 0; j < n; j++)
			fputc('a' + (int)((k + (int)j) % 26), f);
		fputc('\n', f);
	}
	REQUIRE(fclose(f) == 0);
}

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		FILE *f = fopen(path, "r");
		REQUIRE(f);
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		int k = 0;
		while (!atomic_load(&stop) && (n = getline(&line, &cap, f)) > 0) {
			size_t want = line_len(k);
			TCHECK((size_t)n == want + 1, "line %d: length %zd, want %zu",
			       k, n, want + 1);
			if ((size_t)n == want + 1) {
				for (size_t j = 0; j < want; j += 97)
					TCHECK(line[j] == 'a' + (int)((k + (int)j) % 26),
					       "line %d byte %zu wrong", k, j);
			}
			k++;
			atomic_fetch_add(&lines_read, 1);
			/* Start small again so getline reallocs a lot. */
			if (k % 8 == 0) {
				free(line);
				line = NULL;
				cap = 0;
			}
		}
		free(line);
		fclose(f);
	}
	return NULL;
}

static void *flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		fflush(NULL);
		atomic_fetch_add(&flushes, 1);
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	long i = 0;
	while (!atomic_load(&stop)) {
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			/* Drop the inherited descriptors: under valgrind the
			 * child's exit runs __libc_freeres, whose stdio cleanup
			 * would seek the reader's shared file offset back. */
			close_range(3, ~0U, 0);
			if (i & 1) {
				alarm(PCM_HANG_SECS);
				void *p = malloc(100 + (size_t)i % 5000);
				void *q = malloc(200000);
				if (!p || !q)
					_exit(2);
				memset(p, 1, 100);
				memset(q, 2, 200000);
				free(p);
				free(q);
			}
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			atomic_fetch_add(&bad_children, 1);
			TCHECK(0, "child %ld: status %#x", i, st);
		}
		atomic_fetch_add(&forks, 1);
		i++;
	}
	return NULL;
}

int main(void)
{
	pcm_test_begin("fork_stdio");
	if (PCM_TSAN) {
		/* TSan's own fork handling deadlocks here. */
		fprintf(stderr, "fork_stdio: skipped under ThreadSanitizer\n");
		return pcm_done("fork_stdio");
	}
	signal(SIGALRM, on_alarm);
	make_file();
	long want_forks = pcm_scale(500, 10);
	alarm(PCM_HANG_SECS);

	/* Extra FILEs for fflush(NULL) to walk, some with pending output. */
	FILE *extra[4];
	for (int i = 0; i < 4; i++) {
		extra[i] = fopen("/dev/null", "w");
		REQUIRE(extra[i]);
	}

	pthread_t a, b, c;
	REQUIRE(pthread_create(&a, NULL, reader, NULL) == 0);
	REQUIRE(pthread_create(&b, NULL, flusher, NULL) == 0);
	REQUIRE(pthread_create(&c, NULL, forker, NULL) == 0);
	while (atomic_load(&forks) < want_forks ||
	       atomic_load(&lines_read) < 2L * nlines || atomic_load(&flushes) < 100) {
		for (int i = 0; i < 4; i++)
			fprintf(extra[i], "%d %s\n", i, "pending output");
		usleep(1000);
	}
	atomic_store(&stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	for (int i = 0; i < 4; i++)
		fclose(extra[i]);
	unlink(path);
	alarm(0);

	CHECK(atomic_load(&forks) >= want_forks);
	CHECK(atomic_load(&bad_children) == 0);
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "fork_stdio: %ld forks, %ld lines, %ld flushes\n",
			(long)atomic_load(&forks), (long)atomic_load(&lines_read),
			(long)atomic_load(&flushes));
	return pcm_done("fork_stdio");
}
