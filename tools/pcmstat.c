/*
 * pcmstat: a live view of a running process that uses pcmalloc, the way
 * slabtop shows /proc/slabinfo.  No restart and no signal: the process
 * publishes a snapshot page (struct pcm_pub in src/snapshot.h) that this
 * program opens through /proc/PID/fd, asks to refresh, and reads.
 *
 *   pcmstat [-1] [--json] [-d SECONDS] [-s KEY] [-n ROWS] [-t SECONDS] PID
 *
 * -1 one snapshot and exit; --json the snapshot as pcmalloc's JSON report
 * (the same schema as PCMALLOC_CONF=stats:json); -d refresh interval
 * (default 2, fractions allowed); -s sort the class table by bytes (default),
 * objs, slabs, size, refills, drains, class; -n rows of the class table
 * (default: what fits, 20 when not on a terminal; 0 all); -t how long to
 * wait for the process to answer (default 1 s: a process without a
 * background worker answers at its next allocator call; after that the
 * last published snapshot is shown, with its age).
 * Keys while running: b o l s r d c to sort, q to quit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../include/pcmalloc.h"
#include "../src/fmt.h"
#include "../src/os.h"
#include "../src/snapshot.h"

static const char *prog = "pcmstat";

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: %s [-1] [--json] [-d SECONDS] [-s KEY] [-n ROWS] [-t SECONDS] PID\n"
		"  -1            one snapshot, then exit\n"
		"  --json        the snapshot as JSON (pcmalloc's stats:json schema)\n"
		"  -d SECONDS    refresh interval (default 2)\n"
		"  -s KEY        sort the class table: bytes objs slabs size refills drains class\n"
		"  -n ROWS       rows of the class table (0: all)\n"
		"  -t SECONDS    how long to wait for the process to answer (default 1)\n",
		prog);
	exit(rc);
}

/* The process's published page: /proc/PID/fd/N -> /memfd:pcmalloc-stats. */
static struct pcm_pub *open_page(long pid)
{
	char dir[64], path[384], link[256];
	snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: cannot read %s: %s%s\n", prog, dir, strerror(errno),
			errno == EACCES ? " (pcmstat reads processes of its own user)" : "");
		return NULL;
	}
	struct dirent *e;
	struct pcm_pub *p = NULL;
	const char *want = "/memfd:" PCM_PUB_NAME;
	while (!p && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strncmp(link, want, strlen(want)) != 0)
			continue;
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
			break;
		}
		void *m = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED) {
			fprintf(stderr, "%s: cannot map %s: %s\n", prog, path, strerror(errno));
			break;
		}
		p = m;
		if (p->magic != PCM_PUB_MAGIC || p->schema != PCM_SNAP_SCHEMA ||
		    p->size != sizeof *p) {
			fprintf(stderr, "%s: process %ld publishes schema %u (size %u); this pcmstat "
				"reads schema %u (size %zu): use the pcmstat of its pcmalloc\n",
				prog, pid, p->schema, p->size, PCM_SNAP_SCHEMA, sizeof *p);
			munmap(m, sizeof *p);
			p = NULL;
			break;
		}
	}
	closedir(d);
	if (!p && !e)
		fprintf(stderr, "%s: process %ld publishes no pcmalloc statistics (not using "
			"pcmalloc, PCMALLOC_CONF=stats_publish:0, fewer than 64 allocator "
			"slow-path calls so far, or it closed descriptor 100+ that holds "
			"them)\n", prog, pid);
	return p;
}

static uint64_t now_ns(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Asks for a fresh snapshot and copies it; returns 1 if the process
 * answered within timeout_ns, 0 if the copy is its last one. */
static int fetch(struct pcm_pub *p, struct pcm_snap *out, uint64_t timeout_ns)
{
	uint32_t want = __atomic_add_fetch(&p->req, 1, __ATOMIC_ACQ_REL);
	__atomic_fetch_add(&p->wake, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &p->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
	uint64_t end = now_ns(CLOCK_MONOTONIC) + timeout_ns;
	int fresh = 0;
	for (;;) {
		uint32_t ack = __atomic_load_n(&p->ack, __ATOMIC_ACQUIRE);
		if ((int32_t)(ack - want) >= 0) {
			fresh = 1;
			break;
		}
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		if (t >= end)
			break;
		uint64_t left = end - t;
		struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
		syscall(SYS_futex, &p->ack, FUTEX_WAIT, ack, &ts, NULL, 0);
	}
	for (int tries = 0;; tries++) {
		uint32_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		if (!(s1 & 1)) {
			memcpy(out, &p->snap, sizeof *out);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == s1)
				break;
		}
		if (tries > 1000000) { /* a writer died mid-way */
			memcpy(out, &p->snap, sizeof *out);
			break;
		}
		sched_yield();
	}
	return fresh;
}

/* ---- the screen ---- */

enum sort_key { BY_BYTES, BY_OBJS, BY_SLABS, BY_SIZE, BY_REFILLS, BY_DRAINS, BY_CLASS };
static const char *const sort_names[] = {"bytes", "objs", "slabs", "size", "refills",
					 "drains", "class"};
static enum sort_key sort_by = BY_BYTES;
static const struct pcm_snap *cur_snap;

static uint64_t sort_value(const struct pcm_snap_class *c)
{
	switch (sort_by) {
	case BY_BYTES: return c->objs_out * c->size;
	case BY_OBJS: return c->objs_out;
	case BY_SLABS: return c->slabs;
	case BY_SIZE: return c->size;
	case BY_REFILLS: return c->refills;
	case BY_DRAINS: return c->drains;
	case BY_CLASS: return 0;
	}
	return 0;
}

static int cmp_class(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	uint64_t vx = sort_value(&cur_snap->classes[x]), vy = sort_value(&cur_snap->classes[y]);
	if (vx != vy)
		return vx < vy ? 1 : -1; /* largest first */
	return x < y ? -1 : x > y;
}

/* "12.34 MiB", from a ring of buffers: several may appear in one printf. */
static const char *mb(uint64_t b)
{
	static char ring[8][32];
	static unsigned next;
	char *buf = ring[next++ % 8];
	snprintf(buf, sizeof ring[0], "%.2f MiB", (double)b / (1 << 20));
	return buf;
}

static double rate(uint64_t now, uint64_t before, double secs)
{
	return secs > 0 && now >= before ? (double)(now - before) / secs : 0;
}

static void screen(FILE *f, long pid, const char *comm, const struct pcm_snap *s,
		   const struct pcm_snap *prev, int fresh, int rows)
{
	double secs = prev ? (double)(s->time_ns - prev->time_ns) / 1e9 : 0;
	time_t t = (time_t)(s->time_ns / 1000000000ull);
	struct tm tm;
	localtime_r(&t, &tm);
	char when[32];
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	fprintf(f, "pcmstat %s — pid %ld (%s), pcmalloc %s, snapshot %s", PCMALLOC_VERSION,
		pid, comm, s->version, when);
	if (!fresh)
		fprintf(f, "  [STALE: the process made no allocator call since; %.1f s old]",
			(double)(now_ns(CLOCK_REALTIME) - s->time_ns) / 1e9);
	fprintf(f, "\n\n%-18s %14s %14s\n", "", "current", "peak");
	fprintf(f, "%-18s %14s %14s   small %s, large %s, huge %s in %llu mappings\n", "allocated",
		mb(s->allocated), mb(s->allocated_peak),
		mb(s->small_allocated), mb(s->large_allocated),
		mb(s->huge_allocated), (unsigned long long)s->huge_count);
	fprintf(f, "%-18s %14s %14s\n", "resident (est.)", mb(s->resident),
		mb(s->resident_peak));
	fprintf(f, "%-18s %14s %14s   %llu arenas, %s by brk, metadata %s\n", "mapped",
		mb(s->mapped), mb(s->mapped_peak),
		(unsigned long long)s->arenas, mb(s->brk_bytes),
		mb(s->meta_bytes));
	fprintf(f, "%-18s %14s   of which dirty %s\n", "free pages", mb(s->free_pages << 12),
		mb(s->dirty_pages << 12));
	fprintf(f, "%-18s %llu objects, %s (large classes %s); ", "cached",
		(unsigned long long)s->cached_objects, mb(s->cached_bytes),
		mb(s->cached_large_bytes));
	if (s->cache_mode == 1)
		fprintf(f, "per-CPU (%s), %llu caches in use, %llu threads\n", s->cache_index,
			(unsigned long long)s->cpu_caches, (unsigned long long)s->threads);
	else if (s->cache_mode == 0)
		fprintf(f, "per-thread (%llu threads; per-CPU off: %s)\n",
			(unsigned long long)s->threads, s->percpu_off);
	else
		fprintf(f, "no caches\n");
	if (s->cache_mode == 1 && s->nr_cpus) {
		fprintf(f, "%-18s", "per-CPU fill KiB");
		unsigned shown = 0;
		for (unsigned i = 0; i < s->nr_cpus && i < PCM_SNAP_CPUS; i++) {
			if (!s->cpus[i].objs)
				continue;
			if (shown && shown % 8 == 0)
				fprintf(f, "\n%-18s", "");
			fprintf(f, " %3u:%-7llu", i, (unsigned long long)(s->cpus[i].bytes >> 10));
			shown++;
		}
		fprintf(f, "%s\n", shown ? "" : " (all empty)");
	}
	uint64_t pp = 0, pc = 0, ppp = 0, ppc = 0;
	for (unsigned z = 0; z < PCM_SNAP_ZONES; z++)
		for (int i = 0; i < PCM_SNAP_PURGE; i++) {
			pp += s->zones[z].purge_pages[i];
			pc += s->zones[z].purge_calls[i];
			if (prev) {
				ppp += prev->zones[z].purge_pages[i];
				ppc += prev->zones[z].purge_calls[i];
			}
		}
	fprintf(f, "%-18s %s returned in %llu madvise calls", "purge",
		mb(pp << 12), (unsigned long long)pc);
	if (prev)
		fprintf(f, "; now %.2f MiB/s in %.1f calls/s", rate(pp, ppp, secs) * 4096 / (1 << 20),
			rate(pc, ppc, secs));
	static const char *const bg[] = {"not started", "running", "asleep", "off"};
	fprintf(f, "\n%-18s %s, %llu rounds, %llu wake-ups\n", "background worker",
		bg[s->bg_state & 3], (unsigned long long)s->bg_rounds,
		(unsigned long long)s->bg_wakeups);

	for (unsigned z = 0; z < PCM_SNAP_ZONES && z < s->nr_zones; z++) {
		const struct pcm_snap_zone *sz = &s->zones[z];
		fprintf(f, "buddyinfo %-5s used %7llu pages, free blocks by order:", z ? "large" : "slab",
			(unsigned long long)sz->used_pages);
		for (unsigned i = 0; i < s->nr_orders && i < PCM_SNAP_ORDERS; i++)
			fprintf(f, " %llu", (unsigned long long)sz->nr_free[i]);
		fprintf(f, "\n");
	}
	unsigned idx[PCM_SNAP_CLASSES], n = 0;
	for (unsigned i = 1; i < s->nr_classes && i < PCM_SNAP_CLASSES; i++)
		if (s->classes[i].slabs || s->classes[i].refills)
			idx[n++] = i;
	cur_snap = s;
	qsort(idx, n, sizeof idx[0], cmp_class);
	fprintf(f, "\n%5s %7s %5s %6s %9s %9s %10s %9s %9s %8s   (sorted by %s)\n", "CLASS",
		"SIZE", "ORDER", "SLABS", "OBJS-OUT", "OBJ/SLAB", "BYTES-OUT", "REFILLS", "DRAINS",
		prev ? "REFILL/S" : "", sort_names[sort_by]);
	for (unsigned k = 0; k < n && (rows <= 0 || k < (unsigned)rows); k++) {
		const struct pcm_snap_class *c2 = &s->classes[idx[k]];
		char bytes[32];
		snprintf(bytes, sizeof bytes, "%.2fM", (double)(c2->objs_out * c2->size) / (1 << 20));
		fprintf(f, "%5u %7u %5u %6llu %9llu %9u %10s %9llu %9llu", idx[k], c2->size,
			c2->order, (unsigned long long)c2->slabs, (unsigned long long)c2->objs_out,
			c2->objs_per_slab, bytes, (unsigned long long)c2->refills,
			(unsigned long long)c2->drains);
		if (prev)
			fprintf(f, " %8.1f", rate(c2->refills, prev->classes[idx[k]].refills, secs));
		fprintf(f, "\n");
	}
	if (rows > 0 && n > (unsigned)rows)
		fprintf(f, "... %u more classes (-n 0 shows all)\n", n - (unsigned)rows);
}

static struct termios saved_tty;
static int tty_raw;

static void restore_tty(void)
{
	if (tty_raw)
		tcsetattr(0, TCSANOW, &saved_tty);
}

static void on_term(int sig)
{
	restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	int once = 0, json = 0, rows = -1;
	double interval = 2, timeout = 1;
	long pid = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-1") || !strcmp(a, "--once"))
			once = 1;
		else if (!strcmp(a, "--json") || !strcmp(a, "-j"))
			json = 1;
		else if ((!strcmp(a, "-d") || !strcmp(a, "--delay")) && i + 1 < argc)
			interval = atof(argv[++i]);
		else if ((!strcmp(a, "-t") || !strcmp(a, "--timeout")) && i + 1 < argc)
			timeout = atof(argv[++i]);
		else if ((!strcmp(a, "-n") || !strcmp(a, "--rows")) && i + 1 < argc)
			rows = atoi(argv[++i]);
		else if ((!strcmp(a, "-s") || !strcmp(a, "--sort")) && i + 1 < argc) {
			const char *k = argv[++i];
			unsigned j = 0;
			for (; j < sizeof sort_names / sizeof sort_names[0]; j++)
				if (!strcmp(k, sort_names[j]))
					break;
			if (j == sizeof sort_names / sizeof sort_names[0]) {
				fprintf(stderr, "%s: unknown sort key '%s'\n", prog, k);
				usage(2);
			}
			sort_by = (enum sort_key)j;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage(0);
		else if (a[0] != '-' && !pid) {
			char *end;
			pid = strtol(a, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "%s: '%s' is not a process id\n", prog, a);
				usage(2);
			}
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\n", prog, a);
			usage(2);
		}
	}
	if (!pid)
		usage(2);
	if (interval <= 0)
		interval = 2;
	struct pcm_pub *p = open_page(pid);
	if (!p)
		return 1;
	char comm[64] = "?", path[64];
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	FILE *cf = fopen(path, "r");
	if (cf) {
		if (fgets(comm, sizeof comm, cf))
			comm[strcspn(comm, "\n")] = 0;
		fclose(cf);
	}
	int tty = isatty(1);
	if (rows < 0) {
		struct winsize ws;
		rows = tty && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 24 ? ws.ws_row - 22 : 20;
		if (once)
			rows = tty ? rows : 0;
	}
	if (!once && isatty(0) && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &raw) == 0) {
			tty_raw = 1;
			atexit(restore_tty);
			signal(SIGINT, on_term);
			signal(SIGTERM, on_term);
		}
	}
	static struct pcm_snap snap, prev;
	int have_prev = 0;
	for (;;) {
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			fprintf(stderr, "%s: process %ld has exited\n", prog, pid);
			return once ? 1 : 0;
		}
		int fresh = fetch(p, &snap, (uint64_t)(timeout * 1e9));
		if (snap.magic != PCM_SNAP_MAGIC) {
			fprintf(stderr, "%s: process %ld has not published a snapshot yet (it made "
				"no allocator call within %.1f s)\n", prog, pid, timeout);
			if (once)
				return 1;
		} else if (json) {
			struct pcm_out o;
			pcm_out_init_fd(&o, 1);
			pcm_report_json(&o, &snap);
			pcm_out_flush(&o);
		} else {
			if (tty && !once)
				fputs("\033[H\033[2J", stdout);
			screen(stdout, pid, comm, &snap, have_prev ? &prev : NULL, fresh, rows);
			if (!once)
				fputs(tty_raw ? "\nkeys: b o l s r d c sort, q quit\n" : "\n", stdout);
			fflush(stdout);
		}
		if (once)
			return fresh ? 0 : 3;
		prev = snap;
		have_prev = snap.magic == PCM_SNAP_MAGIC;
		struct pollfd pf = {tty_raw ? 0 : -1, POLLIN, 0};
		int ms = (int)(interval * 1000);
		uint64_t until = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ull;
		for (;;) {
			uint64_t t = now_ns(CLOCK_MONOTONIC);
			if (t >= until)
				break;
			if (poll(&pf, 1, (int)((until - t) / 1000000ull) + 1) == 1) {
				char ch;
				if (read(0, &ch, 1) == 1) {
					const char *keys = "bolsrdc";
					const char *k = strchr(keys, ch);
					if (ch == 'q')
						return 0;
					if (k && ch) {
						sort_by = (enum sort_key)(k - keys);
						break;
					}
				}
			}
		}
	}
}
