/* Linux platform layer.  See os.h. */

#include "os.h"
#include "config.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A fault-injection build (fault.h) makes the memory calls below fail on a
 * schedule, with the errno the kernel would give; no code otherwise. */
#ifdef PCM_FAULT_INJECT
#include "fault.h"
#define FAULT(kind, err, ret, call) (PCM_OS_FAIL(kind) ? (errno = (err), (ret)) : (call))
#define mmap(a, l, p, f, d, o) FAULT(PCM_FAULT_MMAP, ENOMEM, MAP_FAILED, mmap(a, l, p, f, d, o))
#define mremap(...) FAULT(PCM_FAULT_MREMAP, ENOMEM, MAP_FAILED, mremap(__VA_ARGS__))
#define madvise(a, l, adv) FAULT(PCM_FAULT_MADVISE, EAGAIN, -1, madvise(a, l, adv))
#define mprotect(a, l, p) FAULT(PCM_FAULT_MPROTECT, ENOMEM, -1, mprotect(a, l, p))
#define sbrk(n) FAULT(PCM_FAULT_BRK, ENOMEM, (void *)-1, sbrk(n))
#endif

static int addr_ok(void *p, size_t size)
{
	uintptr_t a = (uintptr_t)p;
	return a + size <= (1UL << PCM_VA_BITS) && a + size > a;
}

/* size bytes aligned to align: read-write and committed (rw), or reserved
 * without commitment (PROT_NONE, MAP_NORESERVE). */
static void *map_aligned(size_t size, size_t align, int rw)
{
	int prot = rw ? PROT_READ | PROT_WRITE : PROT_NONE;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (rw ? 0 : MAP_NORESERVE);
	if (align < PCM_PAGE_SIZE)
		align = PCM_PAGE_SIZE;
	size_t span = size + align - PCM_PAGE_SIZE;
	if (span < size)
		return NULL;
	if (span != size) {
		/* Address space may be short (ulimit -v): first ask for just
		 * `size` and, if the kernel's choice is not aligned, for the
		 * aligned places around it, before reserving the slack. */
		char *p = mmap(NULL, size, prot, flags, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		uintptr_t down = (uintptr_t)p & ~(align - 1);
		if (down == (uintptr_t)p && addr_ok(p, size))
			return p;
		munmap(p, size);
		uintptr_t cand[2] = {down, down + align};
		for (int i = 0; i < 2; i++) {
			if (!cand[i] || !addr_ok((void *)cand[i], size))
				continue;
			char *q = mmap((void *)cand[i], size, prot,
				       flags | MAP_FIXED_NOREPLACE, -1, 0);
			if (q == (char *)cand[i])
				return q;
			if (q != MAP_FAILED) /* an old kernel took it as a hint */
				munmap(q, size);
		}
	}
	/* Memory handed out read-write is committed as the kernel's
	 * overcommit policy sees fit (no MAP_NORESERVE: an absurd request
	 * fails here as it does under glibc); only the slack reserved to find
	 * an aligned start is reserved without commitment, and given back at
	 * once. */
	char *raw = mmap(NULL, span, span == size ? prot : PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | (span == size && rw ? 0 : MAP_NORESERVE),
			 -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t start = ((uintptr_t)raw + align - 1) & ~(align - 1);
	if (span != size && rw &&
	    mmap((void *)start, size, prot, flags | MAP_FIXED, -1, 0) == MAP_FAILED) {
		munmap(raw, span);
		return NULL;
	}
	size_t head = start - (uintptr_t)raw;
	size_t tail = span - head - size;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap((char *)start + size, tail);
	if (!addr_ok((void *)start, size)) {
		munmap((void *)start, size);
		return NULL;
	}
	return (void *)start;
}

void *pcm_os_map_aligned(size_t size, size_t align)
{
	return map_aligned(size, align, 1);
}

void *pcm_os_reserve_aligned(size_t size, size_t align)
{
	return map_aligned(size, align, 0);
}

int pcm_os_commit(void *addr, size_t size)
{
	return mprotect(addr, size, PROT_READ | PROT_WRITE);
}

int pcm_os_decommit(void *addr, size_t size)
{
	/* No pages to discard: they were never touched. */
	return mprotect(addr, size, PROT_NONE);
}

void pcm_os_unmap(void *addr, size_t size)
{
	munmap(addr, size);
}

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

/* 0 unknown, 1 works, -1 refused once (the kernel lacks
 * CONFIG_ANON_VMA_NAME, or naming is off): never tried again. */
static int names_state;

void pcm_os_name(void *addr, size_t size, const char *name)
{
#ifndef PCM_NAMES_ALWAYS_TRY /* (to count, under strace, the calls a kernel
				that names would get) */
	if (__atomic_load_n(&names_state, __ATOMIC_RELAXED) < 0)
		return;
#endif
	int saved = errno;
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr, size,
		  (unsigned long)name) == 0)
		__atomic_store_n(&names_state, 1, __ATOMIC_RELAXED);
	else if (errno == EINVAL && !__atomic_load_n(&names_state, __ATOMIC_RELAXED))
		__atomic_store_n(&names_state, -1, __ATOMIC_RELAXED);
	errno = saved;
}

void pcm_os_names_off(void)
{
	__atomic_store_n(&names_state, -1, __ATOMIC_RELAXED);
}

void *pcm_os_brk_grow(size_t size, size_t align)
{
	/* sbrk (not the raw syscall) so that libc's idea of the break stays
	 * right for a program that calls sbrk itself. */
	void *cur = sbrk(0);
	if (cur == (void *)-1)
		return NULL;
	uintptr_t start = ((uintptr_t)cur + align - 1) & ~(align - 1);
	size_t grow = start - (uintptr_t)cur + size;
	if (grow < size || (intptr_t)grow < 0)
		return NULL;
	void *got = sbrk((intptr_t)grow);
	if (got == (void *)-1)
		return NULL;
	if (got != cur) {
		/* Someone moved the break between our two calls: give back. */
		sbrk(-(intptr_t)grow);
		return NULL;
	}
	if (!addr_ok((void *)start, size)) {
		sbrk(-(intptr_t)grow);
		return NULL;
	}
	/* The slack below the aligned start is never used: its pages go
	 * back, so that it takes no address space (ulimit -v). */
	uintptr_t slack = ((uintptr_t)cur + PCM_PAGE_SIZE - 1) & ~(PCM_PAGE_SIZE - 1);
	if (start > slack)
		munmap((void *)slack, start - slack);
	return (void *)start;
}

int pcm_os_brk_shrink(void *start, size_t size)
{
	if (sbrk(0) != (char *)start + size)
		return -1;
	return sbrk(-(intptr_t)size) == (void *)-1 ? -1 : 0;
}

void *pcm_os_map_guarded(size_t size, size_t align, size_t guard)
{
	if (align < PCM_PAGE_SIZE)
		align = PCM_PAGE_SIZE;
	size_t span = size + align - PCM_PAGE_SIZE + 2 * guard;
	if (span < size)
		return NULL;
	char *raw = mmap(NULL, span, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t start = ((uintptr_t)raw + guard + align - 1) & ~(align - 1);
	/* The block itself is committed as the overcommit policy sees fit;
	 * the gaps stay reserved without commitment. */
	if (!addr_ok((void *)start, size + guard) ||
	    mmap((void *)start, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		munmap(raw, span);
		return NULL;
	}
	size_t head = start - guard - (uintptr_t)raw;
	size_t tail = span - head - 2 * guard - size;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap((char *)start + size + guard, tail);
	return (void *)start;
}

int pcm_os_guard(void *addr, size_t size)
{
	if (!addr || !addr_ok(addr, size))
		return -1;
	void *p = mmap(addr, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (p == addr)
		return 0;
	if (p != MAP_FAILED) /* an old kernel took it as a hint */
		munmap(p, size);
	return -1;
}

int pcm_os_remap_inplace(void *addr, size_t old_size, size_t new_size)
{
	return mremap(addr, old_size, new_size, 0) == MAP_FAILED ? -1 : 0;
}

int pcm_os_remap_move(void *addr, size_t old_size, size_t new_size, void *dst)
{
	void *p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	return p == MAP_FAILED ? -1 : 0;
}

int pcm_os_purge(void *addr, size_t size)
{
	return madvise(addr, size, MADV_DONTNEED);
}

void pcm_os_hugepage(void *addr, size_t size, int on)
{
	madvise(addr, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

void pcm_os_collapse(void *addr, size_t size)
{
	madvise(addr, size, 25 /* MADV_COLLAPSE */);
}

/* Reads a small file (sysfs) into buf, NUL-terminated: its length, or -1.
 * System calls, not open/read/close: those are cancellation points, and
 * this runs inside malloc_stats(), which must not be one. */
static ssize_t read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = syscall(SYS_read, fd, buf, cap - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return n;
}

int pcm_os_thp_mode(void)
{
	char buf[128];
	if (read_small_file("/sys/kernel/mm/transparent_hugepage/enabled", buf,
			    sizeof buf) < 0)
		return 0;
	if (strstr(buf, "[always]"))
		return 2;
	if (strstr(buf, "[madvise]"))
		return 1;
	return 0;
}

void pcm_os_futex_wait(uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void pcm_os_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void pcm_os_futex_wait_shared(uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000ull),
			      (long)(timeout_ns % 1000000000ull)};
	syscall(SYS_futex, word, FUTEX_WAIT, val, timeout_ns ? &ts : NULL, NULL, 0);
}

void pcm_os_futex_wake_shared(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

void *pcm_os_map_shared_page(const char *name, size_t size, void *at, int *fd_out)
{
	int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return NULL;
	}
	void *p = mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0),
		       fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	/* Out of the way of the program's own descriptor numbers. */
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	*fd_out = fd;
	return p;
}

uint64_t pcm_os_fd_id(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return 0;
	return (uint64_t)st.st_ino ^ ((uint64_t)st.st_dev << 40);
}


uint64_t pcm_os_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t pcm_os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t pcm_os_random(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v) {
		/* AT_RANDOM: 16 bytes the kernel put on the initial stack. */
		const uint64_t *r = (const uint64_t *)getauxval(AT_RANDOM);
		v = r ? r[0] ^ r[1] : 0;
		v ^= (uint64_t)(uintptr_t)&v * 0x9e3779b97f4a7c15ull;
		v ^= pcm_os_now_ns();
	}
	return v;
}

void pcm_os_write(int fd, const char *buf, size_t len)
{
	while (len) {
		/* The system call itself, not write(): that is a cancellation
		 * point, and malloc_stats() (like glibc's) must not be one: a
		 * thread cancelled there would lose the report, or unwind with
		 * a lock held. */
		ssize_t n = syscall(SYS_write, fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

int pcm_os_dup_fd(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	return d < 0 ? fd : d;
}

_Noreturn void pcm_os_abort(void)
{
	abort();
}

static int copy_value(const char *v, char *buf, size_t cap)
{
	size_t i = 0;
	for (; v[i] && i + 1 < cap; i++)
		buf[i] = v[i];
	buf[i] = 0;
	return 1;
}

int pcm_os_getenv(const char *name, char *buf, size_t cap)
{
	size_t nlen = strlen(name);
	if (environ) {
		for (char **e = environ; *e; e++)
			if ((*e)[0] == name[0] && !strncmp(*e, name, nlen) && (*e)[nlen] == '=')
				return copy_value(*e + nlen + 1, buf, cap);
		return 0;
	}
	/* Too early for environ: stream /proc/self/environ. */
	int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char chunk[512];
	size_t matched = 0, out = 0; /* bytes of "name=" matched, value length */
	int in_value = 0, at_start = 1, found = 0;
	ssize_t n;
	while (!found && (n = read(fd, chunk, sizeof chunk)) > 0) {
		for (ssize_t i = 0; i < n && !found; i++) {
			char c = chunk[i];
			if (in_value) {
				if (c == 0)
					found = 1;
				else if (out + 1 < cap)
					buf[out++] = c;
			} else if (c == 0) {
				at_start = 1, matched = 0;
			} else if (at_start && matched < nlen && c == name[matched]) {
				matched++;
			} else if (at_start && matched == nlen && c == '=') {
				in_value = 1;
			} else {
				at_start = 0;
			}
		}
	}
	close(fd);
	if (in_value) {
		buf[out] = 0;
		return 1;
	}
	return 0;
}

void *pcm_os_next_symbol(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif

void *pcm_os_rseq_area(unsigned *feature_size)
{
#ifdef RSEQ_SIG
	if (__rseq_size == 0)
		return NULL;
	unsigned long fs = getauxval(27 /* AT_RSEQ_FEATURE_SIZE */);
	*feature_size = fs ? (unsigned)fs : __rseq_size;
	return (char *)__builtin_thread_pointer() + __rseq_offset;
#else
	(void)feature_size;
	return NULL;
#endif
}

unsigned pcm_os_possible_cpus(void)
{
	/* "0-N" (or a list of ranges): the largest number plus one. */
	char buf[256];
	ssize_t n = read_small_file("/sys/devices/system/cpu/possible", buf, sizeof buf);
	if (n < 0)
		return 1024;
	unsigned max = 0, cur = 0;
	for (ssize_t i = 0; i <= n; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			cur = cur * 10 + (unsigned)(buf[i] - '0');
		} else {
			if (cur > max)
				max = cur;
			cur = 0;
		}
	}
	return max + 1;
}

#ifndef MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ (1 << 7)
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ (1 << 8)
#endif

int pcm_os_membarrier_register(void)
{
	return (int)syscall(SYS_membarrier,
			    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
}

int pcm_os_membarrier_rseq(void)
{
	return (int)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
			    0, 0);
}

int pcm_os_thread_start(void *(*fn)(void *), const char *name)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	if (pthread_attr_init(&attr))
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the thread */
	int rc = pthread_create(&t, &attr, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		pthread_setname_np(t, name);
	return rc ? -1 : 0;
}

void pcm_os_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int pcm_os_create(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

void pcm_os_close(int fd)
{
	close(fd);
}

int pcm_os_copy_file(int fd, const char *path)
{
	char buf[4096];
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		pcm_os_write(fd, buf, (size_t)n);
	}
	close(in);
	return n == 0 ? 0 : -1;
}

int pcm_os_getpid(void)
{
	return (int)getpid();
}

int pcm_os_on_signal(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int pcm_os_backtrace(void **pcs, int max)
{
	return backtrace(pcs, max);
}
