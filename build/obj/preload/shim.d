build/obj/preload/shim.o: preload/shim.c preload/../src/api.h \
 preload/../src/alloc.h preload/../src/arena.h preload/../src/types.h \
 preload/../src/config.h preload/../src/lock.h preload/../src/util.h \
 preload/../src/sizeclass.h preload/../src/tcache.h preload/../src/slab.h \
 preload/../src/stats.h preload/../src/../include/pcmalloc.h \
 preload/../include/pcmalloc.h
preload/../src/api.h:
preload/../src/alloc.h:
preload/../src/arena.h:
preload/../src/types.h:
preload/../src/config.h:
preload/../src/lock.h:
preload/../src/util.h:
preload/../src/sizeclass.h:
preload/../src/tcache.h:
preload/../src/slab.h:
preload/../src/stats.h:
preload/../src/../include/pcmalloc.h:
preload/../include/pcmalloc.h:
