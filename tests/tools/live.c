/* A live process for tests/link/pcmstat.sh, linked with libpcmalloc.a:
 * holds 24 MiB of small objects (so that a background worker runs), a
 * large and a huge block, forks a child that holds 6 MiB more, prints
 * "ready PID CHILD" and then, without allocating, obeys one-line commands
 * on stdin: "dump PATH" writes pcmalloc_stats_print_json to PATH, "exit"
 * kills the child and exits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pcmalloc.h>

static void hold(size_t bytes, size_t each)
{
	for (size_t done = 0; done < bytes; done += each) {
		char *p = malloc(each);
		if (!p)
			exit(2);
		memset(p, 7, each);
	}
}

int main(void)
{
	hold(24u << 20, 700);
	memset(malloc(3u << 20), 1, 3u << 20);
	memset(malloc(9u << 20), 1, 9u << 20);
	pid_t child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		hold(6u << 20, 300);
		for (;;)
			pause();
	}
	char line[512];
	int n = snprintf(line, sizeof line, "ready %d %d\n", (int)getpid(), (int)child);
	if (write(1, line, (size_t)n) != n)
		return 2;
	size_t len = 0;
	for (;;) {
		ssize_t r = read(0, line + len, sizeof line - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		line[len] = 0;
		char *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!strncmp(line, "dump ", 5)) {
				int fd = open(line + 5, O_WRONLY | O_CREAT | O_TRUNC, 0644);
				if (fd < 0)
					return 2;
				pcmalloc_stats_print_json(fd);
				close(fd);
				if (write(1, "dumped\n", 7) != 7)
					return 2;
			} else if (!strcmp(line, "exit")) {
				kill(child, SIGKILL);
				waitpid(child, NULL, 0);
				return 0;
			}
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
	}
	kill(child, SIGKILL);
	return 0;
}
