build/obj/src/huge.o: src/huge.c src/huge.h src/types.h src/config.h \
 src/lock.h src/util.h src/conf.h src/meta.h src/os.h src/fmt.h
src/huge.h:
src/types.h:
src/config.h:
src/lock.h:
src/util.h:
src/conf.h:
src/meta.h:
src/os.h:
src/fmt.h:
