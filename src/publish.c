/* Publishing statistics for pcmstat; reports on a signal or an interval.
 * See publish.h and, for the page's protocol, snapshot.h. */
#include "publish.h"
#include "background.h"
#include "conf.h"
#include "fmt.h"
#include "lock.h"
#include "os.h"
#include "snapshot.h"
#include "stats.h"

#include <stddef.h>

static struct pcm_pub *pub;
static int pub_fd = -1;
static uint64_t pub_fd_id;     /* the program may close it and reuse the number */
static int report_to = 2;
static int writing;            /* one writer of the page at a time */
static uint64_t next_report_ns; /* stats_interval */

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

void pcm_publish_init(int report_fd)
{
	report_to = report_fd;
	if (pcm_conf.stats_publish) {
		pub = pcm_os_map_shared_page(PCM_PUB_NAME, PUB_SIZE, NULL, &pub_fd);
		if (pub) {
			page_header();
			pub_fd_id = pcm_os_fd_id(pub_fd);
		}
	}
	if (pcm_conf.stats_interval_ns)
		next_report_ns = pcm_os_now_ns() + pcm_conf.stats_interval_ns;
	pcm_background_set_service(service, pub ? &pub->wake : NULL, pub ? &pub->req : NULL,
				   pub ? &pub->ack : NULL, pcm_conf.stats_interval_ns);
	if (pcm_conf.stats_signal && pcm_os_on_signal(pcm_conf.stats_signal, on_signal) != 0)
		pcm_log("stats_signal: cannot catch signal %d", pcm_conf.stats_signal);
}

void pcm_publish_after_fork_child(void)
{
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
