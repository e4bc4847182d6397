/* A trivial program for tests/link/startup.sh: what the bench's
 * startup_child does (a few small allocations, directly and through stdio),
 * or, with an argument N, N more allocations of a few sizes, held and then
 * freed (enough to leave pcmalloc's warm-up, cache.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

int main(int argc, char **argv)
{
	char *copy = strdup(argv[0]);
	void *a = malloc(100), *b = calloc(1, 4000);
	if (!copy || !a || !b)
		return 1;
	sink = a;
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		char buf[256];
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
	}
	long n = argc > 1 ? atol(argv[1]) : 0;
	void **held = n ? calloc((size_t)n, sizeof *held) : NULL;
	for (long i = 0; i < n && held; i++)
		sink = held[i] = malloc(16 + (size_t)(i % 7) * 40);
	for (long i = 0; i < n && held; i++)
		free(held[i]);
	free(held);
	free(b);
	free(a);
	free(copy);
	return 0;
}
