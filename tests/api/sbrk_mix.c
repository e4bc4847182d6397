/*
 * The program moves the break itself (sbrk) while pcmalloc grows its arenas
 * with brk: pcmalloc must keep working, never hand out the program's sbrk
 * memory, and the program's memory must not be touched by pcmalloc.
 */
#include "pcm_test.h"

#define CHUNK (1u << 20)

int main(void)
{
	pcm_test_begin("sbrk_mix");
	enum { NB = 200, NS = 8 };
	static unsigned char *blocks[NB];
	static unsigned char *mine[NS];
	for (int round = 0, b = 0; round < NS; round++) {
		/* ~25 MiB of pcmalloc memory: new arenas come with brk. */
		for (int i = 0; i < NB / NS; i++, b++) {
			blocks[b] = malloc(CHUNK);
			REQUIRE(blocks[b]);
			memset(blocks[b], b & 0xff, CHUNK);
		}
		/* The program's own piece of the break. */
		void *s = sbrk(64 << 10);
		REQUIRE(s != (void *)-1);
		mine[round] = s;
		memset(s, 0xa0 + round, 64 << 10);
		if (pcm_active())
			CHECK(!pcmalloc_owns(s));
	}
	for (int b = 0; b < NB; b++) {
		for (size_t k = 0; k < CHUNK; k += 4093)
			if (blocks[b][k] != (b & 0xff)) {
				CHECKF(0, "block %d overwritten", b);
				break;
			}
		for (int r = 0; r < NS; r++)
			CHECK(blocks[b] + CHUNK <= mine[r] || blocks[b] >= mine[r] + (64 << 10));
	}
	for (int r = 0; r < NS; r++)
		for (size_t k = 0; k < (64 << 10); k += 511)
			if (mine[r][k] != 0xa0 + r) {
				CHECKF(0, "the program's sbrk memory %d was overwritten", r);
				break;
			}
	for (int b = 0; b < NB; b++)
		free(blocks[b]);
	/* Small objects after all that still work. */
	for (int i = 0; i < 100000; i++) {
		char *p = malloc(1 + i % 500);
		REQUIRE(p);
		p[0] = 1;
		free(p);
	}
	/* valgrind caps the break: there the arenas come from mmap, which is
	 * the fallback this test also exercises. */
	if (pcm_active() && !pcm_quick()) {
		struct pcmalloc_stats st;
		pcmalloc_stats_get(&st, sizeof st);
		CHECKF(st.brk_bytes > 0, "no arena came from brk");
	}
	return check_done("sbrk_mix");
}
