/*
 * Per-CPU object caches on restartable sequences (rseq), x86-64.
 *
 * Each CPU slot (indexed by the kernel's mm_cid when the rseq area has it,
 * else by cpu_id) owns a 512 KiB region (address space: only what the caches
 * fill is touched): one 64-bit header per size class, then arrays of object
 * pointers (each class's starting array, packed, then the larger arrays
 * that classes grow into: percpu.c).  A header packs three 16-bit slot
 * indices:
 *
 *     bits  0..15  current   next free slot (objects are begin..current-1)
 *     bits 16..31  end       capacity limit
 *     bits 32..47  begin     first slot of this class's array
 *
 * malloc pops and free pushes inside an rseq critical section whose only
 * side effect is the final write of the 16 bits of `current`: if the thread is
 * preempted, migrated or signalled before it, the kernel restarts the
 * sequence from the top, on whatever CPU the thread is then.  No atomic
 * read-modify-write instruction is involved (the in-place add or subtract
 * that commits is not atomic, and needs not be: see the drain in percpu.c).
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
 *
 * The null region.  The sequences read the slot index from the rseq area as
 * a signed number; -1 selects the region just below region 0, whose headers
 * are all stopped.  A thread that must not run the sequences on a real
 * region (not yet set up, served by the per-thread caches, exiting, or
 * caches off) points its rseq pointer at a stand-in area reading -1: every
 * pop and push then fails into the slow path, with no test on the fast
 * path.  Before the regions exist, pcm_rseq_base points above a static
 * null region.
 */
#ifndef PCM_PERCPU_H
#define PCM_PERCPU_H

#include <stdint.h>

#include "util.h"

PCM_BEGIN_DECLS

#define PCM_PERCPU_SHIFT 19
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

extern char *pcm_percpu_base;  /* region 0, NULL while per-CPU mode is off */
extern char *pcm_rseq_base;    /* what the sequences index: pcm_percpu_base
				* when on, else above the static null region */
extern uintptr_t pcm_cid_off;  /* offset of mm_cid or cpu_id in struct rseq */
/* Rseq areas whose slot index reads -1 (the null region): the process-wide
 * one threads start with, and each thread's own (pcm_cache_tls). */
extern struct pcm_rseq pcm_rseq_stand_in;
#define PCM_RSEQ_STAND_IN_INIT                                                 \
	{ .cpu_id_start = UINT32_MAX, .cpu_id = UINT32_MAX, .mm_cid = UINT32_MAX }

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
	"movslq (%[rs], %[off]), %[reg]\n\t"                                  \
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

/* Pops an object of class cls from this CPU's cache into *out: 1, or 0
 * when empty or stopped.  The result is the flags of the sequence's last
 * comparison or commit ("above"), so the caller branches on them directly;
 * the commit decrements `current` in place (see the drain's proof). */
PCM_INLINE int pcm_percpu_pop(struct pcm_rseq *rs, unsigned long cls, void **out)
{
	void *p;
	unsigned long reg, tmp;
	int ok;
	__asm__ volatile(PCM_RSEQ_PROLOGUE
			 "movzwl (%[reg], %[cls], 8), %k[tmp]\n\t"
			 "cmpw 4(%[reg], %[cls], 8), %w[tmp]\n\t"
			 "jbe 2f\n\t"
			 "movq -8(%[reg], %[tmp], 8), %[p]\n\t"
			 "subw $1, (%[reg], %[cls], 8)\n"
			 "2:\n\t"
			 /* p in rax: malloc returns it as it is */
			 : [p] "=&a"(p), [reg] "=&r"(reg), [tmp] "=&r"(tmp),
			   "=@cca"(ok)
			 : [rs] "r"(rs), [off] "r"(pcm_cid_off),
			   [base] "m"(pcm_rseq_base), [cls] "r"(cls)
			 : "memory");
	*out = p;
	return ok;
}

/* Pushes p on this CPU's cache; 0 when full (or stopped).  asm goto without
 * outputs: the temporaries are fixed registers, clobbered.  The commit
 * increments `current` in place. */
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
		     "movslq (%[rs], %[off]), %%r10\n\t"
		     "shlq $" PCM_STR(PCM_PERCPU_SHIFT) ", %%r10\n\t"
		     "addq %[base], %%r10\n\t"
		     "movzwl (%%r10, %[cls], 8), %%r11d\n\t"
		     "cmpw 2(%%r10, %[cls], 8), %%r11w\n\t"
		     "jae %l[full]\n\t"
		     "movq %[p], (%%r10, %%r11, 8)\n\t"
		     "addw $1, (%%r10, %[cls], 8)\n"
		     "2:\n\t"
		     :
		     : [rs] "r"(rs), [off] "r"(pcm_cid_off),
		       [base] "m"(pcm_rseq_base), [cls] "r"(cls), [p] "r"(p)
		     : "memory", "cc", "r10", "r11"
		     : full);
	return 1;
full:
	return 0;
}
#else
#define PCM_HAVE_PERCPU 0
PCM_INLINE int pcm_percpu_pop(struct pcm_rseq *rs, unsigned long cls, void **out)
{
	(void)rs, (void)cls;
	*out = NULL;
	return 0;
}
PCM_INLINE int pcm_percpu_push(struct pcm_rseq *rs, unsigned long cls, void *p)
{
	(void)rs, (void)cls, (void)p;
	return 0;
}
#endif

/* Start-up: decides whether per-CPU mode is possible (no system call); 1
 * if it will be used.  The regions are made later, by pcm_percpu_start. */
int pcm_percpu_init_process(void);
/* Makes the regions if start-up decided for per-CPU mode: 1 when that is
 * done (per-CPU mode on, or off for good: pcm_percpu_base says which), 0
 * while another thread is making them.  Never blocks. */
int pcm_percpu_start(void);
/* 1 while per-CPU mode is decided but its regions are not made yet. */
int pcm_percpu_pending(void);
/* This thread's rseq area if per-CPU mode can serve it, else NULL. */
struct pcm_rseq *pcm_percpu_thread_area(void);

/* Slow paths. */
/* An object of class cls for the program, after moving a batch into this
 * CPU's cache (marked free with key); NULL with errno ENOMEM. */
void *pcm_percpu_refill(struct pcm_rseq *rs, unsigned cls, uintptr_t key);
/* Caches p (marked free) after moving a batch out of this CPU's cache. */
void pcm_percpu_overflow(struct pcm_rseq *rs, unsigned cls, void *p);
/* Double-free check: 1 if p sits in any CPU's or the transfer cache. */
int pcm_percpu_holds(unsigned cls, const void *p);

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
/* What each CPU cache holds, for the first `max` caches (by cache index):
 * objects and bytes, read racily.  Returns how many were filled. */
unsigned pcm_percpu_fill(unsigned max, size_t *objs, size_t *bytes);
void pcm_percpu_after_fork_child(uint32_t forker_tid);

PCM_END_DECLS

#endif
