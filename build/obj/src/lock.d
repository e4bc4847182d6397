build/obj/src/lock.o: src/lock.c src/lock.h src/util.h src/os.h
src/lock.h:
src/util.h:
src/os.h:
