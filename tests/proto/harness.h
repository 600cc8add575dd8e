/* SPDX-License-Identifier: MIT */
/*
 * The protocol tests' harness: a libvhostdev device served from its own
 * thread (a poll() + vhostdev_process() loop, or worker threads for
 * detached queues), implementing a simple echo device that copies each
 * request's device-readable bytes into its device-writable buffers; and a
 * front-end session (libvhostfront) talking to it over the real socket.
 *
 * Only the public API of libvhostdev is used. Every vhostdev_* call that
 * must run on the control thread goes through tdev_call().
 */
#ifndef PROTO_HARNESS_H
#define PROTO_HARNESS_H

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhostdev.h>

#include "vhostfront.h"

/* Test cases wait this long for anything before failing. */
#define T_TIMEOUT_MS 5000
/* A reply that must NOT come is waited for this long. */
#define T_QUIET_MS 200

#define T_MAX_QUEUES 4
#define T_MAX_HELD 256

struct tdev_opts {
	uint32_t device_id;         /* default 4 */
	unsigned int num_queues;    /* default 2 */
	/* Offered features / protocol features; 0 keeps the library's
	 * defaults. */
	uint64_t features;
	uint64_t protocol_features;
	/* Config space served by the library (size 0: none). */
	const void *config;
	size_t config_size;
	bool config_writable;       /* install a config write callback */
	/* Accept device-specific requests GPU_SET_SOCKET and 1000: the
	 * first fd that comes with one is written "ok" and closed. */
	bool messages;
	/* Serve every queue from a worker thread. */
	bool workers;
	/* Connect to this front-end socket instead of listening. */
	const char *connect_path;
};

struct tdev;

/* Starts the device thread (listening on tdev_path() unless in client
 * mode). Fails the test on error. */
struct tdev *tdev_start(const struct tdev_opts *opts);
/* Stops the threads and unrefs the device. */
void tdev_stop(struct tdev *td);
const char *tdev_path(const struct tdev *td);
struct vhostdev *tdev_dev(struct tdev *td);

/* Runs fn(td, arg) on the control thread and waits for it. */
void tdev_call(struct tdev *td, void (*fn)(struct tdev *td, void *arg),
	       void *arg);
/* The same in two halves, for calls that wait for the front end (the
 * test answers between them). */
void tdev_call_start(struct tdev *td, void (*fn)(struct tdev *td, void *arg),
		     void *arg);
void tdev_call_wait(struct tdev *td);
/* Helpers built on tdev_call(). */
uint64_t tdev_acked_features(struct tdev *td);
uint64_t tdev_acked_protocol_features(struct tdev *td);
int tdev_queue_ready(struct tdev *td, unsigned int q);
int tdev_connected(struct tdev *td);
uint8_t tdev_status(struct tdev *td);

/* Requests the echo device popped, completed, and bad chains it saw. */
unsigned int tdev_popped(struct tdev *td);
unsigned int tdev_completed(struct tdev *td);
unsigned int tdev_pop_errors(struct tdev *td);
/* Callback counts. */
unsigned int tdev_count(struct tdev *td, const char *what);
/* Errors the library logged, and the last one. */
unsigned int tdev_errors(struct tdev *td);
const char *tdev_last_error(struct tdev *td, char *buf, size_t len);
void tdev_reset_errors(struct tdev *td);

/* Hold popped requests instead of completing them, and release them. */
void tdev_hold(struct tdev *td, bool hold);
/* Completes held requests (on the thread serving their queue).
 * Returns how many. */
unsigned int tdev_release(struct tdev *td);
unsigned int tdev_held(struct tdev *td);

/* Device-specific requests the device accepted: count, and the last
 * one's id and payload size. */
unsigned int tdev_messages(struct tdev *td, uint32_t *request,
			   size_t *size);

/* Last config write the device accepted. */
unsigned int tdev_config_writes(struct tdev *td, uint32_t *offset,
				uint8_t *buf, uint32_t *size);

/* Waits (up to T_TIMEOUT_MS) until cond(td) is true; false on timeout. */
bool tdev_wait(struct tdev *td, bool (*cond)(struct tdev *td));

/* ---- front-end side ------------------------------------------------------ */

struct tsession {
	struct tdev *td;
	struct vhf_conn *c;
	struct vhf_mem *mem;
	struct vhf_vq *vq[T_MAX_QUEUES];
	uint64_t features;
	uint64_t protocol;
	/* Buffers for echo traffic, one pair of slots per chain. */
	uint64_t pool_gpa;
	unsigned int pool_slots;
};

/* Guest memory of a session: two regions with a hole between them. */
#define T_REGION0_GPA 0x100000ull
#define T_REGION0_SIZE (8ull << 20)
#define T_REGION1_GPA 0x40000000ull
#define T_REGION1_SIZE (4ull << 20)

/* Connects, negotiates (offered & want), sets the memory table. */
void ts_open(struct tsession *s, struct tdev *td, uint64_t want,
	     uint64_t want_protocol);
/* Only connects. */
void ts_connect(struct tsession *s, struct tdev *td);
/* ts_open() on a connection made some other way (client-mode back end). */
void ts_attach(struct tsession *s, struct tdev *td, struct vhf_conn *c,
	       uint64_t want, uint64_t want_protocol);
void ts_close(struct tsession *s);
/* A ring of this size on queue q in the session's layout, set up and
 * enabled (when PROTOCOL_FEATURES was acked). */
struct vhf_vq *ts_start_queue(struct tsession *s, unsigned int q,
			      unsigned int size);

/* One echo round trip on vq: len bytes of a pattern split over nout
 * readable buffers, answered into nin writable ones; checks the data and
 * the used length. */
void ts_echo(struct tsession *s, struct vhf_vq *vq, size_t len,
	     unsigned int nout, unsigned int nin, bool indirect);
/* Adds one echo chain using pool slot `slot` without waiting; returns its
 * id. check with ts_check_echo() after it is used. */
int ts_post(struct tsession *s, struct vhf_vq *vq, unsigned int slot,
	    size_t len, unsigned int nout, unsigned int nin, bool indirect);
void ts_check_echo(struct tsession *s, unsigned int slot, size_t len,
		   uint32_t used_len);
/* Waits for the call eventfd and collects one used entry. */
void ts_wait_used(struct tsession *s, struct vhf_vq *vq, uint16_t *id,
		  uint32_t *len);
/* Collects a used entry, polling up to T_TIMEOUT_MS (no interrupt
 * needed). */
bool ts_poll_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len);

/* The transport features the echo device offers by default. */
#define T_ALL_FEATURES                                                        \
	(VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_PROTOCOL_FEATURES) |        \
	 VHF_BIT(VHF_F_INDIRECT_DESC) | VHF_BIT(VHF_F_EVENT_IDX) |            \
	 VHF_BIT(VHF_F_RING_PACKED))
#define T_ALL_PROTOCOL (~0ull)

/* Every suite file provides this. */
Suite *proto_suite(void);

/* Adds a test case with the harness's timeout. */
TCase *t_tcase(Suite *s, const char *name);

#endif
