/*
 * The debug build's checks fire, with file, line and what failed (built
 * twice by make test: plain, and with PCM_DEBUG=3 in build-debug/).  Each
 * case corrupts a structure in a child process, then either makes the next
 * slow-path operation run into it (debug builds: the per-operation checks
 * of src/debug.h) or, in a release build, asks pcm_check_heap() for the
 * walk; the child must abort with the expected "pcmalloc: assertion failed
 * at src/FILE:LINE: ..." message.  Then: a clean heap passes the walk, and
 * taking locks against the order aborts in debug builds.
 */
#include <stdlib.h>
#include <string.h>

#include "buddy.h"
#include "check.h"
#include "debug.h"
#include "heapcheck.h"
#include "lifecycle.h"
#include "list.h"
#include "sizeclass.h"
#include "slab.h"
#include "unit.h"

#define CLS 5

/* A zone counter off by one page: the level-2 counter check. */
static void corrupt_zone_counter(void *arg)
{
	(void)arg;
	int clean;
	pcm_zones[PCM_ZONE_LARGE].free_pages++;
	struct pcm_page *pg = pcm_block_alloc(PCM_ZONE_LARGE, 0, &clean);
	(void)pg;
	if (PCM_DEBUG < 2) /* debug builds: the operation above must see it */
		pcm_check_heap(2);
}

/* A slab that counts one object too many in use: its free list is one
 * short, which only the level-3 walk of the slab's free list sees. */
static void corrupt_slab_inuse(void *arg)
{
	(void)arg;
	void *list;
	REQUIRE(pcm_slab_take(CLS, &list, 3) == 3);
	struct pcm_class *c = &pcm_classes[CLS];
	c->partial.next->inuse++;
	void *one = list;
	list = pcm_link_get(one);
	pcm_link_set(one, NULL);
	pcm_slab_put(CLS, one, 1);
	if (PCM_DEBUG < 3)
		pcm_check_heap(3);
}

/* A block on a buddy free list that is not marked free. */
static void corrupt_free_list(void *arg)
{
	(void)arg;
	struct pcm_zone *z = &pcm_zones[PCM_ZONE_SLAB];
	for (unsigned o = 0; o <= PCM_MAX_ORDER; o++)
		if (!pcm_list_empty(&z->free_area[o])) {
			struct pcm_page *pg = z->free_area[o].next;
			pg->kind = PCM_PG_SLAB; /* on a free list, not marked free */
			break;
		}
	pcm_check_heap(3);
}

/* A class lock taken while a zone lock is held: against the order. */
static void lock_order(void *arg)
{
	(void)arg;
	pcm_lock(&pcm_zones[PCM_ZONE_SLAB].lock);
	pcm_lock(&pcm_classes[CLS].lock);
}

int main(void)
{
	pcm_init();
	void *list;
	/* Some traffic: slabs of a few classes, blocks and runs. */
	for (unsigned cls = 1; cls < 40; cls += 3) {
		unsigned n = pcm_slab_take(cls, &list, 50);
		REQUIRE(n > 0);
		pcm_slab_put(cls, list, n);
	}
	int clean;
	struct pcm_page *run = pcm_run_alloc(PCM_ZONE_LARGE, 37, 0, &clean);
	REQUIRE(run);
	CHECK(pcm_check_heap(3) == 0);
	pcm_run_free(run, 37);
	CHECK(pcm_check_heap(3) == 0);

	CHECK(expect_abort(corrupt_zone_counter, NULL,
			   "assertion failed at src/buddy.c:"));
	CHECK(expect_abort(corrupt_zone_counter, NULL, "free lists hold"));
	CHECK(expect_abort(corrupt_slab_inuse, NULL, "assertion failed at src/slab.c:"));
	CHECK(expect_abort(corrupt_slab_inuse, NULL, "in use !="));
	CHECK(expect_abort(corrupt_free_list, NULL, "on list"));
	if (PCM_DEBUG >= 1)
		CHECK(expect_abort(lock_order, NULL,
				   "taking class lock"));
	return check_done("test_debug");
}
