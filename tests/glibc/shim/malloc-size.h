/* glibc's malloc/malloc-size.h, as much as its tests use: the alignment
 * malloc guarantees (16 on x86-64). */
#include <stdint.h>
#define MALLOC_ALIGNMENT 16
#define MALLOC_ALIGN_MASK (MALLOC_ALIGNMENT - 1)
