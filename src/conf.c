/* PCMALLOC_CONF parsing.  See conf.h. */
#include "conf.h"
#include "config.h"
#include "fmt.h"
#include "os.h"

#include <signal.h>
#include <string.h>

struct pcm_conf pcm_conf = {
	.thp = PCM_THP_MADVISE,
	.sys_thp = -1, /* not asked yet: pcm_conf_sys_thp() */
	.brk = 1,
	.percpu = 1,
	.tcache = 1,
	.background = 1,
	.valgrind = 1,
	.secure = PCM_SECURE_DEFAULT,
	.dirty_max_pages = (16u << 20) >> PCM_PAGE_SHIFT,
	.decay_ns = 1000000000ull,
	.stats_publish = 1,
	.vma_names = 1,
	.prof_rate = 512 << 10,
	.prof_prefix = "pcmalloc",
};

/* The kinds of value a key takes. */
enum kind {
	K_WORD,   /* int: the index of the value in `words` */
	K_SIZE,   /* size_t: bytes (k/M/G), stored shifted right by `shift` */
	K_DUR,    /* uint64_t nanoseconds: N (the key's unit), Nms, Ns */
	K_SIGNAL, /* int: a signal number, by name or number */
	K_STRING, /* char[max]: a string of 1 to max-1 bytes */
};

static const char *const flag_words[] = {"0", "1", NULL};
static const char *const stats_words[] = {"0", "1", "json", NULL};
static const char *const thp_words[] = {"never", "madvise", "always", NULL};

#define MS 1000000ull
#define SEC 1000000000ull

/* One row per key: adding a key is adding a row (and a field). */
static const struct key {
	const char *name;
	enum kind kind;
	void *ptr;
	const char *const *words; /* K_WORD */
	unsigned shift;           /* K_SIZE */
	uint64_t unit_ns;         /* K_DUR: what a plain number means */
	const char *wants;        /* for the error message */
	uint64_t min, max;        /* K_SIZE: bounds when max != 0; K_STRING: size */
} keys[] = {
#define FLAG(name, field) {name, K_WORD, &pcm_conf.field, flag_words, 0, 0, "0 or 1", 0, 0}
	{"stats", K_WORD, &pcm_conf.stats, stats_words, 0, 0, "0, 1 or json", 0, 0},
	{"stats_signal", K_SIGNAL, &pcm_conf.stats_signal, NULL, 0, 0,
	 "a signal that can be caught, by name or number, e.g. USR2", 0, 0},
	{"stats_interval", K_DUR, &pcm_conf.stats_interval_ns, NULL, 0, SEC,
	 "a duration: seconds, or a number with unit ms or s", 0, 0},
	FLAG("stats_publish", stats_publish),
	FLAG("verbose", verbose),
	{"thp", K_WORD, &pcm_conf.thp, thp_words, 0, 0, "never, madvise or always", 0, 0},
	FLAG("brk", brk),
	FLAG("tcache", tcache),
	FLAG("percpu", percpu),
	{"dirty_max", K_SIZE, &pcm_conf.dirty_max_pages, NULL, PCM_PAGE_SHIFT, 0,
	 "a size in bytes, or with unit k, M or G", 0, 0},
	{"decay_ms", K_DUR, &pcm_conf.decay_ns, NULL, 0, MS,
	 "a duration: milliseconds, or a number with unit ms or s", 0, 0},
	FLAG("background", background),
	FLAG("vma_names", vma_names),
	FLAG("valgrind", valgrind),
	FLAG("prof", prof),
	FLAG("secure", secure),
	{"prof_rate", K_SIZE, &pcm_conf.prof_rate, NULL, 0, 0,
	 "a size from 1 to 1T: bytes, or with unit k, M or G", 1, 1ull << 40},
	{"prof_prefix", K_STRING, pcm_conf.prof_prefix, NULL, 0, 0,
	 "a path of 1 to 199 bytes", 0, sizeof pcm_conf.prof_prefix},
	{"prof_signal", K_SIGNAL, &pcm_conf.prof_signal, NULL, 0, 0,
	 "a signal that can be caught, by name or number, e.g. USR1", 0, 0},
#undef FLAG
};
#define NR_KEYS (sizeof keys / sizeof keys[0])

/* Where each key's value came from. */
enum { FROM_DEFAULT = 0, FROM_ENV = 1 };
static unsigned char source[NR_KEYS];

static int eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

/* Digits only, at least one, no overflow: how many were read (0: none or
 * overflow). */
static size_t parse_digits(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		unsigned d = (unsigned)(v[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return 0;
		n = n * 10 + d;
	}
	*out = n;
	return i;
}

static int parse_size(const char *v, size_t len, uint64_t *out)
{
	uint64_t n;
	size_t i = parse_digits(v, len, &n);
	if (!i)
		return 0;
	unsigned shift = 0;
	if (i + 1 == len) {
		char c = v[i];
		shift = c == 'k' || c == 'K' ? 10 : c == 'm' || c == 'M' ? 20
		      : c == 'g' || c == 'G' ? 30 : 0;
		if (!shift)
			return 0;
	} else if (i != len) {
		return 0;
	}
	if (n > (SIZE_MAX >> shift))
		return 0;
	*out = n << shift;
	return 1;
}

static int parse_duration(const char *v, size_t len, uint64_t unit, uint64_t *out)
{
	uint64_t n;
	size_t i = parse_digits(v, len, &n);
	if (!i)
		return 0;
	if (eq(v + i, len - i, "ms"))
		unit = MS;
	else if (eq(v + i, len - i, "s"))
		unit = SEC;
	else if (i != len)
		return 0;
	if (n > UINT64_MAX / unit)
		return 0;
	*out = n * unit;
	return 1;
}

/* Signals that can be caught and are not raised by faults.  (Names in the
 * rows, not pointers: read-only data that the loader does not relocate.) */
static const struct {
	char name[8];
	int sig;
} signals[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
	{"USR2", SIGUSR2}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
	{"CONT", SIGCONT}, {"WINCH", SIGWINCH}, {"URG", SIGURG},   {"PROF", SIGPROF},
	{"VTALRM", SIGVTALRM}, {"IO", SIGIO},   {"PWR", SIGPWR},   {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
};

static int signal_ok(int sig)
{
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (signals[i].sig == sig)
			return 1;
	return sig >= SIGRTMIN && sig <= SIGRTMAX;
}

static int parse_signal(const char *v, size_t len, int *out)
{
	uint64_t n;
	if (len && parse_digits(v, len, &n) == len) {
		if (n > 64 || !signal_ok((int)n))
			return 0;
		*out = (int)n;
		return 1;
	}
	if (len > 3 && !memcmp(v, "SIG", 3))
		v += 3, len -= 3;
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (eq(v, len, signals[i].name)) {
			*out = signals[i].sig;
			return 1;
		}
	return 0;
}

const char *pcm_conf_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}

static int set_value(const struct key *k, const char *v, size_t vlen)
{
	uint64_t n;
	switch (k->kind) {
	case K_WORD:
		for (int i = 0; k->words[i]; i++)
			if (eq(v, vlen, k->words[i])) {
				*(int *)k->ptr = i;
				return 1;
			}
		return 0;
	case K_SIZE:
		if (!parse_size(v, vlen, &n) || (k->max && (n < k->min || n > k->max)))
			return 0;
		*(size_t *)k->ptr = (size_t)(n >> k->shift);
		return 1;
	case K_STRING:
		if (!vlen || vlen >= k->max)
			return 0;
		memcpy(k->ptr, v, vlen);
		((char *)k->ptr)[vlen] = 0;
		return 1;
	case K_DUR:
		if (!parse_duration(v, vlen, k->unit_ns, &n))
			return 0;
		*(uint64_t *)k->ptr = n;
		return 1;
	case K_SIGNAL:
		return parse_signal(v, vlen, (int *)k->ptr);
	}
	return 0;
}

static void set(const char *k, size_t klen, const char *v, size_t vlen)
{
	for (size_t i = 0; i < NR_KEYS; i++) {
		if (!eq(k, klen, keys[i].name))
			continue;
		if (set_value(&keys[i], v, vlen))
			source[i] = FROM_ENV;
		else
			pcm_log("PCMALLOC_CONF: %s: '%.*s' refused (wants %s)",
				keys[i].name, (int)vlen, v, keys[i].wants);
		return;
	}
	pcm_log("PCMALLOC_CONF: unknown key '%.*s' (value '%.*s') ignored",
		(int)klen, k, (int)vlen, v);
}

void pcm_conf_parse(const char *text)
{
	const char *p = text;
	while (*p) {
		const char *item = p;
		while (*p && *p != ',')
			p++;
		size_t len = (size_t)(p - item);
		if (*p == ',')
			p++;
		if (!len)
			continue;
		const char *colon = memchr(item, ':', len);
		if (!colon) {
			pcm_log("PCMALLOC_CONF: '%.*s' refused (wants key:value)",
				(int)len, item);
			continue;
		}
		set(item, (size_t)(colon - item), colon + 1,
		    len - (size_t)(colon - item) - 1);
	}
}

int pcm_conf_sys_thp(void)
{
	int m = __atomic_load_n(&pcm_conf.sys_thp, __ATOMIC_RELAXED);
	if (m < 0) { /* racing callers read the same file */
		m = pcm_os_thp_mode();
		__atomic_store_n(&pcm_conf.sys_thp, m, __ATOMIC_RELAXED);
	}
	return m;
}

/* A duration in its largest exact unit. */
static void fmt_duration(char *buf, size_t cap, uint64_t ns)
{
	if (ns % SEC == 0)
		pcm_fmt(buf, cap, "%llus", (unsigned long long)(ns / SEC));
	else
		pcm_fmt(buf, cap, "%llums", (unsigned long long)(ns / MS));
}

static void fmt_size(char *buf, size_t cap, uint64_t b)
{
	static const char units[] = "GMk";
	for (int i = 0; i < 3; i++) {
		unsigned shift = 30 - 10 * (unsigned)i;
		if (b && b % (1ull << shift) == 0) {
			pcm_fmt(buf, cap, "%llu%c", (unsigned long long)(b >> shift), units[i]);
			return;
		}
	}
	pcm_fmt(buf, cap, "%llu", (unsigned long long)b);
}

void pcm_conf_print(void)
{
	static const char from[][16] = {"default", "PCMALLOC_CONF"};
	char buf[48];
	for (size_t i = 0; i < NR_KEYS; i++) {
		const struct key *k = &keys[i];
		switch (k->kind) {
		case K_WORD:
			pcm_fmt(buf, sizeof buf, "%s", k->words[*(int *)k->ptr]);
			break;
		case K_SIZE:
			fmt_size(buf, sizeof buf, (uint64_t)*(size_t *)k->ptr << k->shift);
			break;
		case K_DUR:
			fmt_duration(buf, sizeof buf, *(uint64_t *)k->ptr);
			break;
		case K_STRING:
			pcm_fmt(buf, sizeof buf, "%.40s", (const char *)k->ptr);
			break;
		case K_SIGNAL: {
			int sig = *(int *)k->ptr;
			const char *name = pcm_conf_signal_name(sig);
			if (!sig)
				pcm_fmt(buf, sizeof buf, "none");
			else if (name)
				pcm_fmt(buf, sizeof buf, "%s", name);
			else
				pcm_fmt(buf, sizeof buf, "%d", sig);
			break;
		}
		}
		pcm_log("conf %-14s = %-8s (%s)", k->name, buf, from[source[i]]);
	}
	pcm_log("conf %-14s = %-8s (kernel)", "kernel thp", thp_words[pcm_conf_sys_thp()]);
}

void pcm_conf_init(void)
{
	char buf[512];
	if (pcm_os_getenv("PCMALLOC_CONF", buf, sizeof buf))
		pcm_conf_parse(buf);
	/* Every call must reach the sampler (prof.h), or secure mode's checks
	 * (secure.h): a slow path. */
	if (pcm_conf.prof || pcm_conf.secure)
		pcm_conf.tcache = 0;
}
