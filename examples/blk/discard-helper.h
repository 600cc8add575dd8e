/* SPDX-License-Identifier: MIT */
/*
 * Discards on a host block device. io_uring (as of the kernels and liburing
 * this builds against) has no discard operation, and fallocate() on a
 * block device zeroes rather than discards, so a discard becomes a
 * BLKDISCARD ioctl, which blocks: a helper thread runs it, then posts the
 * result straight into the requesting worker's io_uring completion queue
 * (IORING_OP_MSG_RING). The worker reaps it like any other completion, so
 * no lock or queue is shared on the completion side and no queue ever
 * waits for a discard.
 */
#ifndef VHOSTDEV_BLK_DISCARD_HELPER_H
#define VHOSTDEV_BLK_DISCARD_HELPER_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct blk_slot;

struct discard_helper {
	int fd;                  /* the block device */
	pthread_t thread;
	bool started;
	struct io_uring ring;    /* only to send MSG_RING */
	bool ring_ready;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Waiting slots, linked through blk_slot.helper_next. */
	struct blk_slot *head;
	struct blk_slot *tail;
	bool stop;
};

int discard_helper_start(struct discard_helper *h, int fd);
/* Finishes the queued discards first. */
void discard_helper_stop(struct discard_helper *h);
/* Discards [offset, offset + len) for slot; the result arrives as a
 * completion with slot's user data on target_ring_fd. */
void discard_helper_queue(struct discard_helper *h, struct blk_slot *slot);

#endif
