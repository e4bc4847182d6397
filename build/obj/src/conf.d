build/obj/src/conf.o: src/conf.c src/conf.h src/config.h src/fmt.h \
 src/os.h
src/conf.h:
src/config.h:
src/fmt.h:
src/os.h:
