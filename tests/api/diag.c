/* pcm-test: no-valgrind */
/* diag: pcmalloc's diagnostics for heap misuse.
 * Each case runs in a forked child with stderr redirected to a pipe:
 *  - double free of a small object, of a small object with other frees in
 *    between, of a 64 KiB object;
 *  - free(p + 8) of a small object, free(p + 4096) of a 64 KiB object;
 *  - double free of an 8 MiB block (a direct mapping, unmapped by the
 *    first free: glibc itself dies of SIGSEGV there);
 *  - a write after free into a small object's second word, then a malloc
 *    that reuses it (pcmalloc only: "write after free" from malloc).
 * Expected (when pcmalloc is active): the child dies by SIGABRT after
 * writing exactly ONE line to stderr that starts with "pcmalloc: ", contains
 * "double free" (resp. "invalid pointer") and the pointer passed to free in
 * %p form (lowercase hex).  On another allocator only the SIGABRT is
 * checked (glibc catches all these cases too, with its own messages).
 * (No valgrind: its messages would join the child's stderr.  Fine under
 * UBSan; ASan/TSan would intercept the errors themselves.)
 */
#include "pcm_test.h"

struct dcase {
	const char *name;
	const char *keyword;
	/* Sets up the misuse; returns the pointer then passed to free(). */
	void *(*prepare)(void);
	bool other_faults; /* another allocator may die of SIGSEGV instead */
	size_t then_malloc; /* not 0: malloc this much instead of the free */
};

static void *double_free_small(void)
{
	void *p = malloc(32);
	REQUIRE(p);
	memset(p, 1, 32);
	void *ret = pcm_hide_ptr(p);
	free(p);
	return ret;
}

static void *double_free_interleaved(void)
{
	void *keep[8];
	for (int i = 0; i < 8; i++) {
		keep[i] = malloc(100);
		REQUIRE(keep[i]);
	}
	void *p = malloc(100), *q = malloc(100);
	REQUIRE(p && q);
	memset(p, 1, 100);
	memset(q, 2, 100);
	void *ret = pcm_hide_ptr(p);
	free(p);
	free(q);
	free(keep[3]);
	return ret;
}

static void *double_free_large(void)
{
	void *p = malloc(65536);
	REQUIRE(p);
	memset(p, 1, 65536);
	void *guard = malloc(65536); /* keep p from merging into free space */
	REQUIRE(guard);
	memset(guard, 2, 65536);
	void *ret = pcm_hide_ptr(p);
	free(p);
	return ret;
}

static void *interior_small(void)
{
	unsigned char *p = malloc(64);
	REQUIRE(p);
	memset(p, 0, 64);
	return p + 8;
}

static void *interior_large(void)
{
	unsigned char *p = calloc(1, 65536);
	REQUIRE(p);
	return p + 4096;
}

static void *double_free_huge(void)
{
	void *p = malloc(8 * PCM_MIB);
	REQUIRE(p);
	memset(p, 1, 8 * PCM_MIB);
	void *ret = pcm_hide_ptr(p);
	free(p);
	return ret;
}

/* Frees a 48-byte object, then writes its second word: the next malloc of
 * that size gets it back and must see the write. */
static void *write_after_free_small(void)
{
	pcm_caches_on(); /* the key word is checked as an object leaves a cache */
	uintptr_t *p = malloc(48);
	REQUIRE(p);
	memset(p, 0, 48);
	void *ret = pcm_hide_ptr(p);
	free(p);
	((volatile uintptr_t *)pcm_hide_ptr(ret))[1] = 0x5a5a5a5a;
	return ret;
}

static const struct dcase cases[] = {
	{"double free (small)", "double free", double_free_small, false, 0},
	{"double free (small, interleaved)", "double free",
	 double_free_interleaved, false, 0},
	{"double free (64 KiB)", "double free", double_free_large, false, 0},
	{"free(p + 8) (small)", "invalid pointer", interior_small, false, 0},
	{"free(p + 4096) (64 KiB)", "invalid pointer", interior_large, false, 0},
	{"double free (8 MiB)", "double free", double_free_huge, true, 0},
	{"write after free, then malloc (small)", "write after free",
	 write_after_free_small, false, 48},
};

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

static void run_case(const struct dcase *c, bool active)
{
	int errp[2], addrp[2];
	REQUIRE(pipe(errp) == 0 && pipe(addrp) == 0);
	pid_t pid = pcm_fork_crasher();
	if (pid == 0) {
		alarm(PCM_HANG_SECS);
		close(errp[0]);
		close(addrp[0]);
		void *bad = c->prepare();
		/* Tell the parent which pointer is about to be freed. */
		if (write(addrp[1], &bad, sizeof(bad)) != (ssize_t)sizeof(bad))
			_exit(41);
		close(addrp[1]);
		if (dup2(errp[1], 2) != 2)
			_exit(40);
		close(errp[1]);
		if (c->then_malloc)
			(void)!malloc(c->then_malloc);
		else
			free(pcm_hide_ptr(bad));
		_exit(42); /* survived: not diagnosed */
	}
	close(errp[1]);
	close(addrp[1]);
	void *bad = NULL;
	size_t alen = read_all(addrp[0], (char *)&bad, sizeof(bad));
	close(addrp[0]);
	char out[4096];
	size_t len = read_all(errp[0], out, sizeof(out) - 1);
	out[len] = 0;
	close(errp[0]);
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	REQUIRE(alen == sizeof(bad));
	CHECKF(WIFSIGNALED(st) && (WTERMSIG(st) == SIGABRT ||
				   (!active && c->other_faults && WTERMSIG(st) == SIGSEGV)),
	       "%s: child %s %d, want SIGABRT; stderr: %s", c->name,
	       WIFSIGNALED(st) ? "killed by signal" : "exited with",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), out);
	pcm_note("%s: stderr: %s", c->name, out);
	if (!active)
		return;
	char addr[32];
	snprintf(addr, sizeof(addr), "%p", bad);
	const char *nl = strchr(out, '\n');
	CHECKF(len > 0 && nl == out + len - 1,
	       "%s: want exactly one line on stderr, got %zu bytes: \"%s\"",
	       c->name, len, out);
	CHECKF(strncmp(out, "pcmalloc: ", 10) == 0,
	       "%s: message does not start with \"pcmalloc: \": \"%s\"",
	       c->name, out);
	CHECKF(strstr(out, c->keyword) != NULL,
	       "%s: message lacks \"%s\": \"%s\"", c->name, c->keyword, out);
	CHECKF(strstr(out, addr) != NULL,
	       "%s: message lacks the address %s: \"%s\"", c->name, addr, out);
}

int main(void)
{
	pcm_test_begin("diag");
	bool active = pcm_active();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (active || !cases[i].then_malloc) /* others let it pass */
			run_case(&cases[i], active);
	return pcm_done("diag");
}
