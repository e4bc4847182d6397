/* misuse: the heap-misuse suite (issue 9).
 *
 * One small program per misuse class and size (8 B, 4 KiB, 256 KiB; the
 * malloc(0) and C++ cases as named), each run in a forked child whose exit
 * is judged:
 *
 *   A  diagnosed: killed by SIGABRT after ONE stderr line "pcmalloc: ..."
 *   a  killed by SIGABRT with another allocator's message (glibc)
 *   F  fault: killed by SIGSEGV or SIGBUS (the defined outcome where the
 *      memory touched is inaccessible)
 *   R  reuse prevented: the freed address was not handed out again
 *   S  silent: the program got past the misuse and finished its work
 *   -  not applicable (free_sized absent from the C library)
 *
 * A case is "caught" when its outcome is A, a, F or R.  After the misuse
 * every program keeps working (frees, then allocates and frees blocks of
 * the same size a few hundred times), so a check made on reuse or when a
 * quarantine gives a block back has its chance.
 *
 * Usage: misuse [CASE]   with PCM_MISUSE_MODE=default|secure|other
 *   default / secure: every case is run and compared with the expected
 *   table below (the test fails on any difference; '*' is not judged);
 *   other: the outcomes are only printed (glibc, for comparison).
 *   With CASE ("over1/4096", ...) only that case runs, in this process.
 *
 * Built with -O1 and every misuse done through opaque pointers, so the
 * compiler keeps the stores that a well-defined program could not see.
 *
 * The table is pcmalloc's once its caches are set up: the program first
 * makes enough calls to leave the warm-up (src/cache.c: a process's first
 * 64 slow-path calls go straight to the slabs, so during them a write to a
 * freed small block is found as a corrupted free list when the slab hands
 * it out again, and the key word of a freed 256 KiB block is never read).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <new>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

template <class T> static T *hide(T *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

static void store(unsigned char *p, ptrdiff_t off, unsigned char v)
{
	*(volatile unsigned char *)hide(p + off) = v;
}

static unsigned char load(unsigned char *p, ptrdiff_t off)
{
	return *(volatile unsigned char *)hide(p + off);
}

static unsigned char *alloc(size_t n)
{
	unsigned char *p = (unsigned char *)malloc(n);
	if (!p) {
		perror("malloc");
		exit(2);
	}
	memset(hide(p), 0x5a, n);
	return hide(p);
}

/* What a program does after the misuse: ordinary work with blocks of the
 * misused size (and a few other sizes), a few hundred times. */
static void keep_working(size_t n)
{
	size_t rounds = n >= 65536 ? 300 : 3000;
	unsigned char *held[16] = {};
	for (size_t i = 0; i < rounds; i++) {
		unsigned char *q = alloc(n ? n : 1);
		unsigned char *r = alloc(24 + i % 200);
		unsigned j = (unsigned)(i % 16);
		free(held[j]);
		held[j] = r;
		free(q);
	}
	for (unsigned j = 0; j < 16; j++)
		free(held[j]);
}

typedef void (*case_fn)(size_t n);

/* A one-byte store at p + off, then free(p) and more work. */
static void poke(size_t n, ptrdiff_t off)
{
	unsigned char *p = alloc(n);
	store(p, off, 0x41);
	free(p);
	keep_working(n);
}

/* A 32-byte memcpy to p + off, then free(p) and more work. */
static void copy32(size_t n, ptrdiff_t off)
{
	unsigned char src[32];
	memset(src, 0x41, sizeof src);
	unsigned char *p = alloc(n);
	memcpy(hide(p + off), src, 32);
	free(p);
	keep_working(n);
}

static void wild_after(size_t n) { poke(n, (ptrdiff_t)(n + MIB)); }
static void wild_before(size_t n) { poke(n, -(ptrdiff_t)MIB); }
static void over1(size_t n) { poke(n, (ptrdiff_t)n); }
static void under1(size_t n) { poke(n, -1); }
static void over32_memcpy(size_t n) { copy32(n, (ptrdiff_t)n); }
static void under32_memcpy(size_t n) { copy32(n, -32); }

static void uaf_write(size_t n)
{
	unsigned char *p = alloc(n);
	free(p);
	store(p, (ptrdiff_t)(n / 2), 0x41);
	keep_working(n);
}

static void uaf_write_reuse(size_t n)
{
	unsigned char *p = alloc(n);
	free(p);
	unsigned char *q = alloc(n); /* often p itself */
	store(p, (ptrdiff_t)(n / 2), 0x41);
	free(q);
	keep_working(n);
}

static void uaf_zero(size_t n)
{
	unsigned char *p = alloc(n);
	free(p);
	memset(hide(p), 0, n);
	keep_working(n);
}

static void reuse_malloc(size_t n)
{
	unsigned char *p = alloc(n);
	free(p);
	unsigned char *q = alloc(n);
	exit(q == p ? 0 : 3);
}

static void reuse_realloc(size_t n)
{
	unsigned char *p = alloc(n);
	unsigned char *q = (unsigned char *)realloc(p, n / 4 ? n / 4 : 1);
	if (q == p) /* shrunk in place: nothing was freed */
		exit(0);
	unsigned char *r = alloc(n);
	exit(r == p ? 0 : 3);
}

static void double_free(size_t n)
{
	unsigned char *p = alloc(n);
	free(p);
	free(hide(p));
	keep_working(n);
}

static void interior_free(size_t n)
{
	unsigned char *p = alloc(n);
	free(hide(p + 8));
	keep_working(n);
}

static void free_sized_wrong(size_t n)
{
	void (*fs)(void *, size_t) =
		(void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
	if (!fs)
		exit(4);
	unsigned char *p = alloc(n);
	fs(p, 2 * n + 64);
	keep_working(n);
}

static void delete_sized_wrong(size_t n)
{
	void *p = hide(::operator new(n));
	memset(p, 1, n);
	::operator delete(p, 2 * n + 64);
	keep_working(n);
}

static void new_array_delete(size_t n)
{
	void *p = hide(::operator new[](n));
	memset(p, 1, n);
	::operator delete(p);
	keep_working(n);
}

static void new_delete_array(size_t n)
{
	void *p = hide(::operator new(n));
	memset(p, 1, n);
	::operator delete[](p);
	keep_working(n);
}

static void zero_read(size_t)
{
	unsigned char *p = hide((unsigned char *)malloc(0));
	printf("%d\n", load(p, 0));
	free(p);
}

static void zero_write(size_t)
{
	unsigned char *p = hide((unsigned char *)malloc(0));
	store(p, 0, 1);
	free(p);
}

static void zero_read_freed(size_t)
{
	unsigned char *p = hide((unsigned char *)malloc(0));
	free(p);
	printf("%d\n", load(p, 0));
}

static void zero_write_freed(size_t)
{
	unsigned char *p = hide((unsigned char *)malloc(0));
	free(p);
	store(p, 0, 1);
}

/*
 * The expected outcomes: default mode, secure mode, for 8 B, 4 KiB and
 * 256 KiB (or the size given).  '*' is not judged: a 256 KiB block ends
 * where the committed part of its arena ends or not, by the layout.  In
 * the default mode a write after free is caught when it hits a freed
 * object's key word (its second word: the cache front end checks it when
 * the object is handed out again), as zeroing a block of 4 KiB or more
 * does; one in the middle of the block is not.
 */
struct mcase {
	const char *name;
	case_fn fn;
	size_t size; /* 0: one run at each of the three sizes */
	const char *expect_default;
	const char *expect_secure;
};

static const struct mcase cases[] = {
	/* name              fn                size  default secure */
	{"wild-after",       wild_after,       0, "FFF", "FFF"},
	{"wild-before",      wild_before,      0, "FFF", "FFF"},
	{"over1",            over1,            0, "SS*", "AAF"},
	{"over32-memcpy",    over32_memcpy,    0, "SS*", "AAF"},
	{"under1",           under1,           0, "SSS", "AAF"},
	{"under32-memcpy",   under32_memcpy,   0, "SSS", "AAF"},
	{"uaf-write",        uaf_write,        0, "SSS", "AAF"},
	{"uaf-write-reuse",  uaf_write_reuse,  0, "SSS", "AAF"},
	{"uaf-zero",         uaf_zero,         0, "SAA", "AAF"},
	{"reuse-malloc",     reuse_malloc,     0, "SSS", "RRR"},
	{"reuse-realloc",    reuse_realloc,    0, "SSS", "RRR"},
	{"double-free",      double_free,      0, "AAA", "AAA"},
	{"interior-free",    interior_free,    0, "AAA", "AAA"},
	{"free-sized-wrong", free_sized_wrong, 0, "AAA", "AAA"},
	{"delete-sized-wrong", delete_sized_wrong, 0, "AAA", "AAA"},
	{"new[]-delete",     new_array_delete, 0, "SSS", "AAA"},
	{"new-delete[]",     new_delete_array, 0, "SSS", "AAA"},
	{"malloc0-read",     zero_read,        1, "F", "F"},
	{"malloc0-write",    zero_write,       1, "F", "F"},
	{"malloc0-read-freed", zero_read_freed, 1, "F", "F"},
	{"malloc0-write-freed", zero_write_freed, 1, "F", "F"},
};

static const size_t sizes[] = {8, 4096, 256 * 1024};

static const char *size_name(size_t n)
{
	return n == 8 ? "8" : n == 4096 ? "4096" : n == 256 * 1024 ? "262144" : "-";
}

/* Runs fn(n) in a child; returns its outcome letter. */
static char run_case(case_fn fn, size_t n, char *msg, size_t msgcap)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		close(fds[0]);
		dup2(fds[1], 2);
		close(fds[1]);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		fn(n);
		_exit(0);
	}
	close(fds[1]);
	size_t len = 0;
	msg[0] = 0;
	for (;;) {
		if (len + 1 >= msgcap) {
			char sink[256];
			if (read(fds[0], sink, sizeof sink) <= 0)
				break;
			continue;
		}
		ssize_t r = read(fds[0], msg + len, msgcap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	msg[len] = 0;
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 0 ? 'S' : WEXITSTATUS(st) == 3 ? 'R'
			: WEXITSTATUS(st) == 4 ? '-' : '?';
	int sig = WTERMSIG(st);
	if (sig == SIGSEGV || sig == SIGBUS)
		return 'F';
	if (sig == SIGABRT) {
		char *nl = strchr(msg, '\n');
		int one_line = nl && nl[1] == 0;
		return strncmp(msg, "pcmalloc: ", 10) == 0 && one_line ? 'A' : 'a';
	}
	return '?';
}

int main(int argc, char **argv)
{
	const char *mode = getenv("PCM_MISUSE_MODE");
	if (!mode)
		mode = "other";
	int secure = strcmp(mode, "secure") == 0;
	int judged = secure || strcmp(mode, "default") == 0;
	int failures = 0, caught = 0, total = 0;
	char msg[4096];
	for (int i = 0; i < 100; i++) /* leave pcmalloc's warm-up (above) */
		free(hide((char *)malloc(3000)));
	printf("misuse suite, mode %s\n%-22s %-7s %s %s  %s\n", mode, "case", "size",
	       "got", "want", "message");
	for (const struct mcase &c : cases) {
		int nsizes = c.size ? 1 : 3;
		for (int i = 0; i < nsizes; i++) {
			size_t n = c.size ? c.size : sizes[i];
			char name[64];
			snprintf(name, sizeof name, "%s/%s", c.name, size_name(n));
			if (argc > 1) {
				if (strcmp(argv[1], name) == 0) {
					c.fn(n);
					return 0;
				}
				continue;
			}
			char got = run_case(c.fn, n, msg, sizeof msg);
			char want = (secure ? c.expect_secure : c.expect_default)[i];
			char *nl = strchr(msg, '\n');
			if (nl)
				*nl = 0;
			int bad = judged && want != '*' && got != want;
			failures += bad;
			if (got != '-') {
				total++;
				caught += got == 'A' || got == 'a' || got == 'F' || got == 'R';
			}
			printf("%-22s %-7s %c   %c     %s%s\n", c.name, size_name(n), got,
			       judged ? want : ' ', msg, bad ? "   <-- FAIL" : "");
		}
	}
	if (argc > 1) {
		fprintf(stderr, "misuse: no case %s\n", argv[1]);
		return 2;
	}
	printf("caught %d of %d (mode %s)\n", caught, total, mode);
	if (judged)
		printf("%d unexpected outcomes\n", failures);
	return failures ? 1 : 0;
}
