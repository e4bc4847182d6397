/*
 * startup: process start-up cost, what every process on a system pays for
 * its allocator.
 *
 * Executes startup_child (a trivial program making a few allocations) a few
 * hundred times in sequence, each time waiting for it to exit.  Run with an
 * allocator in LD_PRELOAD, every child loads and initialises that allocator:
 * mapping the library and its dependencies, relocations, reading its
 * configuration, reserving its first arenas or heaps, and the page faults
 * of touching all that.
 *
 * Stresses: allocator library size and dependencies, initialisation work
 * and initial memory reservation (which also shows in the peak RSS).
 *
 * usage: startup [execs=300] [child=<dir of this program>/startup_child]
 */
#include <limits.h>
#include <spawn.h>
#include <sys/wait.h>
#include "wl.h"

extern char **environ;

int main(int argc, char **argv)
{
	wl_usage(argc, argv, "[execs=300] [child=startup_child]");
	long execs = wl_arg(argc, argv, 1, 300);
	char child[PATH_MAX];
	if (argc > 2) {
		snprintf(child, sizeof(child), "%s", argv[2]);
	} else {
		ssize_t n = readlink("/proc/self/exe", child, sizeof(child) - 32);
		if (n < 0)
			wl_die("startup: readlink failed");
		child[n] = 0;
		char *slash = strrchr(child, '/');
		strcpy(slash ? slash + 1 : child, "startup_child");
	}
	char *cargv[] = {child, NULL};

	double t0 = wl_now();
	for (long i = 0; i < execs; i++) {
		pid_t pid;
		int st;
		if (posix_spawn(&pid, child, NULL, NULL, cargv, environ))
			wl_die("startup: cannot run %s", child);
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			wl_die("startup: %s failed", child);
	}
	double secs = wl_now() - t0;
	printf("startup: execs=%ld secs=%.3f us_per_exec=%.1f "
	       "execs_per_sec=%.1f\n",
	       execs, secs, secs / execs * 1e6, execs / secs);
	return 0;
}
