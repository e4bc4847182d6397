/*
 * Per-CPU object caches on restartable sequences (rseq), x86-64.
 *
 * Each CPU slot (indexed by the kernel's mm_cid when the rseq area has it,
 * else by cpu_id) owns a 64 KiB region: one 64-bit header per size class,
 * then arrays of object pointers.  A header packs three 16-bit slot indices:
 *
 *     bits  0..15  current   next free slot (objects are begin..current-1)
 *     bits 16..31  end       capacity limit
 *     bits 32..47  begin     first slot of this class's array
 *
 * malloc pops and free pushes inside an rseq critical section whose only
 * side effect is the final 16-bit store of `current`: if the thread is
 * preempted, migrated or signalled before it, the kernel restarts the
 * sequence from the top, on whatever CPU the thread is then.  No atomic
 * read-modify-write instruction is involved.
 *
 * A header with begin = 0xffff and end = 0 is "stopped": every pop finds it
 * empty and every push full, so they take the slow path.  Draining another
 * CPU's cache stops its headers, fences with membarrier(...EXPEDITED_RSEQ)
 * (which restarts any sequence in flight), owns the objects, resets
 * `current` while still stopped, fences again, and only then re-enables:
 * the protocol and its proof are at the drain in percpu.c.  An all-zero
 * header (a region not yet set up) fails every operation too, as long as a
 * sequence reads both its fields from it: setting a region up therefore
 * follows the drain's re-enabling steps (ensure_region).
 */
#ifndef PCM_PERCPU_H
#define PCM_PERCPU_H

#include <stdint.h>

#include "util.h"

PCM_BEGIN_DECLS

#define PCM_PERCPU_SHIFT 16
#define PCM_RSEQ_SIG 0x53053053
#define PCM_STR_(x) #x
#define PCM_STR(x) PCM_STR_(x)

/* The kernel's struct rseq, as glibc registers it. */
struct pcm_rseq {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
};

extern char *pcm_percpu_base;  /* region 0 */
extern uintptr_t pcm_cid_off;  /* offset of mm_cid or cpu_id in struct rseq */

#if defined(__x86_64__)
#define PCM_HAVE_PERCPU 1

/* Opens a critical section: the descriptor, the abort handler (behind the
 * signature the kernel checks) that re-arms and restarts, and the arming. */
#define PCM_RSEQ_PROLOGUE                                                      \
	".pushsection __rseq_cs, \"aw\"\n\t"                                   \
	".balign 32\n"                                                         \
	"33:\n\t"                                                              \
	".long 0, 0\n\t"                                                       \
	".quad 1f, 2f - 1f, 4f\n\t"                                            \
	".popsection\n\t"                                                      \
	".pushsection __rseq_failure, \"ax\"\n\t"                              \
	".byte 0x0f, 0xb9, 0x3d\n\t"                                           \
	".long " PCM_STR(PCM_RSEQ_SIG) "\n"                                    \
	"4:\n\t"                                                               \
	"jmp 0f\n\t"                                                           \
	".popsection\n"                                                        \
	"0:\n\t"                                                               \
	"leaq 33b(%%rip), %[tmp]\n\t"                                          \
	"movq %[tmp], 8(%[rs])\n"                                              \
	"1:\n\t"                                                               \
	"movl (%[rs], %[off]), %k[reg]\n\t"                                    \
	"shlq $" PCM_STR(PCM_PERCPU_SHIFT) ", %[reg]\n\t"                      \
	"addq %[base], %[reg]\n\t"

/* Leaves a critical section that found nothing to do: out of line (in the
 * failure section), sets `reg` to 0 and resumes after the sequence.
 * (Plain asm with outputs, not asm goto: some compilers miscompile outputs
 * of asm goto on its label paths.) */
#define PCM_RSEQ_NOTHING(reg)                                                  \
	"2:\n\t"                                                               \
	".pushsection __rseq_failure, \"ax\"\n"                               \
	"6:\n\t"                                                               \
	"xorl %k[" reg "], %k[" reg "]\n\t"                                      \
	"jmp 2b\n\t"                                                           \
	".popsection\n\t"

/* An object of class cls from this CPU's cache, or NULL (empty/stopped). */
PCM_INLINE void *pcm_percpu_pop(struct pcm_rseq *rs, unsigned long cls)
{
	void *p;
	unsigned long reg, tmp;
	__asm__ volatile(PCM_RSEQ_PROLOGUE
			 "movzwl (%[reg], %[cls], 8), %k[tmp]\n\t"
			 "cmpw 4(%[reg], %[cls], 8), %w[tmp]\n\t"
			 "jbe 6f\n\t"
			 "subl $1, %k[tmp]\n\t"
			 "movq (%[reg], %[tmp], 8), %[p]\n\t"
			 "movw %w[tmp], (%[reg], %[cls], 8)\n"
			 PCM_RSEQ_NOTHING("p")
			 : [p] "=&r"(p), [reg] "=&r"(reg), [tmp] "=&r"(tmp)
			 : [rs] "r"(rs), [off] "r"(pcm_cid_off),
			   [base] "r"(pcm_percpu_base), [cls] "r"(cls)
			 : "memory", "cc");
	return p;
}

/* Pushes p on this CPU's cache; 0 when full (or stopped).  asm goto without
 * outputs: the temporaries are fixed registers, clobbered. */
PCM_INLINE int pcm_percpu_push(struct pcm_rseq *rs, unsigned long cls, void *p)
{
	__asm__ goto(".pushsection __rseq_cs, \"aw\"\n\t"
		     ".balign 32\n"
		     "33:\n\t"
		     ".long 0, 0\n\t"
		     ".quad 1f, 2f - 1f, 4f\n\t"
		     ".popsection\n\t"
		     ".pushsection __rseq_failure, \"ax\"\n\t"
		     ".byte 0x0f, 0xb9, 0x3d\n\t"
		     ".long " PCM_STR(PCM_RSEQ_SIG) "\n"
		     "4:\n\t"
		     "jmp 0f\n\t"
		     ".popsection\n"
		     "0:\n\t"
		     "leaq 33b(%%rip), %%r11\n\t"
		     "movq %%r11, 8(%[rs])\n"
		     "1:\n\t"
		     "movl (%[rs], %[off]), %%r10d\n\t"
		     "shlq $" PCM_STR(PCM_PERCPU_SHIFT) ", %%r10\n\t"
		     "addq %[base], %%r10\n\t"
		     "movzwl (%%r10, %[cls], 8), %%r11d\n\t"
		     "cmpw 2(%%r10, %[cls], 8), %%r11w\n\t"
		     "jae %l[full]\n\t"
		     "movq %[p], (%%r10, %%r11, 8)\n\t"
		     "addl $1, %%r11d\n\t"
		     "movw %%r11w, (%%r10, %[cls], 8)\n"
		     "2:\n\t"
		     :
		     : [rs] "r"(rs), [off] "r"(pcm_cid_off),
		       [base] "r"(pcm_percpu_base), [cls] "r"(cls), [p] "r"(p)
		     : "memory", "cc", "r10", "r11"
		     : full);
	return 1;
full:
	return 0;
}
#else
#define PCM_HAVE_PERCPU 0
PCM_INLINE void *pcm_percpu_pop(struct pcm_rseq *rs, unsigned long cls)
{
	(void)rs, (void)cls;
	return NULL;
}
PCM_INLINE int pcm_percpu_push(struct pcm_rseq *rs, unsigned long cls, void *p)
{
	(void)rs, (void)cls, (void)p;
	return 0;
}
#endif

/* Start-up: decides whether per-CPU mode is possible; 1 if enabled. */
int pcm_percpu_init_process(void);
/* This thread's rseq area if per-CPU mode can serve it, else NULL. */
struct pcm_rseq *pcm_percpu_thread_area(void);

/* Slow paths. */
void *pcm_percpu_refill(struct pcm_rseq *rs, unsigned cls);
void pcm_percpu_overflow(struct pcm_rseq *rs, unsigned cls, void *p);
/* Double-free check: 1 if p sits in this CPU's cache for cls. */
int pcm_percpu_holds(struct pcm_rseq *rs, unsigned cls, void *p);

/* Gives cached objects back to the slabs: those of every CPU cache (or,
 * with idle_only, of the caches untouched since the previous idle drain)
 * and the transfer caches.  Safe while other threads allocate: see the
 * protocol in percpu.c.  Returns the objects given back. */
size_t pcm_percpu_drain(int idle_only);
/* Racy sums for statistics. */
void pcm_percpu_totals(size_t *objs, size_t *bytes, size_t *large_bytes,
		       size_t *regions, size_t *bound_bytes);
/* Why per-CPU mode is off, or NULL when on. */
const char *pcm_percpu_off_reason(void);
void pcm_percpu_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
