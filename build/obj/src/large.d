build/obj/src/large.o: src/large.c src/large.h src/types.h src/config.h \
 src/lock.h src/util.h src/arena.h src/buddy.h src/fmt.h
src/large.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/arena.h:
src/buddy.h:
src/fmt.h:
