/* pcm-test: no-valgrind */
/* harden: the default mode's checks must not refuse correct programs
 * (issue 9), and what they promise holds.
 *  - sized deallocation with the right size is accepted for every way a
 *    block is made: malloc, calloc, aligned_alloc, realloc (grown, shrunk,
 *    in place and moved), sizes 0 .. 12 MiB (small, large classes, runs,
 *    direct mappings); free_aligned_sized with each alignment;
 *  - malloc(0): distinct pointers, usable size 0, realloc grows them,
 *    pcmalloc owns them; in a child, reading one faults, and a second free
 *    is diagnosed in one line naming the pointer;
 *  - a huge block (8 MiB) has a guard gap: in a child a write just past its
 *    end faults, and one just before its start;
 *  - a wrong size given to free_sized is diagnosed (one line, the pointer).
 * pcmalloc-specific parts run only when pcmalloc is active (glibc 2.36 has
 * no free_sized: those parts need pcmalloc too).
 * (No valgrind: the children fault on purpose.)
 */
#include "pcm_test.h"

static const size_t sizes[] = {0, 1, 8, 16, 17, 100, 1000, 1024, 1025, 4096,
			       5000, 32768, 32769, 40000, 65536, 100000,
			       1 << 20, (1 << 20) + 1, 3 << 20, 4 << 20,
			       (4 << 20) + 1, 12 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void fill(void *p, size_t n)
{
	if (n)
		memset(p, 0x33, n);
}

static void sized_ok(void)
{
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];
		void *p = malloc(n);
		REQUIRE(p);
		fill(p, n);
		free_sized(p, n);
		p = calloc(1, n);
		REQUIRE(p);
		free_sized(p, n);
		for (size_t a = 16; a <= 65536; a *= 4) {
			size_t m = (n + a - 1) / a * a; /* aligned_alloc wants a multiple */
			p = aligned_alloc(a, m);
			REQUIRE(p);
			fill(p, m);
			free_aligned_sized(p, a, m);
		}
		for (size_t j = 0; j < NSIZES; j += 3) {
			p = malloc(n);
			REQUIRE(p);
			void *q = realloc(p, sizes[j]);
			if (sizes[j] == 0) { /* glibc: realloc(p, 0) frees */
				CHECK(q == NULL);
				continue;
			}
			REQUIRE(q);
			fill(q, sizes[j]);
			free_sized(q, sizes[j]);
		}
	}
}

static void zero_blocks(void)
{
	void *z[64];
	for (int i = 0; i < 64; i++) {
		z[i] = malloc(0);
		REQUIRE(z[i]);
		CHECK(malloc_usable_size(z[i]) == 0);
		CHECK(pcmalloc_owns(z[i]) == 1);
		for (int j = 0; j < i; j++)
			CHECK(z[j] != z[i]);
	}
	for (int i = 0; i < 64; i += 2)
		free(z[i]);
	for (int i = 1; i < 64; i += 2) {
		char *q = realloc(z[i], 100);
		REQUIRE(q);
		memset(q, 1, 100);
		CHECK(malloc_usable_size(q) >= 100);
		free(q);
	}
	void *c = calloc(0, 8), *r = realloc(NULL, 0);
	REQUIRE(c && r);
	CHECK(malloc_usable_size(c) == 0 && malloc_usable_size(r) == 0);
	free(c);
	free(r);
}

/* Runs fn in a child; checks it dies of `sig`, with a one-line pcmalloc
 * message containing `want` and the address when sig is SIGABRT. */
static void in_child(const char *name, void (*fn)(void **), int sig,
		     const char *want)
{
	int errp[2];
	REQUIRE(pipe(errp) == 0);
	pid_t pid = pcm_fork_crasher();
	if (pid == 0) {
		alarm(20);
		dup2(errp[1], 2);
		close(errp[0]);
		void *addr = NULL;
		fn(&addr);
		_exit(42);
	}
	close(errp[1]);
	char out[4096];
	ssize_t len = 0, r;
	while ((r = read(errp[0], out + len, sizeof out - 1 - (size_t)len)) > 0)
		len += r;
	out[len] = 0;
	close(errp[0]);
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == sig,
	       "%s: child %s %d, want signal %d; stderr: %s", name,
	       WIFSIGNALED(st) ? "killed by signal" : "exited with",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), sig, out);
	if (want) {
		CHECKF(strncmp(out, "pcmalloc: ", 10) == 0 && strstr(out, want) &&
			       strchr(out, '\n') == out + len - 1,
		       "%s: want one line \"pcmalloc: ...%s...\", got \"%s\"", name,
		       want, out);
	}
}

static char addr_text[32];

static void zero_read(void **addr)
{
	volatile char *z = pcm_hide_ptr(malloc(0));
	*addr = (void *)z;
	(void)z[0];
}

static void zero_double_free(void **addr)
{
	void *z = malloc(0), *same = pcm_hide_ptr(z);
	*addr = z;
	free(z);
	free(same);
}

static void huge_past(void **addr)
{
	volatile char *p = pcm_hide_ptr(malloc(8 * PCM_MIB));
	*addr = (void *)p;
	p[8 * PCM_MIB + 100] = 1;
}

static void huge_before(void **addr)
{
	volatile char *p = pcm_hide_ptr(malloc(8 * PCM_MIB));
	*addr = (void *)p;
	p[-100] = 1;
}

static void sized_wrong(void **addr)
{
	void *p = malloc(100);
	*addr = p;
	snprintf(addr_text, sizeof addr_text, "%p", p);
	free_sized(pcm_hide_ptr(p), 1000);
}

int main(void)
{
	pcm_test_begin("harden");
	if (!pcm_active() || !free_sized)
		return pcm_done("harden");
	sized_ok();
	zero_blocks();
	in_child("malloc(0) read", zero_read, SIGSEGV, NULL);
	in_child("malloc(0) double free", zero_double_free, SIGABRT,
		 "free(): double free of 0x");
	in_child("8 MiB: write past the end", huge_past, SIGSEGV, NULL);
	in_child("8 MiB: write before the start", huge_before, SIGSEGV, NULL);
	in_child("free_sized(p, wrong size)", sized_wrong, SIGABRT,
		 "free_sized(): size 1000 does not fit the block at 0x");
	return pcm_done("harden");
}
