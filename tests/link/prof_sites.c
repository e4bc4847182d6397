/* The heap profiler's test program (tests/link/prof.sh): two allocation
 * sites with known live bytes, a third whose blocks are all freed, then a
 * dump through pcmalloc_prof_dump(argv[1]) and, with argv[2] = "signal", a
 * raise() of the signal named by prof_signal.
 *
 *   site_small: 40000 blocks of 512 bytes   (20,480,000 bytes live)
 *   site_large:  5000 blocks of 8192 bytes  (40,960,000 bytes live)
 *   site_freed: 20000 blocks of 1024 bytes, all freed before the dump
 *   site_huge:     4 blocks of 6 MiB (mappings of their own), live
 *
 * pcmalloc_prof_dump is looked up at run time, so that the program also
 * links without pcmalloc (it is run with LD_PRELOAD). */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SMALL 40000
#define N_LARGE 5000
#define N_FREED 20000
#define N_HUGE 4

/* Global and freed at the end, so that the compiler keeps every call. */
void *small[N_SMALL], *large[N_LARGE], *huge[N_HUGE];

__attribute__((noinline)) static void site_small(int i)
{
	small[i] = malloc(512);
	memset(small[i], 1, 16);
}

__attribute__((noinline)) static void site_large(int i)
{
	large[i] = calloc(1, 8192);
}

__attribute__((noinline)) static void site_freed(void)
{
	void *p = malloc(1024);
	memset(p, 2, 16);
	__asm__ volatile("" : : "r"(p) : "memory");
	free(p);
}

__attribute__((noinline)) static void site_huge(int i)
{
	huge[i] = malloc(6 << 20);
}

int main(int argc, char **argv)
{
	/* Interleaved, so that both sites see the same sampler state. */
	for (int i = 0, j = 0; i < N_SMALL; i++) {
		site_small(i);
		if (i % (N_SMALL / N_LARGE) == 0)
			site_large(j++);
		if (i % 2 == 0)
			site_freed();
	}
	for (int i = 0; i < N_HUGE; i++)
		site_huge(i);
	int (*dump)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "pcmalloc_prof_dump");
	if (!dump) {
		fprintf(stderr, "prof_sites: no pcmalloc_prof_dump\n");
		return 1;
	}
	if (argc > 1 && dump(argv[1]) != 0) {
		perror("pcmalloc_prof_dump");
		return 1;
	}
	if (argc > 2 && !strcmp(argv[2], "signal"))
		raise(SIGUSR1);
	for (int i = 0; i < N_SMALL; i++)
		free(small[i]);
	for (int i = 0; i < N_LARGE; i++)
		free(large[i]);
	for (int i = 0; i < N_HUGE; i++)
		free(huge[i]);
	printf("done\n");
	return 0;
}
