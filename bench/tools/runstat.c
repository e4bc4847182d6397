/*
 * runstat: runs one command and records what /usr/bin/time would, more
 * precisely: wall-clock time, user and system CPU time and peak RSS, from
 * wait4(), into a file.
 *
 * usage: runstat -o FILE [-p PRELOAD] -- PROGRAM [ARG...]
 *
 * The runner starts every measured program through this small launcher
 * rather than directly: Linux carries a process's peak RSS across exec, so
 * a child forked from the (large) Python runner would report the runner's
 * RSS as its own peak.  Forked from this launcher, a child starts from well
 * under a MiB.  The LD_PRELOAD of -p is set for the child only, so the
 * launcher itself never runs on the allocator under test.
 *
 * FILE gets one line:
 *   status=N elapsed=S user=S sys=S maxrss_kib=K
 * (status is the exit code, or 128 + the signal number).  runstat exits
 * with the same status.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *preload = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+o:p:")) != -1) {
		if (opt == 'o')
			out = optarg;
		else if (opt == 'p')
			preload = optarg;
		else
			goto usage;
	}
	if (!out || optind >= argc)
		goto usage;

	/* the child's environment: ours, with LD_PRELOAD replaced */
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		return 127;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			env[k++] = environ[i];
	char *pre = NULL;
	if (preload && *preload) {
		pre = malloc(strlen(preload) + 12);
		if (!pre)
			return 127;
		strcpy(pre, "LD_PRELOAD=");
		strcat(pre, preload);
		env[k++] = pre;
	}
	env[k] = NULL;

	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 127;
	}
	if (pid == 0) {
		execvpe(argv[optind], argv + optind, env);
		fprintf(stderr, "runstat: cannot run %s\n", argv[optind]);
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("runstat: wait4");
		return 127;
	}
	double elapsed = now() - t0;
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	FILE *f = fopen(out, "w");
	if (!f) {
		perror("runstat: result file");
		return 127;
	}
	fprintf(f, "status=%d elapsed=%.6f user=%.6f sys=%.6f maxrss_kib=%ld\n",
		status, elapsed, tv(ru.ru_utime), tv(ru.ru_stime), ru.ru_maxrss);
	fclose(f);
	free(pre);
	free(env);
	return status;
usage:
	fprintf(stderr, "usage: runstat -o FILE [-p PRELOAD] -- PROGRAM [ARG...]\n");
	return 127;
}
