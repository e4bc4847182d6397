/*
 * xmalloc: producer/consumer with small objects, modelled on Lever and
 * Boreham's xmalloc-test (used in the mimalloc benchmark suite).
 *
 * Half of the threads are producers: they allocate small objects of random
 * sizes, fill batches of pointers and hand each batch to a shared queue.  The
 * other half are consumers: they take batches off the queue and free every
 * object (and the batch itself).  So every single free is a remote free of an
 * object that another thread allocated, and the allocating threads never get
 * their memory back directly.
 *
 * Stresses: cross-thread free throughput, the return path of remotely freed
 * memory to its owner, and memory blow-up when freed memory is not reused.
 *
 * usage: xmalloc [threads=4] [objects=4000000] [batch=256] [min=8] [max=256]
 *   objects is the total over all producers; threads is rounded up to even.
 */
#include <pthread.h>
#include "wl.h"

#define MAX_QUEUED 64

struct batch {
	struct batch *next;
	long n;
	size_t size[]; /* followed by n pointers, see batch_ptrs() */
};

static long nthreads, nobjects, batch_len, min_size, max_size;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static struct batch *head, *tail;
static long queued, producers_left;

static void **batch_ptrs(struct batch *b)
{
	return (void **)(b->size + batch_len);
}

static void push(struct batch *b)
{
	pthread_mutex_lock(&lock);
	while (queued >= MAX_QUEUED)
		pthread_cond_wait(&not_full, &lock);
	b->next = NULL;
	if (tail)
		tail->next = b;
	else
		head = b;
	tail = b;
	queued++;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

/* NULL once every producer has finished and the queue is empty. */
static struct batch *pop(void)
{
	pthread_mutex_lock(&lock);
	while (!head && producers_left)
		pthread_cond_wait(&not_empty, &lock);
	struct batch *b = head;
	if (b) {
		head = b->next;
		if (!head)
			tail = NULL;
		queued--;
		pthread_cond_signal(&not_full);
	}
	pthread_mutex_unlock(&lock);
	return b;
}

static void *producer(void *arg)
{
	long id = (long)arg, nprod = nthreads / 2;
	long todo = nobjects / nprod + (id < nobjects % nprod);
	struct wl_rng rng = {(uint64_t)id + 7};
	size_t bsize = sizeof(struct batch) +
		       batch_len * (sizeof(size_t) + sizeof(void *));
	while (todo > 0) {
		struct batch *b = wl_check(malloc(bsize), bsize);
		void **p = batch_ptrs(b);
		b->n = todo < batch_len ? todo : batch_len;
		for (long i = 0; i < b->n; i++) {
			size_t size = wl_range(&rng, min_size, max_size);
			p[i] = wl_check(malloc(size), size);
			b->size[i] = size;
			wl_stamp(p[i], size, (uint64_t)i);
		}
		todo -= b->n;
		push(b);
	}
	pthread_mutex_lock(&lock);
	if (--producers_left == 0)
		pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	struct batch *b;
	while ((b = pop())) {
		void **p = batch_ptrs(b);
		for (long i = 0; i < b->n; i++) {
			wl_verify(p[i], b->size[i], (uint64_t)i);
			free(p[i]);
		}
		free(b);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_usage(argc, argv,
		 "[threads=4] [objects=4000000] [batch=256] [min=8] [max=256]");
	nthreads = wl_arg(argc, argv, 1, 4);
	nobjects = wl_arg(argc, argv, 2, 4000000);
	batch_len = wl_arg(argc, argv, 3, 256);
	min_size = wl_arg(argc, argv, 4, 8);
	max_size = wl_arg(argc, argv, 5, 256);
	if (nthreads < 2)
		nthreads = 2;
	nthreads += nthreads & 1;
	if (batch_len < 1 || min_size < 1 || max_size < min_size)
		wl_die("xmalloc: bad arguments");
	producers_left = nthreads / 2;

	pthread_t *tids = wl_check(malloc(sizeof(*tids) * nthreads), 1);
	double t0 = wl_now();
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, i & 1 ? consumer : producer,
				   (void *)(i / 2)))
			wl_die("xmalloc: pthread_create failed");
	for (long i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	double secs = wl_now() - t0;
	free(tids);
	printf("xmalloc: threads=%ld objects=%ld secs=%.3f ops_per_sec=%.0f\n",
	       nthreads, nobjects, secs, nobjects / secs);
	return 0;
}
