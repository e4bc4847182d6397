/* Linked with -static and libpcmalloc.a: malloc, free, realloc and calloc
 * in this program are pcmalloc's (the static library replaced libc's). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pcmalloc.h"

int main(void)
{
	char *p = malloc(100);
	REQUIRE(p);
	memset(p, 7, 100);
	CHECK(pcmalloc_owns(p));
	p = realloc(p, 100000);
	CHECK(pcmalloc_owns(p) && p[99] == 7);
	int *z = calloc(1000, sizeof(int));
	CHECK(pcmalloc_owns(z) && z[999] == 0);
	char *big = malloc(64 << 20);
	REQUIRE(big);
	big[0] = 1;
	CHECK(pcmalloc_owns(big));
	struct pcmalloc_stats st;
	CHECK(pcmalloc_stats_get(&st, sizeof st) == 0);
	CHECK(st.allocated >= (64u << 20) + 100000);
	CHECK(st.huge_count == 1);
	free(big);
	free(p);
	free(z);
	/* strdup and stdio inside libc.a allocate through us too. */
	char *s = strdup("static");
	CHECK(pcmalloc_owns(s));
	free(s);
	int x = 0;
	CHECK(!pcmalloc_owns(&x));
	return check_done("static_link");
}
