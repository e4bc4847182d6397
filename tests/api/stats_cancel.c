/* stats_cancel: malloc_stats() is not a cancellation point (glibc's
 * malloc/tst-malloc-stats-cancellation, as an API test).
 * A thread with a cancellation request pending calls malloc_stats(), then
 * fputs() to stderr, which is a cancellation point.  fd 2 is a pipe read
 * by another thread.  The whole report must come through (glibc's lines to
 * "max mmap bytes", and, under pcmalloc, its own report to its last line),
 * and not the text of the fputs; the thread must have been cancelled.
 * pcmalloc wrote its report with write(2), a cancellation point: the thread
 * was cancelled inside malloc_stats (possibly with a lock held), the report
 * cut short.
 */
#include "pcm_test.h"

static int pipe_rd;

static void *reader(void *arg)
{
	(void)arg;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	REQUIRE(buf);
	ssize_t n;
	while ((n = read(pipe_rd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			buf = realloc(buf, cap *= 2);
			REQUIRE(buf);
		}
	}
	buf[len] = 0;
	return buf;
}

static void *victim(void *gate)
{
	pthread_barrier_wait(gate); /* not a cancellation point */
	malloc_stats();
	fputs("this call should trigger cancellation\n", stderr);
	return NULL;
}

int main(void)
{
	pcm_test_begin("stats_cancel");
	int real = dup(2), p[2];
	REQUIRE(real >= 0 && pipe(p) == 0);
	FILE *err = fdopen(real, "w");
	REQUIRE(err);
	REQUIRE(dup2(p[1], 2) == 2);
	close(p[1]);
	pipe_rd = p[0];
	pthread_t rd, v;
	pthread_barrier_t gate;
	REQUIRE(pthread_create(&rd, NULL, reader, NULL) == 0);
	REQUIRE(pthread_barrier_init(&gate, NULL, 2) == 0);
	REQUIRE(pthread_create(&v, NULL, victim, &gate) == 0);
	REQUIRE(pthread_cancel(v) == 0);
	pthread_barrier_wait(&gate);
	void *rv;
	REQUIRE(pthread_join(v, &rv) == 0);
	dup2(real, 2); /* closes the pipe's last writer */
	char *out;
	REQUIRE(pthread_join(rd, (void **)&out) == 0);
	int bad = 0;
	if (rv != PTHREAD_CANCELED)
		bad++, fprintf(err, "stats_cancel: the thread was not cancelled\n");
	if (!strstr(out, "max mmap bytes"))
		bad++, fprintf(err, "stats_cancel: malloc_stats output cut short:\n%s\n", out);
	if (strstr(out, "this call should trigger cancellation"))
		bad++, fprintf(err, "stats_cancel: fputs after malloc_stats was not cancelled\n");
	if (pcm_active() && !strstr(out, "pcmalloc statistics"))
		bad++, fprintf(err, "stats_cancel: pcmalloc's report missing:\n%s\n", out);
	if (bad)
		check_failures += bad;
	free(out);
	fflush(err);
	return pcm_done("stats_cancel");
}
