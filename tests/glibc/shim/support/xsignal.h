#ifndef PCM_GLIBC_SHIM_XSIGNAL_H
#define PCM_GLIBC_SHIM_XSIGNAL_H
#include <signal.h>
sighandler_t xsignal(int, sighandler_t);
#endif
