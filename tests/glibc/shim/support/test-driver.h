#ifndef PCM_GLIBC_SHIM_TEST_DRIVER_H
#define PCM_GLIBC_SHIM_TEST_DRIVER_H
#define EXIT_UNSUPPORTED 77
#define DEFAULT_TIMEOUT 20
int support_test_main(int argc, char **argv, int (*fn)(void), int timeout);
#endif
