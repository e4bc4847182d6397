// The microbenchmark driver: registers every C workload of cases.c with
// Google Benchmark.  Two extra modes for the runner:
//   micro --list               prints the case names, one a line
//   micro --exact NAME OPS     runs case NAME for exactly OPS operations
//                              (after a warm-up) inside micro_measure(),
//                              for instruction counting under callgrind
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "micro.h"

static void run_case(benchmark::State &state, const micro_case *c)
{
	void *ctx = c->setup(c);
	while (state.KeepRunningBatch(c->batch))
		c->run(ctx, c->batch);
	c->teardown(ctx);
	state.SetItemsProcessed(state.iterations());
	state.SetLabel(c->op);
}

static std::string display_name(const micro_case *c)
{
	std::string name = c->name;
	if (c->threads > 1 || std::strncmp(c->name, "scale/", 6) == 0)
		name += "/threads:" + std::to_string(c->threads);
	return name;
}

static int exact(const char *name, unsigned long long ops)
{
	for (size_t i = 0; i < micro_ncases; i++) {
		const micro_case *c = &micro_cases[i];
		if (display_name(c) != name)
			continue;
		uint64_t n = (ops + c->batch - 1) / c->batch * c->batch;
		void *ctx = c->setup(c);
		c->run(ctx, c->batch * 4); // warm-up: caches, first-use setup
		micro_measure(c, ctx, n);
		c->teardown(ctx);
		std::printf("case=%s ops=%llu\n", name, (unsigned long long)n);
		return 0;
	}
	std::fprintf(stderr, "micro: no case named %s\n", name);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !std::strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < micro_ncases; i++)
			std::printf("%s\t%d\t%s\n",
				    display_name(&micro_cases[i]).c_str(),
				    micro_cases[i].exact, micro_cases[i].op);
		return 0;
	}
	if (argc == 4 && !std::strcmp(argv[1], "--exact"))
		return exact(argv[2], std::strtoull(argv[3], nullptr, 0));

	for (size_t i = 0; i < micro_ncases; i++) {
		const micro_case *c = &micro_cases[i];
		auto *b = benchmark::RegisterBenchmark(c->name, run_case, c);
		b->UseRealTime();
		if (c->threads > 1 || std::strncmp(c->name, "scale/", 6) == 0)
			b->Threads(c->threads);
	}
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
