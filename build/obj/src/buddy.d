build/obj/src/buddy.o: src/buddy.c src/buddy.h src/types.h src/config.h \
 src/lock.h src/util.h src/arena.h src/conf.h src/fmt.h src/os.h
src/buddy.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/arena.h:
src/conf.h:
src/fmt.h:
src/os.h:
