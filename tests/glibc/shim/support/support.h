#ifndef PCM_GLIBC_SHIM_SUPPORT_H
#define PCM_GLIBC_SHIM_SUPPORT_H
#include <stddef.h>
#include <sys/types.h>
#include "check.h"
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
void *support_shared_allocate(size_t);
void support_shared_free(void *);
void *xmmap(void *addr, size_t length, int prot, int flags, int fd);
void xmunmap(void *addr, size_t length);
int xopen(const char *path, int flags, mode_t);
void xclose(int);
/* Writes a string with write(2) (async-signal-safe). */
void write_message(const char *);
#endif
