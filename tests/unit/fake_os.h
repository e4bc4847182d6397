/* Counters and knobs of the fake platform layer (fake_os.c). */
#ifndef PCM_FAKE_OS_H
#define PCM_FAKE_OS_H
#include <stddef.h>
#include <stdint.h>

struct fake_os {
	size_t budget_arenas; /* arenas it will hand out */
	size_t arenas;        /* arenas handed out */
	int fail_maps;        /* non-arena maps fail when set */
	size_t maps, unmaps, purges, purged_bytes, hugepage_hints, commits, collapses;
	uint64_t now_ns;      /* the clock the allocator sees */
};
extern struct fake_os fake_os;
#endif
