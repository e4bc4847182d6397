/* A small stand-in for glibc's support/check.h, for running glibc's malloc
 * tests (tests/glibc/run.sh) outside glibc's build tree. */
#ifndef PCM_GLIBC_SHIM_CHECK_H
#define PCM_GLIBC_SHIM_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern int support_failures;
void support_record_failure(void);
#define FAIL_EXIT(st, ...) do { printf("error: %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); putchar('\n'); fflush(stdout); exit(st); } while (0)
#define FAIL_EXIT1(...) FAIL_EXIT(1, __VA_ARGS__)
#define FAIL_RET(...) do { printf("error: %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); putchar('\n'); return 1; } while (0)
#define FAIL_UNSUPPORTED(...) FAIL_EXIT(77, __VA_ARGS__)
#define FAIL(...) do { support_record_failure(); printf("error: %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); putchar('\n'); } while (0)
#define TEST_VERIFY(e) do { if (!(e)) { support_record_failure(); printf("error: %s:%d: not true: %s\n", __FILE__, __LINE__, #e); } } while (0)
#define TEST_VERIFY_EXIT(e) do { if (!(e)) { printf("error: %s:%d: not true: %s\n", __FILE__, __LINE__, #e); fflush(stdout); exit(1); } } while (0)
#define TEST_COMPARE(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { support_record_failure(); printf("error: %s:%d: %s (%lld) != %s (%lld)\n", __FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#endif
