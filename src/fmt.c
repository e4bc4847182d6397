/* See fmt.h. */
#include "fmt.h"
#include "debug.h"
#include "os.h"

#include <stdint.h>

struct sink {
	char *buf;
	size_t cap, len;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void put_padded(struct sink *s, const char *str, size_t n, int width,
		       int left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;
	if (!left) {
		/* Zero padding goes after a sign. */
		if (pad == '0' && n && str[0] == '-') {
			put(s, '-');
			str++, n--;
		}
		while (fill-- > 0)
			put(s, pad);
	}
	for (size_t i = 0; i < n; i++)
		put(s, str[i]);
	if (left)
		while (fill-- > 0)
			put(s, ' ');
}

static size_t utoa(char *out, unsigned long long v, unsigned base)
{
	char tmp[24];
	size_t n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t pcm_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct sink s = { buf, cap, 0 };
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(&s, *f);
			continue;
		}
		f++;
		int left = 0, width = 0, lng = 0;
		char pad = ' ';
		for (; *f == '-' || *f == '0'; f++) {
			if (*f == '-')
				left = 1;
			else
				pad = '0';
		}
		for (; *f >= '0' && *f <= '9'; f++)
			width = width * 10 + (*f - '0');
		int prec = -1;
		if (*f == '.') {
			f++;
			if (*f == '*') {
				prec = va_arg(ap, int);
				f++;
			} else {
				for (prec = 0; *f >= '0' && *f <= '9'; f++)
					prec = prec * 10 + (*f - '0');
			}
		}
		for (; *f == 'l' || *f == 'z'; f++)
			lng++;
		char num[32];
		size_t n;
		switch (*f) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			size_t len = 0;
			while ((prec < 0 || len < (size_t)prec) && str[len])
				len++;
			put_padded(&s, str, len, width, left, ' ');
			break;
		}
		case 'c':
			num[0] = (char)va_arg(ap, int);
			put_padded(&s, num, 1, width, left, ' ');
			break;
		case 'd':
		case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			n = 0;
			unsigned long long mag = (unsigned long long)v;
			if (v < 0) {
				num[n++] = '-';
				mag = 0ull - mag;
			}
			n += utoa(num + n, mag, 10);
			put_padded(&s, num, n, width, left, pad);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = lng ? va_arg(ap, unsigned long long)
						   : va_arg(ap, unsigned);
			n = utoa(num, v, *f == 'x' ? 16 : 10);
			put_padded(&s, num, n, width, left, pad);
			break;
		}
		case 'p': {
			num[0] = '0', num[1] = 'x';
			n = 2 + utoa(num + 2, (uintptr_t)va_arg(ap, void *), 16);
			put_padded(&s, num, n, width, left, ' ');
			break;
		}
		case '%':
			put(&s, '%');
			break;
		default: /* unknown: print it as is */
			put(&s, '%');
			if (!*f)
				f--;
			else
				put(&s, *f);
		}
	}
	if (cap)
		buf[s.len < cap ? s.len : cap - 1] = 0;
	return s.len;
}

size_t pcm_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = pcm_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static void fd_sink(struct pcm_out *o, const char *s, size_t n)
{
	pcm_os_write(o->fd, s, n);
}

void pcm_out_init_fd(struct pcm_out *o, int fd)
{
	o->len = 0;
	o->sink = fd_sink;
	o->fd = fd;
	o->ctx = 0;
}

void pcm_out_flush(struct pcm_out *o)
{
	if (o->len)
		o->sink(o, o->buf, o->len);
	o->len = 0;
}

void pcm_out_printf(struct pcm_out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	size_t n = pcm_vfmt(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n >= sizeof line)
		n = sizeof line - 1;
	if (o->len + n > sizeof o->buf)
		pcm_out_flush(o);
	for (size_t i = 0; i < n; i++)
		o->buf[o->len++] = line[i];
}

void pcm_out_puts(struct pcm_out *o, const char *s)
{
	for (; *s; s++) {
		if (o->len == sizeof o->buf)
			pcm_out_flush(o);
		o->buf[o->len++] = *s;
	}
}

static void vlog(const char *fmt, va_list ap)
{
	char line[512] = "pcmalloc: ";
	size_t n = 10 + pcm_vfmt(line + 10, sizeof line - 11, fmt, ap);
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	pcm_os_write(2, line, n);
}

void pcm_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void pcm_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	pcm_os_abort();
}

void pcm_assert_fail(const char *file, int line, const char *expr,
		     const char *fmt, ...)
{
	char detail[384];
	va_list ap;
	va_start(ap, fmt);
	pcm_vfmt(detail, sizeof detail, fmt, ap);
	va_end(ap);
	pcm_fatal("assertion failed at %s:%d: %s%s%s%s", file, line, expr,
		  detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}
