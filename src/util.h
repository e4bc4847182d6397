/* Small helpers shared by every layer: branch hints, attributes, bit math. */
#ifndef PCM_UTIL_H
#define PCM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define PCM_NOINLINE __attribute__((noinline))
#define PCM_INLINE static inline __attribute__((always_inline))
#define PCM_TLS __attribute__((tls_model("initial-exec")))
#define PCM_EXPORT __attribute__((visibility("default")))
#define PCM_COLD __attribute__((cold, noinline))
/* Globals that every process's start-up and first allocations write (or
 * read): kept together in .data.  The dynamic loader writes .data's page
 * anyway (it clears the rest of the page, where .bss starts), so they cost
 * a process no page faults of their own, where scattered over .bss each
 * took a fault (two when read before written).  Keep .data within one page
 * (tests/link/startup.sh counts the faults). */
#define PCM_HOT __attribute__((section(".data.pcm_hot")))

/* Internal headers wrap their declarations in these: hidden symbols are
 * reached directly, not through the GOT or the PLT. */
#define PCM_BEGIN_DECLS _Pragma("GCC visibility push(hidden)")
#define PCM_END_DECLS _Pragma("GCC visibility pop")

static inline size_t pcm_align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static inline int pcm_is_pow2(size_t n)
{
	return n && !(n & (n - 1));
}

/* floor(log2(n)) for n > 0 */
static inline unsigned pcm_log2(size_t n)
{
	return 63u - (unsigned)__builtin_clzl(n);
}

/* ceil(log2(n)) for n > 0 */
static inline unsigned pcm_log2_up(size_t n)
{
	return n <= 1 ? 0 : 64u - (unsigned)__builtin_clzl(n - 1);
}

#endif
