/* sanitizer_prog: a sanitizer-instrumented program run with pcmalloc in the
 * process (tests/tools/sanitizer.sh).  pcmalloc must step aside: every
 * call reaches the sanitizer's own malloc, so that
 *   - the program runs to its end (it used to die of SIGSEGV at start-up,
 *     inside the sanitizer's not yet ready getrandom);
 *   - pcmalloc owns none of its blocks (pcmalloc_owns, looked up with
 *     dlsym, answers 0);
 *   - with "overflow", the sanitizer reports the heap overflow (ASan). */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int (*owns)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "pcmalloc_owns");
	if (!owns) {
		printf("sanitizer_prog: pcmalloc is not in the process\n");
		return 3;
	}
	char *p = malloc(10);
	void *blocks[] = { p, calloc(3, 5), aligned_alloc(64, 128), memalign(4096, 10),
			   strdup("sanitized"), realloc(NULL, 5000), malloc(5u << 20) };
	void *pm = NULL;
	if (posix_memalign(&pm, 256, 1000) != 0)
		return 4;
	int owned = owns(pm);
	for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
		if (!blocks[i])
			return 5;
		owned += owns(blocks[i]);
	}
	memset(p, 1, 10);
	blocks[5] = realloc(blocks[5], 100000);
	if (malloc_usable_size(p) < 10)
		return 6;
	if (owned) {
		printf("sanitizer_prog: pcmalloc owns %d of the blocks\n", owned);
		return 7;
	}
	if (argc > 1 && !strcmp(argv[1], "overflow")) {
		volatile size_t at = 10;
		volatile char c = p[at]; /* one past the end */
		(void)c;
	}
	for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
		free(blocks[i]);
	free(pm);
	printf("sanitizer_prog: done, the sanitizer's heap throughout\n");
	return 0;
}
