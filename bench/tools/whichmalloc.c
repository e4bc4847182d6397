/*
 * whichmalloc: reports which loaded object provides each function of the
 * malloc API in this process, so the runner can check that an LD_PRELOADed
 * allocator really took over (and that "glibc" really is glibc).  It also
 * makes a few allocations through each function, so that an allocator that
 * loads but does not work fails here.
 *
 * Prints one line: whichmalloc: malloc=PATH free=PATH ... (PATHs as the
 * dynamic loader reports them), and exits 1 if the functions do not all
 * come from the same object.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
	"malloc", "free", "calloc", "realloc", "aligned_alloc",
	"posix_memalign", "malloc_usable_size",
};

int main(void)
{
	const char *first = NULL;
	int mixed = 0;
	printf("whichmalloc:");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *sym = dlsym(RTLD_DEFAULT, names[i]);
		Dl_info info;
		const char *where = "?";
		if (sym && dladdr(sym, &info) && info.dli_fname)
			where = info.dli_fname;
		printf(" %s=%s", names[i], where);
		if (!first)
			first = where;
		else if (strcmp(first, where))
			mixed = 1;
	}
	printf("\n");

	void *a = malloc(100), *b = calloc(10, 10), *c = aligned_alloc(64, 128);
	void *d = NULL;
	if (!a || !b || !c || posix_memalign(&d, 4096, 5000) || !d)
		return 2;
	a = realloc(a, 100000);
	if (!a || ((unsigned long)c & 63) || ((unsigned long)d & 4095) ||
	    malloc_usable_size(b) < 100)
		return 2;
	free(a);
	free(b);
	free(c);
	free(d);
	return mixed;
}
