#ifndef PCM_GLIBC_SHIM_XUNISTD_H
#define PCM_GLIBC_SHIM_XUNISTD_H
#include <unistd.h>
#include <sys/types.h>
#include "support.h"
pid_t xfork(void);
pid_t xwaitpid(pid_t, int *, int);
void xpipe(int[2]);
#endif
