/* The functions of the support shim (tests/glibc/shim/support/*.h). */
#include "support/check.h"
#include "support/support.h"
#include "support/test-driver.h"
#include "support/xthread.h"
#include "support/xunistd.h"
#include "support/xsignal.h"
#include "support/temp_file.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int support_failures;
void support_record_failure(void) { __atomic_fetch_add(&support_failures, 1, __ATOMIC_RELAXED); }
static void *nn(void *p, const char *w) { if (!p) FAIL_EXIT1("%s failed", w); return p; }
void *xmalloc(size_t n) { return nn(malloc(n), "malloc"); }
void *xcalloc(size_t a, size_t b) { return nn(calloc(a, b), "calloc"); }
void *xrealloc(void *p, size_t n) { return nn(realloc(p, n), "realloc"); }
char *xstrdup(const char *s) { return nn(strdup(s), "strdup"); }
void *support_shared_allocate(size_t n) { return xmmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1); }
void support_shared_free(void *p) { (void)p; }
void *xmmap(void *a, size_t l, int p, int f, int fd) { void *r = mmap(a, l, p, f, fd, 0); if (r == MAP_FAILED) FAIL_EXIT1("mmap: %m"); return r; }
void xmunmap(void *a, size_t l) { if (munmap(a, l)) FAIL_EXIT1("munmap: %m"); }
int xopen(const char *p, int f, mode_t m) { int fd = open(p, f, m); if (fd < 0) FAIL_EXIT1("open %s: %m", p); return fd; }
void xclose(int fd) { if (close(fd)) FAIL_EXIT1("close: %m"); }
pid_t xfork(void) { pid_t p = fork(); if (p < 0) FAIL_EXIT1("fork: %m"); return p; }
pid_t xwaitpid(pid_t p, int *st, int o) { pid_t r = waitpid(p, st, o); if (r < 0) FAIL_EXIT1("waitpid: %m"); return r; }
void xpipe(int f[2]) { if (pipe(f)) FAIL_EXIT1("pipe: %m"); }
sighandler_t xsignal(int s, sighandler_t h) { sighandler_t r = signal(s, h); if (r == SIG_ERR) FAIL_EXIT1("signal: %m"); return r; }
static int ck(int e, const char *w) { if (e) { errno = e; FAIL_EXIT1("%s: %m", w); } return e; }
pthread_t xpthread_create(pthread_attr_t *a, void *(*f)(void *), void *arg) { pthread_t t; ck(pthread_create(&t, a, f, arg), "pthread_create"); return t; }
void *xpthread_join(pthread_t t) { void *r; ck(pthread_join(t, &r), "pthread_join"); return r; }
void xpthread_barrier_init(pthread_barrier_t *b, pthread_barrierattr_t *a, unsigned n) { ck(pthread_barrier_init(b, a, n), "barrier_init"); }
int xpthread_barrier_wait(pthread_barrier_t *b) { int r = pthread_barrier_wait(b); if (r && r != PTHREAD_BARRIER_SERIAL_THREAD) ck(r, "barrier_wait"); return r == PTHREAD_BARRIER_SERIAL_THREAD; }
void xpthread_barrier_destroy(pthread_barrier_t *b) { ck(pthread_barrier_destroy(b), "barrier_destroy"); }
void xpthread_barrierattr_init(pthread_barrierattr_t *a) { ck(pthread_barrierattr_init(a), "barrierattr_init"); }
void xpthread_barrierattr_setpshared(pthread_barrierattr_t *a, int s) { ck(pthread_barrierattr_setpshared(a, s), "setpshared"); }
void xpthread_barrierattr_destroy(pthread_barrierattr_t *a) { ck(pthread_barrierattr_destroy(a), "barrierattr_destroy"); }
void xpthread_kill(pthread_t t, int s) { ck(pthread_kill(t, s), "pthread_kill"); }
void xpthread_mutex_lock(pthread_mutex_t *m) { ck(pthread_mutex_lock(m), "mutex_lock"); }
void xpthread_mutex_unlock(pthread_mutex_t *m) { ck(pthread_mutex_unlock(m), "mutex_unlock"); }
int create_temp_file(const char *base, char **filename)
{
	char *name;
	if (asprintf(&name, "/tmp/%sXXXXXX", base) < 0) FAIL_EXIT1("asprintf");
	int fd = mkstemp(name);
	if (fd < 0) FAIL_EXIT1("mkstemp: %m");
	add_temp_file(name);
	if (filename) *filename = xstrdup(name);
	return fd;
}
/* Temporary files are removed at exit (by the process that made them). */
static char *temp_names[64];
static int temp_count;
static pid_t temp_owner;
static void remove_temp_files(void)
{
	if (getpid() != temp_owner) return;
	for (int i = 0; i < temp_count; i++) unlink(temp_names[i]);
}
void add_temp_file(const char *n)
{
	if (temp_count == 0) { temp_owner = getpid(); atexit(remove_temp_files); }
	if (temp_count < 64) temp_names[temp_count++] = xstrdup(n);
}
void write_message(const char *m) { ssize_t r = write(2, m, strlen(m)); (void)r; }

int support_test_main(int argc, char **argv, int (*fn)(void), int timeout)
{
	(void)argc; (void)argv;
	const char *f = getenv("TIMEOUTFACTOR");
	alarm((unsigned)timeout * (unsigned)(f ? atoi(f) : 1));
	int r = fn();
	fflush(stdout);
	if (r == 0 && support_failures)
		r = 1;
	return r;
}
