build/obj/src/fmt.o: src/fmt.c src/fmt.h src/os.h
src/fmt.h:
src/os.h:
