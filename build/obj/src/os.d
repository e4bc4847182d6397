build/obj/src/os.o: src/os.c src/os.h src/config.h
src/os.h:
src/config.h:
