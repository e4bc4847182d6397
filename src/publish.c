/* Publishing statistics for pcmstat; reports on a signal or an interval.
 * See publish.h and, for the page's protocol, snapshot.h. */
#include "publish.h"
#include "background.h"
#include "cache.h"
#include "conf.h"
#include "fmt.h"
#include "lock.h"
#include "os.h"
#include "snapshot.h"
#include "stats.h"

#include <errno.h>
#include <stddef.h>

static struct pcm_pub *pub PCM_HOT;
static int pub_fd = -1;
static uint64_t pub_fd_id;     /* the program may close it and reuse the number */
static int report_to = 2;
static int writing PCM_HOT;            /* one writer of the page at a time */
static uint64_t next_report_ns PCM_HOT; /* stats_interval */
/* The page is made lazily (make_page): none yet, being made, made (or not
 * to be: stats_publish:0, or the OS refused). */
enum pub_state { PUB_NONE = 0, PUB_MAKING, PUB_DONE };
static int pub_state PCM_HOT;
int pcm_publish_waiting PCM_HOT; /* stats_publish and no page yet */
static unsigned polls PCM_HOT;

#define PUB_SIZE ((sizeof(struct pcm_pub) + 4095) & ~(size_t)4095)

static void page_header(void)
{
	pub->magic = PCM_PUB_MAGIC;
	pub->schema = PCM_SNAP_SCHEMA;
	pub->size = sizeof *pub;
	pub->pid = pcm_os_getpid();
}

void pcm_publish_now(void)
{
	if (!pub || __atomic_exchange_n(&writing, 1, __ATOMIC_ACQUIRE))
		return;
	uint32_t req = __atomic_load_n(&pub->req, __ATOMIC_ACQUIRE);
	/* Seqlock: odd while the snapshot is written in place. */
	__atomic_fetch_add(&pub->seq, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	pcm_stats_snapshot(&pub->snap);
	pub->published_ns = pub->snap.time_ns;
	__atomic_fetch_add(&pub->seq, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&pub->ack, req, __ATOMIC_RELEASE);
	pcm_os_futex_wake_shared(&pub->ack);
	__atomic_store_n(&writing, 0, __ATOMIC_RELEASE);
}

/* Runs in the background worker (each round, every 250 ms while it has
 * work), or in a slow path without a lock. */
static void service(void)
{
	/* The allocated peak is sampled: here, and at each report. */
	pcm_stats_sample_peaks();
	if (pub && __atomic_load_n(&pub->req, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(&pub->ack, __ATOMIC_RELAXED))
		pcm_publish_now();
	if (__atomic_exchange_n(&pcm_bg_service_pending, 0, __ATOMIC_ACQ_REL))
		pcm_stats_print_conf(report_to);
	if (pcm_conf.stats_interval_ns) {
		uint64_t now = pcm_os_now_ns();
		if (now >= next_report_ns) {
			next_report_ns = now + pcm_conf.stats_interval_ns;
			pcm_stats_print_conf(report_to);
		}
	}
}

/* stats_signal: the report at once if this thread holds no pcmalloc lock
 * (the locks taken to read the counters are then other threads', which
 * will let go); else the worker or the next slow path writes it. */
static void on_signal(int sig)
{
	(void)sig;
	if (pcm_reentered())
		pcm_background_kick();
	else
		pcm_stats_print_conf(report_to);
}

/* Makes the page (once): 1 when it is made or will never be, 0 while
 * another thread makes it.  Never blocks. */
static int make_page(void)
{
	int st = __atomic_load_n(&pub_state, __ATOMIC_ACQUIRE);
	if (st != PUB_NONE)
		return st == PUB_DONE;
	if (!__atomic_compare_exchange_n(&pub_state, &st, PUB_MAKING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return 0;
	int saved = errno, fd = -1;
	struct pcm_pub *p = pcm_os_map_shared_page(PCM_PUB_NAME, PUB_SIZE, NULL, &fd);
	if (p) {
		pub = p;
		pub_fd = fd;
		page_header();
		pub_fd_id = pcm_os_fd_id(pub_fd);
		/* The worker has not started (the hook below runs first), so
		 * nothing sleeps on the word being replaced. */
		pcm_background_set_service(service, &pub->wake, &pub->req, &pub->ack,
					   pcm_conf.stats_interval_ns);
	}
	__atomic_store_n(&pub_state, PUB_DONE, __ATOMIC_RELEASE);
	__atomic_store_n(&pcm_publish_waiting, 0, __ATOMIC_RELAXED);
	errno = saved;
	return 1;
}

void pcm_publish_poll_slow(void)
{
	if (__atomic_add_fetch(&polls, 1, __ATOMIC_RELAXED) >= PCM_PUBLISH_AFTER && !pcm_reentered())
		make_page();
}

static void make_page_hook(void)
{
	make_page();
}

void pcm_publish_init(int report_fd)
{
	report_to = report_fd;
	/* The page is not made here: a program that makes a handful of
	 * allocations never makes it (three to eight system calls and a
	 * descriptor).  It is made when the first thread's caches are set up,
	 * after the process's first calls (cache.c's warm-up), or before the
	 * background worker starts (the worker sleeps on the page's word). */
	pub_state = pcm_conf.stats_publish ? PUB_NONE : PUB_DONE;
	pcm_publish_waiting = pcm_conf.stats_publish;
	if (pcm_conf.stats_interval_ns)
		next_report_ns = pcm_os_now_ns() + pcm_conf.stats_interval_ns;
	pcm_background_set_service(service, NULL, NULL, NULL, pcm_conf.stats_interval_ns);
	if (pcm_conf.stats_publish) {
		pcm_background_set_prepare(make_page);
		pcm_cache_set_setup_hook(make_page_hook);
	}
	if (pcm_conf.stats_signal && pcm_os_on_signal(pcm_conf.stats_signal, on_signal) != 0)
		pcm_log("stats_signal: cannot catch signal %d", pcm_conf.stats_signal);
}

void pcm_publish_after_fork_child(void)
{
	/* Being made by a thread that is gone: made again when needed (its
	 * mapping and descriptor, if made, are the parent's). */
	if (pub_state == PUB_MAKING && !pub) {
		pub_state = PUB_NONE;
		pcm_publish_waiting = 1;
	}
	if (!pub)
		return;
	/* The parent's page is shared with the parent: replace it by a page
	 * of the child's own at the same address (the worker's wake-up word
	 * stays where it was), and let go of the parent's descriptor. */
	int fd = -1;
	void *p = pcm_os_map_shared_page(PCM_PUB_NAME, PUB_SIZE, pub, &fd);
	if (pub_fd_id && pcm_os_fd_id(pub_fd) == pub_fd_id) /* still ours */
		pcm_os_close(pub_fd);
	pub_fd = fd;
	pub_fd_id = p ? pcm_os_fd_id(fd) : 0;
	if (!p) {
		/* The parent's page may still be mapped here: never write it. */
		pcm_os_unmap(pub, PUB_SIZE);
		pub = NULL;
		pcm_background_set_service(service, NULL, NULL, NULL, pcm_conf.stats_interval_ns);
		return;
	}
	page_header();
	__atomic_store_n(&writing, 0, __ATOMIC_RELAXED);
}
