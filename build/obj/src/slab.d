build/obj/src/slab.o: src/slab.c src/slab.h src/types.h src/config.h \
 src/lock.h src/util.h src/arena.h src/buddy.h src/fmt.h src/sizeclass.h
src/slab.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/arena.h:
src/buddy.h:
src/fmt.h:
src/sizeclass.h:
