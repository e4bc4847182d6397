build/obj/src/lifecycle.o: src/lifecycle.c src/lifecycle.h src/util.h \
 src/buddy.h src/types.h src/config.h src/lock.h src/conf.h src/fmt.h \
 src/huge.h src/meta.h src/os.h src/sizeclass.h src/slab.h src/stats.h \
 src/../include/pcmalloc.h src/tcache.h
src/lifecycle.h:
src/util.h:
src/buddy.h:
src/types.h:
src/config.h:
src/lock.h:
src/conf.h:
src/fmt.h:
src/huge.h:
src/meta.h:
src/os.h:
src/sizeclass.h:
src/slab.h:
src/stats.h:
src/../include/pcmalloc.h:
src/tcache.h:
