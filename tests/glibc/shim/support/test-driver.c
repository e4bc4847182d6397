/* Stand-in for glibc's support/test-driver.c: main() runs the test
 * function with a watchdog (TIMEOUT, default 20 s, times TIMEOUTFACTOR). */
#include "test-driver.h"
#ifndef TIMEOUT
#define TIMEOUT DEFAULT_TIMEOUT
#endif
#ifdef TEST_FUNCTION
static int pcm_shim_test(void) { return TEST_FUNCTION; }
#else
static int do_test(void);
static int pcm_shim_test(void) { return do_test(); }
#endif
int main(int argc, char **argv)
{
#ifdef PREPARE
	PREPARE(argc, argv);
#endif
	return support_test_main(argc, argv, pcm_shim_test, TIMEOUT);
}
