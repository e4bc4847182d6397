#ifndef PCM_GLIBC_SHIM_XTHREAD_H
#define PCM_GLIBC_SHIM_XTHREAD_H
#include <pthread.h>
#include <signal.h>
pthread_t xpthread_create(pthread_attr_t *, void *(*)(void *), void *);
void *xpthread_join(pthread_t);
void xpthread_barrier_init(pthread_barrier_t *, pthread_barrierattr_t *, unsigned);
int xpthread_barrier_wait(pthread_barrier_t *);
void xpthread_barrier_destroy(pthread_barrier_t *);
void xpthread_barrierattr_init(pthread_barrierattr_t *);
void xpthread_barrierattr_setpshared(pthread_barrierattr_t *, int);
void xpthread_barrierattr_destroy(pthread_barrierattr_t *);
void xpthread_kill(pthread_t, int);
void xpthread_mutex_lock(pthread_mutex_t *);
void xpthread_mutex_unlock(pthread_mutex_t *);
#endif
