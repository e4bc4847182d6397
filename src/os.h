/*
 * The platform layer: every system call pcmalloc makes goes through here
 * (mmap, munmap, mremap, madvise, brk, futex, getenv, rseq, ...), so the
 * layers above are plain C over memory, and the unit tests can replace this
 * file with a fake memory source.
 *
 * None of these functions allocates or touches stdio.  They may set errno;
 * callers that must preserve it save it themselves.
 */
#ifndef PCM_OS_H
#define PCM_OS_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

PCM_BEGIN_DECLS

/* Anonymous read-write memory aligned to `align` (a power of two >= page
 * size), or NULL.  Addresses beyond PCM_VA_BITS are refused. */
void *pcm_os_map_aligned(size_t size, size_t align);
/* The same, reserved without commitment: PROT_NONE, until committed. */
void *pcm_os_reserve_aligned(size_t size, size_t align);
/* Makes reserved pages read-write (committed): 0 on success; fails when
 * the commit limit (overcommit 2) or RLIMIT_DATA says no. */
int pcm_os_commit(void *addr, size_t size);
/* Makes fresh pages (never touched: new from brk) inaccessible, as reserved
 * ones: 0 on success. */
int pcm_os_decommit(void *addr, size_t size);
void pcm_os_unmap(void *addr, size_t size);
/* Names an anonymous mapping in /proc/PID/maps ("[anon:NAME]"), once, when
 * it is reserved (names survive splits by mprotect/madvise and moves by
 * mremap).  Silently nothing where the kernel lacks it (tried once). */
void pcm_os_name(void *addr, size_t size, const char *name);
/* Never names again (vma_names:0). */
void pcm_os_names_off(void);

/* Grows the program break so that [ret, ret + size) is new memory aligned
 * to `align`; NULL when the break cannot move (or brk is disabled). */
void *pcm_os_brk_grow(size_t size, size_t align);
/* Moves the break back from start + size to start if it is there now:
 * 0 on success. */
int pcm_os_brk_shrink(void *start, size_t size);

/* size bytes aligned to align, read-write, between two inaccessible gaps
 * of `guard` bytes (page multiple) that are part of the same reservation:
 * free all three with pcm_os_unmap.  NULL on failure. */
void *pcm_os_map_guarded(size_t size, size_t align, size_t guard);
/* Reserves [addr, addr+size) inaccessible (a guard gap) if nothing is
 * mapped there: 0 when placed, -1 (nothing changed) otherwise. */
int pcm_os_guard(void *addr, size_t size);

/* Resizes a mapping in place: 0 on success. */
int pcm_os_remap_inplace(void *addr, size_t old_size, size_t new_size);
/* Moves a mapping onto dst (a mapping of new_size bytes, which it replaces):
 * 0 on success; on failure the old mapping is intact. */
int pcm_os_remap_move(void *addr, size_t old_size, size_t new_size, void *dst);

/* Gives the pages back: their contents read as zero afterwards. */
int pcm_os_purge(void *addr, size_t size);

/* THP hint: 1 = MADV_HUGEPAGE, 0 = MADV_NOHUGEPAGE. */
void pcm_os_hugepage(void *addr, size_t size, int on);
/* Collapses the range into huge pages now (MADV_COLLAPSE, Linux 6.1+);
 * silently nothing where the kernel lacks it. */
void pcm_os_collapse(void *addr, size_t size);

/* System THP mode: 0 never, 1 madvise, 2 always (from sysfs: three system
 * calls, so callers ask only when it matters, see pcm_conf_sys_thp). */
int pcm_os_thp_mode(void);

/* Futex wait while *word == val; wake one waiter. */
void pcm_os_futex_wait(uint32_t *word, uint32_t val);
void pcm_os_futex_wake(uint32_t *word);
/* The same on a word that other processes may share (MAP_SHARED): wait
 * at most timeout_ns (0: no limit). */
void pcm_os_futex_wait_shared(uint32_t *word, uint32_t val, uint64_t timeout_ns);
void pcm_os_futex_wake_shared(uint32_t *word);

/* A shared memory object (memfd `name`, close-on-exec, its descriptor moved
 * to 100 or above) of size bytes, mapped shared read-write, at `at` if not
 * NULL (replacing what is there); NULL on failure.  Its descriptor goes to
 * *fd_out: other processes of the user open it as /proc/PID/fd/N. */
void *pcm_os_map_shared_page(const char *name, size_t size, void *at, int *fd_out);
/* What file fd is now (inode and device), 0 if none: to tell whether a
 * descriptor is still ours before closing it. */
uint64_t pcm_os_fd_id(int fd);

uint64_t pcm_os_realtime_ns(void); /* CLOCK_REALTIME */
uint64_t pcm_os_now_ns(void); /* CLOCK_MONOTONIC_COARSE */
uint64_t pcm_os_random(void);
void pcm_os_write(int fd, const char *buf, size_t len);
/* A private close-on-exec duplicate of fd (programs may close stderr at exit
 * before the report is printed), or fd itself if that fails. */
int pcm_os_dup_fd(int fd);
_Noreturn void pcm_os_abort(void);

/* Copies the value of environment variable `name` into buf (NUL-terminated,
 * truncated to cap-1); returns 1 if it is set.  Works before libc has set up
 * `environ` (reads /proc/self/environ then). */
int pcm_os_getenv(const char *name, char *buf, size_t cap);

/* The next definition of a libc symbol after pcmalloc's own (the allocator
 * that would have served the program without us), or NULL. */
void *pcm_os_next_symbol(const char *name);

/* Address and size of glibc's rseq area for this thread, and the feature
 * size the kernel fills; NULL when rseq is not registered. */
void *pcm_os_rseq_area(unsigned *feature_size);

/* Number of possible CPUs (an upper bound of cpu_id and mm_cid). */
unsigned pcm_os_possible_cpus(void);

/* membarrier: register for expedited rseq fences (0 on success), and fence:
 * restart every rseq critical section running in this process. */
int pcm_os_membarrier_register(void);
int pcm_os_membarrier_rseq(void);

/* Starts a detached thread running fn with every signal blocked and a
 * small stack, named `name` (at most 15 characters): 0 on success. */
int pcm_os_thread_start(void *(*fn)(void *), const char *name);
void pcm_os_sleep_ns(uint64_t ns);

/* Files and signals for the heap profiler's dumps (prof.c). */
/* Creates or truncates `path` for writing (0644): the fd, or -1. */
int pcm_os_create(const char *path);
void pcm_os_close(int fd);
/* Copies the file at `path` (e.g. /proc/self/maps) to fd: 0, or -1. */
int pcm_os_copy_file(int fd, const char *path);
int pcm_os_getpid(void);
/* Installs fn as the handler of signal sig (SA_RESTART): 0, or -1. */
int pcm_os_on_signal(int sig, void (*fn)(int));
/* glibc's backtrace(3): return addresses of the calling stack, innermost
 * first.  Its first call loads libgcc_s (and allocates); after that it
 * unwinds with the DWARF tables without allocating. */
int pcm_os_backtrace(void **pcs, int max);

PCM_END_DECLS

#endif
