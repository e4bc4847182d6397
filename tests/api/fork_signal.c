/* pcm-test: no-valgrind */
/* fork_signal: fork() from a signal handler that interrupts malloc.
 * A single-threaded program runs a 50 us SIGALRM interval timer whose
 * handler calls fork(), while the main loop mallocs, callocs, reallocs and
 * frees heavily (so the signal lands anywhere inside the allocator).
 *  - variant 1: the child _exit(0)s at once from the handler; the parent
 *    reaps it in the handler and checks its status;
 *  - variant 2: the child returns from the handler (finishing whatever
 *    allocator call was interrupted), and the main loop, seeing a volatile
 *    flag, verifies every live object, mallocs/reallocs/frees more, and
 *    _exit(0)s; the parent waits for it in the handler;
 *  - variant 3: the child allocates inside the handler, with the call that
 *    fork() interrupted still unfinished (its locks held by this very
 *    thread): malloc, calloc, realloc and free of small, large and huge
 *    blocks, contents checked, then _exit(0).  pcmalloc must serve these
 *    (or diagnose and abort), never wait for itself.
 * Each variant runs until a fixed number of children have been checked; the
 * handler forks only after the main loop made progress since the last fork,
 * so the program cannot starve.  A CLOCK_MONOTONIC POSIX timer (SIGUSR2)
 * with a generous limit turns a deadlock into a failure; children get a
 * watchdog alarm() too.
 * (No valgrind: fork in a signal handler at this rate.  Fine under UBSan.)
 */
#include "pcm_test.h"

#define SLOTS 256

struct obj {
	unsigned char *p;
	size_t n;
	uint64_t seed;
};

static struct obj live[SLOTS];
static volatile sig_atomic_t progress, last_fork_progress, in_child;
static volatile sig_atomic_t forks, bad_children, variant;

static void on_deadlock(int sig)
{
	(void)sig;
	static const char msg[] = "fork_signal: timeout: deadlock (fork in a "
				  "signal handler interrupting malloc?)\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(3);
}

/* Variant 3, in the child, inside the handler. */
static void child_in_handler(void)
{
	/* SIGALRM is blocked in its own handler: unblock it for the watchdog. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	alarm(PCM_HANG_SECS);
	static const size_t sizes[] = {24, 200, 5000, 40000, 300000, 8 << 20};
	int bad = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *p = malloc(n), *z = calloc(1, n);
		if (!p || !z)
			_exit(6);
		pcm_fillw_range(p, 0, n, n);
		if (pcm_first_nonzero(z, n) >= 0)
			bad++;
		unsigned char *q = realloc(p, 2 * n);
		if (!q)
			_exit(6);
		if (pcm_verifyw_range(q, 0, n, n) >= 0)
			bad++;
		free(z);
		free(q);
	}
	_exit(bad ? 7 : 0);
}

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	if (in_child || progress == last_fork_progress) {
		errno = saved;
		return;
	}
	last_fork_progress = progress;
	pid_t pid = fork();
	if (pid == 0) {
		if (variant == 1)
			_exit(0);
		if (variant == 3)
			child_in_handler();
		/* Variant 2: continue in the main loop, with a watchdog. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGALRM, &sa, NULL);
		alarm(PCM_HANG_SECS);
		in_child = 1;
		errno = saved;
		return;
	}
	if (pid < 0) {
		bad_children++;
		errno = saved;
		return;
	}
	int st;
	pid_t w;
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	if (w != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bad_children++;
	forks++;
	errno = saved;
}

static bool obj_ok(const struct obj *o)
{
	return pcm_verifyw_range(o->p, 0, o->n, o->seed) < 0;
}

static void child_exit(void)
{
	/* Verify everything the parent had live, then work a little. */
	int bad = 0;
	for (int i = 0; i < SLOTS; i++)
		if (live[i].p && !obj_ok(&live[i]))
			bad++;
	struct pcm_rng r = {(uint64_t)getpid()};
	for (int k = 0; k < 300; k++) {
		int i = (int)(pcm_rand(&r) % SLOTS);
		size_t n = pcm_rand_size(&r, 512 * 1024);
		if (live[i].p) {
			unsigned char *q = realloc(live[i].p, n + 1);
			if (!q)
				_exit(4);
			size_t keep = live[i].n < n + 1 ? live[i].n : n + 1;
			if (pcm_verifyw_range(q, 0, keep, live[i].seed) >= 0)
				bad++;
			free(q);
			live[i].p = NULL;
		}
		void *p = malloc(n);
		if (!p)
			_exit(4);
		memset(p, 0x6b, n);
		free(p);
	}
	for (int i = 0; i < SLOTS; i++)
		free(live[i].p);
	_exit(bad ? 5 : 0);
}

static void run(int v, int want_forks)
{
	variant = v;
	forks = 0;
	bad_children = 0;
	struct pcm_rng r = {(uint64_t)v * 7 + 1};
	struct itimerval it = {{0, 50}, {0, 50}};
	REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
	long ops = 0;
	while ((ops & 255) || forks < want_forks) {
		if (in_child)
			child_exit();
		int i = (int)(pcm_rand(&r) % SLOTS);
		struct obj *o = &live[i];
		unsigned op = (unsigned)(pcm_rand(&r) % 4);
		if (o->p) {
			if (!obj_ok(o)) {
				CHECKF(0, "variant %d: object of %zu bytes "
					  "corrupted",
				       v, o->n);
				pcm_fillw_range(o->p, 0, o->n, o->seed);
			}
		}
		size_t n = pcm_rand_size(&r, 2 * PCM_MIB);
		if (op == 0 && o->p) {
			unsigned char *q = realloc(o->p, n + 1);
			REQUIRE(q);
			size_t keep = o->n < n + 1 ? o->n : n + 1;
			if (pcm_verifyw_range(q, 0, keep, o->seed) >= 0)
				CHECKF(0, "variant %d: realloc %zu -> %zu lost "
					  "data",
				       v, o->n, n + 1);
			pcm_fillw_range(q, keep, n + 1, o->seed);
			o->p = q;
			o->n = n + 1;
		} else {
			free(o->p);
			o->p = op == 1 ? calloc(1, n) : malloc(n);
			REQUIRE(o->p);
			if (op == 1)
				CHECK(pcm_first_nonzero(o->p, n) < 0);
			o->n = n;
			o->seed = pcm_rand(&r);
			pcm_fillw_range(o->p, 0, n, o->seed);
		}
		ops++;
		progress++;
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	if (in_child)
		child_exit();
	for (int i = 0; i < SLOTS; i++) {
		if (live[i].p)
			CHECK(obj_ok(&live[i]));
		free(live[i].p);
		live[i].p = NULL;
	}
	CHECKF(bad_children == 0, "variant %d: %d of %d children failed", v,
	       (int)bad_children, (int)forks);
	if (getenv("PCM_TEST_VERBOSE"))
		fprintf(stderr, "fork_signal: variant %d: %ld ops, %d forks\n", v,
			ops, (int)forks);
}

int main(void)
{
	pcm_test_begin("fork_signal");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	REQUIRE(sigaction(SIGALRM, &sa, NULL) == 0);
	sa.sa_handler = on_deadlock;
	sa.sa_flags = 0;
	REQUIRE(sigaction(SIGUSR2, &sa, NULL) == 0);

	timer_t wd;
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &wd) == 0);
	struct itimerspec wdt = {{0, 0}, {PCM_HANG_SECS, 0}}; /* a hang, not slowness */
	REQUIRE(timer_settime(wd, 0, &wdt, NULL) == 0);

	int want = pcm_quick() ? 40 : 300;
	run(1, want);
	run(2, want);
	run(3, want);
	timer_delete(wd);
	return pcm_done("fork_signal");
}
