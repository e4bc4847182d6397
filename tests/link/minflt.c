/* minflt: for tests/link/startup.sh, the page faults a program takes.
 * Runs PROGRAM [ARG...] N times with LD_PRELOAD=PRELOAD (none when PRELOAD
 * is "-") and prints the median of the minor page faults each run took
 * (wait4's rusage: the whole process, the dynamic loader included).
 * Address-space randomisation is off for the runs where the kernel allows
 * it (personality ADDR_NO_RANDOMIZE, as setarch -R): with it, where the
 * break, the stack and the libraries land moves the count by one or two
 * from run to run; without it, the count is the same every run.
 *
 * usage: minflt N PRELOAD PROGRAM [ARG...] */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: minflt N PRELOAD PROGRAM [ARG...]\n");
		return 2;
	}
	int n = atoi(argv[1]);
	if (n < 1 || n > 1000)
		return 2;
	if (strcmp(argv[2], "-") != 0)
		setenv("LD_PRELOAD", argv[2], 1);
	else
		unsetenv("LD_PRELOAD");
	int pers = personality(0xffffffff);
	if (pers != -1)
		personality((unsigned long)pers | ADDR_NO_RANDOMIZE); /* inherited */
	long *flt = calloc((size_t)n, sizeof *flt);
	posix_spawn_file_actions_t fa;
	if (!flt || posix_spawn_file_actions_init(&fa) ||
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0))
		return 2;
	for (int i = 0; i < n; i++) {
		/* posix_spawn (vfork): the child takes no faults of its own
		 * before exec, so that the count is the program's. */
		pid_t pid;
		if (posix_spawn(&pid, argv[3], &fa, NULL, argv + 3, environ))
			return 2;
		int st;
		struct rusage ru;
		if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "minflt: %s failed\n", argv[3]);
			return 1;
		}
		flt[i] = ru.ru_minflt;
	}
	qsort(flt, (size_t)n, sizeof *flt, cmp);
	printf("%ld\n", flt[n / 2]);
	return 0;
}
