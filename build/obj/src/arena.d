build/obj/src/arena.o: src/arena.c src/arena.h src/types.h src/config.h \
 src/lock.h src/util.h src/conf.h src/os.h
src/arena.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/conf.h:
src/os.h:
