/* Helpers for unit tests: run a function in a child and expect it to abort
 * with a message containing a given text. */
#ifndef PCM_UNIT_H
#define PCM_UNIT_H
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 1 if fn(arg) in a child dies by SIGABRT having written `needle` to stderr. */
static inline int expect_abort(void (*fn)(void *), void *arg, const char *needle)
{
	int fds[2];
	if (pipe(fds))
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	int ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		 strstr(buf, needle) != NULL;
	if (!ok)
		fprintf(stderr, "expect_abort(%s): status %d, stderr: %s\n", needle,
			status, buf);
	return ok;
}

/* xorshift64*: deterministic test randomness */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}
#endif
