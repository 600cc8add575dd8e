/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-blk's device: the objects shared by the control thread
 * (blk-device.c: vhostdev callbacks, config space, resize) and the worker
 * threads (worker.c: the loop and the quiesce handshake; request.c: one
 * virtio-blk request from pop to completion).
 *
 * Every queue is detached and served by one worker; a worker serves one or
 * more queues and owns one io_uring. Each queue has a preallocated slot per
 * ring entry, so steady-state requests allocate nothing.
 */
#ifndef VHOSTDEV_BLK_H
#define VHOSTDEV_BLK_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backing.h"
#include "discard-helper.h"
#include "daemon.h"
#include "spin.h"
#include "virtio-blk.h"

/* Data segments the guest may use per request (config seg_max). */
#define BLK_SEG_MAX 126
/* Buffers one request may need: header, data, status, and as many again
 * for guest buffers the library splits at memory-region boundaries. */
#define BLK_IOV_MAX (2 * (BLK_SEG_MAX + 2))
/* Largest single data segment (config size_max). */
#define BLK_SIZE_MAX (1u << 20)
/* Discard and write-zeroes limits (config). */
#define BLK_MAX_DISCARD_SECTORS (1u << 22)
#define BLK_MAX_DISCARD_SEG 32u
#define BLK_MAX_WRITE_ZEROES_SECTORS (1u << 22)
#define BLK_MAX_WRITE_ZEROES_SEG 32u

struct blk_options {
	const char *blk_file;
	const char *serial;
	bool read_only;
	bool poll;
	unsigned int poll_us;  /* interrupt mode: polling after a wake-up */
	bool direct;           /* --cache=none */
	unsigned int num_queues;
	unsigned int queue_size;
	unsigned int threads;  /* 0: one per queue */
};

struct blk_queue;

/* One request in progress. */
struct blk_slot {
	struct blk_queue *queue;
	struct vhostdev_req *req;
	uint32_t type;
	uint64_t sector;        /* of a read or write */
	bool use_buffered;      /* not through the O_DIRECT descriptor */
	uint32_t data_len;      /* bytes to read or write */
	uint32_t written;       /* bytes of device-writable data produced */
	size_t status_offset;   /* of the status byte in the in buffers */
	/* Discard / write-zeroes: segments are done one after another. */
	uint32_t seg_count;
	uint32_t seg_next;
	int fallocate_mode;     /* of the operation in flight */
	bool fallback_tried;    /* the other fallocate() mode was tried */
	struct blk_slot *helper_next; /* in the discard helper's queue */
	bool helper_done;       /* atomic: the helper is done with the slot */
	uint64_t seg_offset;
	uint64_t seg_len;
	unsigned int niov;
	struct iovec iov[BLK_IOV_MAX];
};

struct blk_worker;
struct blk_device;

struct blk_queue {
	struct blk_device *blk;
	struct blk_worker *worker;
	struct vhostdev_queue *vq;
	unsigned int nslots;
	struct blk_slot *slots;
	unsigned int *free;      /* stack of free slot indices */
	unsigned int nfree;
	bool completed;          /* pushed since the last notify */
	bool kicks_off;          /* polling: guest kicks suppressed */
};

struct blk_worker {
	struct blk_device *blk;
	unsigned int index;
	pthread_t thread;
	bool started;
	struct io_uring ring;
	bool ring_ready;
	int ring_event_fd;       /* registered with the ring: CQEs arrived */
	int wake_fd;             /* quiesce and shutdown */
	unsigned int inflight;   /* SQEs submitted, CQEs not yet reaped */
	unsigned int nqueues;
	struct blk_queue **queues;
	/* --poll: passes over the rings so far, and since when they have
	 * been idle (0: they were not). */
	unsigned int passes;
	uint64_t last_work_ns;
	/* Interrupt mode: how long to keep polling after a wake-up (adapts
	 * between 0 and --poll-us), and how long the last poll() slept. */
	struct spin_window spin;
	uint64_t slept_ns;
};

struct blk_device {
	struct vhostdev *dev;
	struct daemon *daemon;
	const char *program;
	struct blk_options opt;
	struct backing backing;
	char serial[VIRTIO_BLK_ID_BYTES];

	/* Read by the workers, changed by the control thread. */
	uint64_t capacity;       /* bytes; atomic */
	uint8_t writeback;       /* atomic: 0 makes every write O_DSYNC */
	uint64_t acked_features; /* atomic */

	unsigned int nqueues;
	struct blk_queue *queues;
	unsigned int nworkers;
	struct blk_worker *workers;

	/* Quiesce handshake: the control thread raises quiesced and waits
	 * (asynchronously) until every worker has stopped; the last one calls
	 * vhostdev_quiesce_done(). The resume callback lowers it. */
	pthread_mutex_t lock;
	pthread_cond_t resumed;
	bool quiesced;           /* under lock, read atomically by workers */
	unsigned int quiesce_gen;
	unsigned int stopping_workers;
	bool shutdown;           /* atomic */

	/* Block devices only: runs BLKDISCARD (see discard-helper.h). */
	struct discard_helper discard;

	int hup_fd;              /* signalfd for SIGHUP: resize */
	int timer_fd;            /* periodic size check */
};

/* blk-device.c */
int blk_device_init(struct blk_device *blk, const char *program,
		    const struct blk_options *opt);
int blk_device_attach(struct blk_device *blk, struct daemon *d);
void blk_device_fini(struct blk_device *blk);
/* Looks at the backing size again; a change updates the capacity and tells
 * the front end. */
int blk_device_check_size(struct blk_device *blk);

/* worker.c */
int blk_workers_start(struct blk_device *blk);
void blk_workers_stop(struct blk_device *blk);
int blk_quiesce(struct vhostdev *dev, void *userdata);
void blk_resume(struct vhostdev *dev, void *userdata);
/* Takes an SQE from the worker's ring, submitting what is queued when it is
 * full. NULL only when submission fails. */
struct io_uring_sqe *blk_worker_get_sqe(struct blk_worker *w);
/* Waits for everything the worker has in flight and completes it. */
void blk_worker_drain(struct blk_worker *w);

/* request.c */
int blk_queue_alloc(struct blk_queue *q, unsigned int nslots);
void blk_queue_free(struct blk_queue *q);
/* Pops and starts every available request of q; returns how many. */
unsigned int blk_queue_serve(struct blk_queue *q);
/* An io_uring completion for slot. */
void blk_slot_complete_io(struct blk_slot *slot, int res);
/* Signals the guest if q completed requests since the last call. */
void blk_queue_flush_notify(struct blk_queue *q);

#endif
