/*
 * Formatting without allocating and without stdio: diagnostics, statistics
 * and malloc_info all go through here.  Supports %s %c %d %i %u %x %p %%,
 * the length modifiers l, ll and z, a field width, a precision for %s
 * (".N" or ".*"), '-' (left-justify) and '0' (zero pad).
 */
#ifndef PCM_FMT_H
#define PCM_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include "util.h"

PCM_BEGIN_DECLS

size_t pcm_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t pcm_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An append-only text buffer that flushes to a sink when full. */
struct pcm_out {
	char buf[1024];
	size_t len;
	void (*sink)(struct pcm_out *o, const char *s, size_t n);
	int fd;    /* for pcm_out_fd */
	void *ctx; /* for other sinks */
};
void pcm_out_init_fd(struct pcm_out *o, int fd);
void pcm_out_printf(struct pcm_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pcm_out_flush(struct pcm_out *o);
/* Appends a string of any length (pcm_out_printf cuts lines at 511). */
void pcm_out_puts(struct pcm_out *o, const char *s);

/* Writes "pcmalloc: <message>\n" to stderr. */
void pcm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes "pcmalloc: <message>\n" to stderr and aborts. */
_Noreturn void pcm_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), cold));

PCM_END_DECLS

#endif
