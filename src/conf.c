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
	.dirty_max_pages = (16u << 20) >> PCM_PAGE_SHIFT,
	.decay_ns = 1000000000ull,
	.prof_rate = 512 << 10,
	.prof_prefix = "pcmalloc",
};

static int parse_size(const char *v, size_t len, size_t *out)
{
	size_t n = 0, i = 0;
	if (!len)
		return 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (size_t)(v[i] - '0');
	if (i == 0)
		return 0;
	if (i < len) {
		int shift = v[i] == 'k' || v[i] == 'K'   ? 10
			    : v[i] == 'm' || v[i] == 'M' ? 20
			    : v[i] == 'g' || v[i] == 'G' ? 30
							 : -1;
		if (shift < 0 || i + 1 != len)
			return 0;
		n <<= shift;
	}
	*out = n;
	return 1;
}

static int eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

static void set(const char *k, size_t klen, const char *v, size_t vlen)
{
	size_t n;
	int *flag = eq(k, klen, "stats")     ? &pcm_conf.stats
		    : eq(k, klen, "verbose") ? &pcm_conf.verbose
		    : eq(k, klen, "brk")     ? &pcm_conf.brk
		    : eq(k, klen, "percpu")  ? &pcm_conf.percpu
		    : eq(k, klen, "tcache")  ? &pcm_conf.tcache
		    : eq(k, klen, "background") ? &pcm_conf.background
		    : eq(k, klen, "prof")    ? &pcm_conf.prof
		    : eq(k, klen, "valgrind") ? &pcm_conf.valgrind
					     : NULL;
	if (flag) {
		if (eq(v, vlen, "0") || eq(v, vlen, "1"))
			*flag = v[0] - '0';
		else
			pcm_log("PCMALLOC_CONF: %.*s wants 0 or 1 (refused '%.*s')",
				(int)klen, k, (int)vlen, v);
		return;
	}
	if (eq(k, klen, "thp")) {
		if (eq(v, vlen, "never"))
			pcm_conf.thp = PCM_THP_NEVER;
		else if (eq(v, vlen, "madvise"))
			pcm_conf.thp = PCM_THP_MADVISE;
		else if (eq(v, vlen, "always"))
			pcm_conf.thp = PCM_THP_ALWAYS;
		else
			pcm_log("PCMALLOC_CONF: thp wants never, madvise or always");
		return;
	}
	if (eq(k, klen, "dirty_max")) {
		if (parse_size(v, vlen, &n))
			pcm_conf.dirty_max_pages = n >> PCM_PAGE_SHIFT;
		else
			pcm_log("PCMALLOC_CONF: dirty_max wants a size (e.g. 8M)");
		return;
	}
	if (eq(k, klen, "decay_ms")) {
		if (parse_size(v, vlen, &n))
			pcm_conf.decay_ns = (uint64_t)n * 1000000ull;
		else
			pcm_log("PCMALLOC_CONF: decay_ms wants a number");
		return;
	}
	if (eq(k, klen, "prof_rate")) {
		if (parse_size(v, vlen, &n) && n > 0 && n <= (1ull << 40))
			pcm_conf.prof_rate = n;
		else
			pcm_log("PCMALLOC_CONF: prof_rate wants a size from 1 to 1T "
				"(refused '%.*s')", (int)vlen, v);
		return;
	}
	if (eq(k, klen, "prof_prefix")) {
		if (vlen && vlen < sizeof pcm_conf.prof_prefix) {
			memcpy(pcm_conf.prof_prefix, v, vlen);
			pcm_conf.prof_prefix[vlen] = 0;
		} else {
			pcm_log("PCMALLOC_CONF: prof_prefix wants a path of 1 to %zu "
				"bytes (refused '%.*s')", sizeof pcm_conf.prof_prefix - 1,
				(int)vlen, v);
		}
		return;
	}
	if (eq(k, klen, "prof_signal")) {
		if (vlen > 3 && !memcmp(v, "SIG", 3))
			v += 3, vlen -= 3;
		int sig = eq(v, vlen, "HUP") ? SIGHUP : eq(v, vlen, "USR1") ? SIGUSR1
			: eq(v, vlen, "USR2") ? SIGUSR2 : 0;
		if (!sig && parse_size(v, vlen, &n) && n >= 1 && n <= 64)
			sig = (int)n;
		if (sig)
			pcm_conf.prof_signal = sig;
		else
			pcm_log("PCMALLOC_CONF: prof_signal wants USR1, USR2, HUP or "
				"a number (refused '%.*s')", (int)vlen, v);
		return;
	}
	pcm_log("PCMALLOC_CONF: unknown key '%.*s' ignored", (int)klen, k);
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
			pcm_log("PCMALLOC_CONF: '%.*s' is not key:value", (int)len,
				item);
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

void pcm_conf_init(void)
{
	char buf[512];
	if (pcm_os_getenv("PCMALLOC_CONF", buf, sizeof buf))
		pcm_conf_parse(buf);
	if (pcm_conf.prof) /* every call must reach the sampler (prof.h) */
		pcm_conf.tcache = 0;
}
