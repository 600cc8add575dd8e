/* SPDX-License-Identifier: MIT */
/* The block-device discard thread: see discard-helper.h. */
#include <errno.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "blk.h"
#include "discard-helper.h"

/* Posting a completion fails only when the target's completion queue is
 * full, which the slot accounting rules out; retry a little anyway. */
#define POST_TRIES 100

static void post_result(struct discard_helper *h, int target,
			struct blk_slot *slot, int result)
{
	for (int i = 0; i < POST_TRIES; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&h->ring);
		struct io_uring_cqe *cqe;
		int r;

		if (!sqe)
			return;
		io_uring_prep_msg_ring(sqe, target, (unsigned int)result,
				       (uint64_t)(uintptr_t)slot, 0);
		r = io_uring_submit_and_wait(&h->ring, 1);
		if (r < 0 && r != -EINTR)
			continue;
		if (io_uring_wait_cqe(&h->ring, &cqe) < 0)
			continue;
		r = cqe->res;
		io_uring_cqe_seen(&h->ring, cqe);
		if (r >= 0)
			return;
	}
}

static void *helper_main(void *arg)
{
	struct discard_helper *h = arg;

	for (;;) {
		struct blk_slot *slot;
		uint64_t range[2];
		int result = 0, target;

		pthread_mutex_lock(&h->lock);
		while (!h->head && !h->stop)
			pthread_cond_wait(&h->wake, &h->lock);
		slot = h->head;
		if (slot) {
			h->head = slot->helper_next;
			if (!h->head)
				h->tail = NULL;
		}
		pthread_mutex_unlock(&h->lock);
		if (!slot)
			return NULL;
		range[0] = slot->seg_offset;
		range[1] = slot->seg_len;
		target = slot->queue->worker->ring.ring_fd;
		if (ioctl(h->fd, BLKDISCARD, range) < 0)
			result = -errno;
		/* The completion reaches the worker through the kernel; this
		 * release (and the worker's acquire) says so to the compiler
		 * and to ThreadSanitizer: the slot is the worker's again, and
		 * nothing of it is read from here on. */
		__atomic_store_n(&slot->helper_done, true, __ATOMIC_RELEASE);
		post_result(h, target, slot, result);
	}
}

int discard_helper_start(struct discard_helper *h, int fd)
{
	int r;

	*h = (struct discard_helper){
		.fd = fd,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.wake = PTHREAD_COND_INITIALIZER,
	};
	r = io_uring_queue_init(4, &h->ring, 0);
	if (r < 0)
		return r;
	h->ring_ready = true;
	r = -pthread_create(&h->thread, NULL, helper_main, h);
	if (r == 0)
		h->started = true;
	return r;
}

void discard_helper_stop(struct discard_helper *h)
{
	if (h->started) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
		h->started = false;
	}
	if (h->ring_ready)
		io_uring_queue_exit(&h->ring);
	h->ring_ready = false;
}

void discard_helper_queue(struct discard_helper *h, struct blk_slot *slot)
{
	slot->helper_next = NULL;
	slot->helper_done = false;
	pthread_mutex_lock(&h->lock);
	if (h->tail)
		h->tail->helper_next = slot;
	else
		h->head = slot;
	h->tail = slot;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}
