build/obj/src/api.o: src/api.c src/api.h src/alloc.h src/arena.h \
 src/types.h src/config.h src/lock.h src/util.h src/sizeclass.h \
 src/tcache.h src/slab.h src/buddy.h src/conf.h src/fmt.h src/huge.h \
 src/large.h src/lifecycle.h src/os.h
src/api.h:
src/alloc.h:
src/arena.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/sizeclass.h:
src/tcache.h:
src/slab.h:
src/buddy.h:
src/conf.h:
src/fmt.h:
src/huge.h:
src/large.h:
src/lifecycle.h:
src/os.h:
