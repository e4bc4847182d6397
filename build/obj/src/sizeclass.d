build/obj/src/sizeclass.o: src/sizeclass.c src/sizeclass.h src/types.h \
 src/config.h src/lock.h src/util.h
src/sizeclass.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
