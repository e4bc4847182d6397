/*
 * A fake platform layer for unit tests: arenas come from one pool reserved
 * at start, with a budget the test can lower to simulate running out of
 * memory; "purged" memory is zeroed by hand so tests can see it read as
 * zero; every call is counted.
 */
#include "fake_os.h"
#include "config.h"
#include "os.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <time.h>
#include <unistd.h>

#define POOL_ARENAS 16

struct fake_os fake_os = { .budget_arenas = POOL_ARENAS };
static char *pool;
static size_t pool_used;

static char *pool_base(void)
{
	if (!pool) {
		size_t span = (POOL_ARENAS + 1) * PCM_ARENA_SIZE;
		char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (raw == MAP_FAILED)
			abort();
		pool = (char *)(((uintptr_t)raw + PCM_ARENA_SIZE - 1) &
				~(PCM_ARENA_SIZE - 1));
	}
	return pool;
}

void *pcm_os_map_aligned(size_t size, size_t align)
{
	fake_os.maps++;
	if (size == PCM_ARENA_SIZE && align == PCM_ARENA_SIZE) {
		if (fake_os.arenas >= fake_os.budget_arenas)
			return NULL;
		char *a = pool_base() + pool_used;
		pool_used += PCM_ARENA_SIZE;
		fake_os.arenas++;
		return a;
	}
	/* Metadata chunks and huge mappings: real, but counted. */
	if (fake_os.fail_maps)
		return NULL;
	void *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t p = ((uintptr_t)raw + align - 1) & ~(align - 1);
	return (void *)p; /* the slack is leaked: tests are short */
}

void pcm_os_name(void *addr, size_t size, const char *name)
{
	(void)addr, (void)size, (void)name;
}

void pcm_os_names_off(void)
{
}

void pcm_os_unmap(void *addr, size_t size)
{
	fake_os.unmaps++;
	(void)addr, (void)size;
}

void *pcm_os_brk_grow(size_t size, size_t align)
{
	(void)size, (void)align;
	return NULL; /* the pool stands in for brk too */
}

void *pcm_os_map_guarded(size_t size, size_t align, size_t guard)
{
	(void)size, (void)align, (void)guard;
	return NULL; /* callers fall back to pcm_os_map_aligned */
}

int pcm_os_guard(void *addr, size_t size)
{
	(void)addr, (void)size;
	return -1; /* no guard gaps in the pool */
}

int pcm_os_remap_inplace(void *addr, size_t old_size, size_t new_size)
{
	(void)addr;
	return new_size <= old_size ? 0 : -1;
}

int pcm_os_remap_move(void *addr, size_t old_size, size_t new_size, void *dst)
{
	memcpy(dst, addr, old_size < new_size ? old_size : new_size);
	return 0;
}

int pcm_os_purge(void *addr, size_t size)
{
	fake_os.purges++;
	fake_os.purged_bytes += size;
	memset(addr, 0, size);
	return 0;
}

void pcm_os_hugepage(void *addr, size_t size, int on)
{
	(void)addr, (void)size;
	fake_os.hugepage_hints += on;
}

int pcm_os_thp_mode(void)
{
	return 1;
}

void pcm_os_futex_wait(uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void pcm_os_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

uint64_t pcm_os_now_ns(void)
{
	return fake_os.now_ns;
}

uint64_t pcm_os_random(void)
{
	return 0x9e3779b97f4a7c15ull;
}

void pcm_os_write(int fd, const char *buf, size_t len)
{
	if (write(fd, buf, len) < 0)
		return;
}

int pcm_os_dup_fd(int fd)
{
	return fd;
}

_Noreturn void pcm_os_abort(void)
{
	abort();
}

int pcm_os_getenv(const char *name, char *buf, size_t cap)
{
	(void)name, (void)buf, (void)cap;
	return 0;
}

void *pcm_os_next_symbol(const char *name)
{
	(void)name;
	return NULL;
}

void *pcm_os_rseq_area(unsigned *feature_size)
{
	(void)feature_size;
	return NULL;
}

unsigned pcm_os_possible_cpus(void)
{
	return 2;
}

int pcm_os_membarrier_register(void)
{
	return -1;
}

int pcm_os_membarrier_rseq(void)
{
	return -1;
}

int pcm_os_thread_start(void *(*fn)(void *), const char *name)
{
	(void)fn, (void)name;
	return -1; /* no background worker on the fake memory source */
}

void pcm_os_sleep_ns(uint64_t ns)
{
	(void)ns;
}

int pcm_os_brk_shrink(void *start, size_t size)
{
	(void)start, (void)size;
	return -1; /* the fake source has no break */
}

void *pcm_os_reserve_aligned(size_t size, size_t align)
{
	return pcm_os_map_aligned(size, align); /* the pool is read-write */
}

int pcm_os_commit(void *addr, size_t size)
{
	(void)addr, (void)size;
	fake_os.commits++;
	return 0;
}

int pcm_os_decommit(void *addr, size_t size)
{
	(void)addr, (void)size;
	return 0;
}

void pcm_os_collapse(void *addr, size_t size)
{
	(void)addr, (void)size;
	fake_os.collapses++;
}

/* The profiler's files and signals: nothing to do in unit tests. */
int pcm_os_create(const char *path)
{
	(void)path;
	return -1;
}

void pcm_os_close(int fd)
{
	(void)fd;
}

int pcm_os_copy_file(int fd, const char *path)
{
	(void)fd, (void)path;
	return -1;
}

int pcm_os_getpid(void)
{
	return (int)getpid();
}

int pcm_os_on_signal(int sig, void (*fn)(int))
{
	(void)sig, (void)fn;
	return -1;
}

int pcm_os_backtrace(void **pcs, int max)
{
	(void)pcs, (void)max;
	return 0;
}

uint64_t pcm_os_realtime_ns(void)
{
	return 0;
}

void pcm_os_futex_wait_shared(uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
	(void)word, (void)val, (void)timeout_ns;
}

void pcm_os_futex_wake_shared(uint32_t *word)
{
	(void)word;
}

void *pcm_os_map_shared_page(const char *name, size_t size, void *at, int *fd_out)
{
	(void)name, (void)size, (void)at, (void)fd_out;
	return NULL;
}

uint64_t pcm_os_fd_id(int fd)
{
	(void)fd;
	return 0;
}
