/*
 * startup_child: the trivial program that the startup workload executes
 * over and over.  It does what almost every process does at least once: a
 * few small allocations (through stdio and directly), then exits.
 */
#include "wl.h"

int main(int argc, char **argv)
{
	char *copy = wl_check(strdup(argc > 0 ? argv[0] : "x"), 1);
	void *a = wl_check(malloc(100), 100);
	void *b = wl_check(calloc(1, 4000), 4000);
	wl_escape(a);
	wl_escape(b);
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		char buf[256];
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	free(b);
	free(a);
	free(copy);
	return 0;
}
