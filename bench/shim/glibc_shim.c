/*
 * glibc_shim: puts glibc's own malloc back in front of a program that links
 * another allocator.
 *
 * Debian's redis-server is linked against libjemalloc, so running it "with
 * no preload" would measure jemalloc, not glibc.  Preloaded, this library
 * defines the malloc family ahead of libjemalloc and forwards each call to
 * glibc's implementation (the __libc_* entry points that glibc exports for
 * exactly this purpose), so the "glibc" runs of such a program use glibc's
 * allocator like every other program does.  The cost is one extra direct
 * jump per call.  The runner uses it only for programs that need it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t n)
{
	return __libc_malloc(n);
}

EXPORT void free(void *p)
{
	__libc_free(p);
}

EXPORT void *calloc(size_t n, size_t m)
{
	return __libc_calloc(n, m);
}

EXPORT void *realloc(void *p, size_t n)
{
	return __libc_realloc(p, n);
}

EXPORT void *memalign(size_t a, size_t n)
{
	return __libc_memalign(a, n);
}

EXPORT void *aligned_alloc(size_t a, size_t n)
{
	return __libc_memalign(a, n);
}

EXPORT void *valloc(size_t n)
{
	return __libc_valloc(n);
}

EXPORT void *pvalloc(size_t n)
{
	return __libc_pvalloc(n);
}

EXPORT int posix_memalign(void **out, size_t a, size_t n)
{
	if (a < sizeof(void *) || (a & (a - 1)))
		return EINVAL;
	void *p = __libc_memalign(a, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* glibc has no __libc_ alias for this one: look its definition up in libc
 * itself (dlsym on libc's handle skips every other library). */
EXPORT size_t malloc_usable_size(void *p)
{
	static size_t (*real)(void *);
	if (!real) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
		if (libc)
			real = (size_t(*)(void *))dlsym(libc,
							 "malloc_usable_size");
		if (!real)
			return 0;
	}
	return real(p);
}
