/*
 * The microbenchmark workloads: plain C functions, one table.
 *
 * Each case is a set of C functions: setup() makes a per-thread context,
 * run(ctx, n) performs exactly n operations (n is always a multiple of the
 * case's batch), teardown() releases the context.  driver.cc registers every
 * case with Google Benchmark, and also runs a case a fixed number of times
 * for instruction counting under callgrind (see micro_measure()).
 */
#ifndef PCM_BENCH_MICRO_H
#define PCM_BENCH_MICRO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct micro_case {
	const char *name;
	void *(*setup)(const struct micro_case *c);
	void (*run)(void *ctx, uint64_t n);
	void (*teardown)(void *ctx);
	size_t size;       /* block size (or size limit) */
	size_t param;      /* alignment, batch length, ... */
	uint64_t batch;    /* run() gets multiples of this */
	int threads;       /* benchmark threads (1 for the single ones) */
	int exact;         /* part of the instruction-count mode */
	const char *op;    /* what one operation is, for the reports */
};

extern const struct micro_case micro_cases[];
extern const size_t micro_ncases;

/* Runs n operations of a case; never inlined, so that callgrind can count
 * exactly the instructions executed inside it (--toggle-collect). */
void micro_measure(const struct micro_case *c, void *ctx, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif
