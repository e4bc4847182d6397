/* Whole-heap invariant walks.  See heapcheck.h. */
#include "heapcheck.h"
#include "buddy.h"
#include "lifecycle.h"
#include "slab.h"

int pcm_check_heap(int level)
{
	if (!pcm_is_initialised())
		return 0;
	for (int z = 0; z < PCM_NR_ZONES; z++)
		pcm_zone_check(&pcm_zones[z], level);
	for (unsigned cls = 1; cls < PCM_NR_CLASSES; cls++)
		pcm_class_check(cls, level);
	return 0;
}
