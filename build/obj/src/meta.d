build/obj/src/meta.o: src/meta.c src/meta.h src/config.h src/lock.h \
 src/util.h src/os.h
src/meta.h:
src/config.h:
src/lock.h:
src/util.h:
src/os.h:
