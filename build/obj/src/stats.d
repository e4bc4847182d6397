build/obj/src/stats.o: src/stats.c src/stats.h src/../include/pcmalloc.h \
 src/arena.h src/types.h src/config.h src/lock.h src/util.h src/buddy.h \
 src/conf.h src/fmt.h src/huge.h src/lifecycle.h src/meta.h \
 src/sizeclass.h src/slab.h src/tcache.h
src/stats.h:
src/../include/pcmalloc.h:
src/arena.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/buddy.h:
src/conf.h:
src/fmt.h:
src/huge.h:
src/lifecycle.h:
src/meta.h:
src/sizeclass.h:
src/slab.h:
src/tcache.h:
