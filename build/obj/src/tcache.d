build/obj/src/tcache.o: src/tcache.c src/tcache.h src/slab.h src/types.h \
 src/config.h src/lock.h src/util.h src/conf.h src/fmt.h src/lifecycle.h \
 src/sizeclass.h
src/tcache.h:
src/slab.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/conf.h:
src/fmt.h:
src/lifecycle.h:
src/sizeclass.h:
