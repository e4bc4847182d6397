/*
 * The first malloc can come before main, before other constructors, even
 * from .preinit_array (which runs before any shared library's constructor
 * in a dynamic program): pcmalloc must start up there, and what it handed
 * out then must stay valid and freeable later.
 */
#include "pcm_test.h"

static char *from_preinit, *from_ctor;
static unsigned char *zeroed;
static int preinit_errno_ok;

static void preinit(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	errno = 1234;
	from_preinit = malloc(100);
	if (from_preinit)
		strcpy(from_preinit, "preinit");
	free(malloc(5000));
	preinit_errno_ok = errno == 1234;
}
__attribute__((section(".preinit_array"), used)) static void (*preinit_fn)(
	int, char **, char **) = preinit;

__attribute__((constructor(101))) static void early_ctor(void)
{
	from_ctor = realloc(NULL, 40);
	if (from_ctor)
		strcpy(from_ctor, "ctor");
	zeroed = calloc(3, 1000);
}

int main(void)
{
	pcm_test_begin("early");
	REQUIRE(from_preinit && from_ctor && zeroed);
	CHECK(!strcmp(from_preinit, "preinit"));
	CHECK(!strcmp(from_ctor, "ctor"));
	CHECK(pcm_first_nonzero(zeroed, 3000) < 0);
	CHECK(preinit_errno_ok);
	if (pcm_active()) {
		CHECK(pcmalloc_owns(from_preinit));
		CHECK(pcmalloc_owns(from_ctor));
		CHECK(pcmalloc_owns(zeroed));
	}
	from_ctor = realloc(from_ctor, 100000);
	REQUIRE(from_ctor);
	CHECK(!strcmp(from_ctor, "ctor"));
	free(from_preinit);
	free(from_ctor);
	free(zeroed);
	return check_done("early");
}
