/* SPDX-License-Identifier: MIT */
/*
 * libvhostdev: the back-end side of the vhost-user protocol.
 *
 * A program creates a device, installs callbacks, and serves a virtio
 * device to a vhost-user front end (QEMU) from its own event loop: it waits
 * for vhostdev_get_fd() to become readable and calls vhostdev_process().
 * Queues can be handed to worker threads, each with its own stable fd.
 *
 * Threading contract (see also README.md and each man page):
 *  - "control thread": whichever thread calls vhostdev_process(). Every
 *    vhostdev_* function taking a struct vhostdev may only be called there,
 *    one call at a time, except vhostdev_quiesce_done() (any thread).
 *  - An attached queue (the default) is served on the control thread.
 *  - A detached queue (vhostdev_queue_set_detached()) is served by exactly
 *    one worker thread, which may call the vhostdev_queue_* and
 *    vhostdev_req_* functions for that queue, and nothing else, except
 *    between a quiesce callback and its matching resume callback, when it
 *    must not touch the queue at all.
 *  - Callbacks run on the thread that called vhostdev_process() or
 *    vhostdev_queue_process(); calling vhostdev_process() from inside one of
 *    them returns -EBUSY.
 */
#ifndef VHOSTDEV_H
#define VHOSTDEV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vhostdev;
struct vhostdev_queue;
struct vhostdev_req;

/* Transport feature bits (virtio spec, "Reserved Feature Bits"). */
enum vhostdev_feature {
	VHOSTDEV_F_NOTIFY_ON_EMPTY = 24,
	VHOSTDEV_F_LOG_ALL = 26,
	VHOSTDEV_F_RING_INDIRECT_DESC = 28,
	VHOSTDEV_F_RING_EVENT_IDX = 29,
	VHOSTDEV_F_PROTOCOL_FEATURES = 30,
	VHOSTDEV_F_VERSION_1 = 32,
	VHOSTDEV_F_ACCESS_PLATFORM = 33,
	VHOSTDEV_F_RING_PACKED = 34,
	VHOSTDEV_F_IN_ORDER = 35
};

/* vhost-user protocol feature bits. */
enum vhostdev_protocol_feature {
	VHOSTDEV_PF_MQ = 0,
	VHOSTDEV_PF_LOG_SHMFD = 1,
	VHOSTDEV_PF_RARP = 2,
	VHOSTDEV_PF_REPLY_ACK = 3,
	VHOSTDEV_PF_NET_MTU = 4,
	VHOSTDEV_PF_BACKEND_REQ = 5,
	VHOSTDEV_PF_CROSS_ENDIAN = 6,
	VHOSTDEV_PF_CRYPTO_SESSION = 7,
	VHOSTDEV_PF_PAGEFAULT = 8,
	VHOSTDEV_PF_CONFIG = 9,
	VHOSTDEV_PF_BACKEND_SEND_FD = 10,
	VHOSTDEV_PF_HOST_NOTIFIER = 11,
	VHOSTDEV_PF_INFLIGHT_SHMFD = 12,
	VHOSTDEV_PF_RESET_DEVICE = 13,
	VHOSTDEV_PF_INBAND_NOTIFICATIONS = 14,
	VHOSTDEV_PF_CONFIGURE_MEM_SLOTS = 15,
	VHOSTDEV_PF_STATUS = 16,
	VHOSTDEV_PF_XEN_MMAP = 17,
	VHOSTDEV_PF_SHARED_OBJECT = 18,
	VHOSTDEV_PF_DEVICE_STATE = 19
};

/* Log priorities, as syslog's. */
enum vhostdev_log_priority {
	VHOSTDEV_LOG_ERR = 3,
	VHOSTDEV_LOG_WARNING = 4,
	VHOSTDEV_LOG_INFO = 6,
	VHOSTDEV_LOG_DEBUG = 7
};

/* ---- device lifetime ---------------------------------------------------- */

/* device_id is the virtio device type (2 = block, 4 = entropy, ...). */
int vhostdev_new(uint32_t device_id, unsigned int num_queues,
		 struct vhostdev **out);
struct vhostdev *vhostdev_ref(struct vhostdev *dev);
struct vhostdev *vhostdev_unref(struct vhostdev *dev);

void vhostdev_set_userdata(struct vhostdev *dev, void *userdata);
void *vhostdev_get_userdata(struct vhostdev *dev);
uint32_t vhostdev_get_device_id(struct vhostdev *dev);
unsigned int vhostdev_get_num_queues(struct vhostdev *dev);

/* ---- logging ------------------------------------------------------------ */

typedef void (*vhostdev_log_fn)(struct vhostdev *dev, int priority,
				const char *file, int line, const char *fn,
				const char *format, va_list args,
				void *userdata);
/* Silent until a log function is set; VHOSTDEV_LOG=err|warning|info|debug
 * (or 3..7) in the environment sets the starting priority (default err). */
void vhostdev_set_log_fn(struct vhostdev *dev, vhostdev_log_fn fn,
			 void *userdata);
int vhostdev_set_log_priority(struct vhostdev *dev, int priority);
int vhostdev_get_log_priority(struct vhostdev *dev);

/* ---- what is offered ---------------------------------------------------- */

/* The offered set starts as every transport feature the library supports;
 * a device adds its own bits and may withhold any. */
int vhostdev_set_features(struct vhostdev *dev, uint64_t features);
uint64_t vhostdev_get_features(struct vhostdev *dev);
/* What the front end acknowledged (0 before SET_FEATURES). */
uint64_t vhostdev_get_acked_features(struct vhostdev *dev);
int vhostdev_set_protocol_features(struct vhostdev *dev, uint64_t features);
uint64_t vhostdev_get_protocol_features(struct vhostdev *dev);
uint64_t vhostdev_get_acked_protocol_features(struct vhostdev *dev);
/* Largest ring the device accepts (default and maximum 32768). */
int vhostdev_set_max_queue_size(struct vhostdev *dev, unsigned int size);

/* Config space as the library serves it when no read callback is set.
 * Adds VHOSTDEV_PF_CONFIG to the offered protocol features (as installing
 * a config read callback does); a device whose front end must not see it
 * clears it afterwards with vhostdev_set_protocol_features(). */
int vhostdev_set_config(struct vhostdev *dev, const void *config,
			size_t size);
/* Updates the stored config (if config != NULL) and, when the front end set
 * up a back-end channel with CONFIG, sends it CONFIG_CHANGE_MSG. */
int vhostdev_notify_config_change(struct vhostdev *dev, const void *config,
				  size_t size);

/* ---- callbacks ---------------------------------------------------------- */

/* Each callback gets the device's userdata. Returning a negative errno
 * refuses the front end's request (it gets a failed REPLY_ACK or, where a
 * reply is owed anyway, an error reply). */
typedef int (*vhostdev_features_fn)(struct vhostdev *dev, uint64_t acked,
				    void *userdata);
typedef int (*vhostdev_config_read_fn)(struct vhostdev *dev, uint32_t offset,
				       void *buf, uint32_t size,
				       void *userdata);
typedef int (*vhostdev_config_write_fn)(struct vhostdev *dev, uint32_t offset,
					const void *buf, uint32_t size,
					void *userdata);
typedef void (*vhostdev_queue_fn)(struct vhostdev *dev,
				  struct vhostdev_queue *q, void *userdata);
typedef void (*vhostdev_device_fn)(struct vhostdev *dev, void *userdata);
/* Quiesce: stop touching every detached queue. Return 0 when that is done,
 * or -EBUSY and call vhostdev_quiesce_done() later from any thread. The
 * library changes nothing until then, then calls the resume callback. */
typedef int (*vhostdev_quiesce_fn)(struct vhostdev *dev, void *userdata);
/* Device-specific front-end request: return >= 0 when handled, -ENOTSUP
 * when not known. fds are closed after the call: dup() what you keep. */
typedef int (*vhostdev_message_fn)(struct vhostdev *dev, uint32_t request,
				   const void *payload, size_t size,
				   const int *fds, size_t nfds,
				   void *userdata);

/* Device state for migration (VHOSTDEV_PF_DEVICE_STATE): save returns
 * the device's own state as a malloc()ed blob the library frees (NULL and
 * 0 when there is none); load gets the blob a source device saved. Both
 * run on the control thread with every ring stopped. The library adds
 * and checks its own header (device id, queues, features). */
typedef int (*vhostdev_state_save_fn)(struct vhostdev *dev, void **blob,
				      size_t *size, void *userdata);
typedef int (*vhostdev_state_load_fn)(struct vhostdev *dev, const void *blob,
				      size_t size, void *userdata);

int vhostdev_set_features_fn(struct vhostdev *dev, vhostdev_features_fn fn);
int vhostdev_set_config_read_fn(struct vhostdev *dev,
				vhostdev_config_read_fn fn);
int vhostdev_set_config_write_fn(struct vhostdev *dev,
				 vhostdev_config_write_fn fn);
int vhostdev_set_queue_start_fn(struct vhostdev *dev, vhostdev_queue_fn fn);
int vhostdev_set_queue_stop_fn(struct vhostdev *dev, vhostdev_queue_fn fn);
int vhostdev_set_queue_kick_fn(struct vhostdev *dev, vhostdev_queue_fn fn);
int vhostdev_set_quiesce_fn(struct vhostdev *dev, vhostdev_quiesce_fn fn);
int vhostdev_set_resume_fn(struct vhostdev *dev, vhostdev_device_fn fn);
int vhostdev_set_reset_fn(struct vhostdev *dev, vhostdev_device_fn fn);
int vhostdev_set_connect_fn(struct vhostdev *dev, vhostdev_device_fn fn);
int vhostdev_set_disconnect_fn(struct vhostdev *dev, vhostdev_device_fn fn);
int vhostdev_set_state_save_fn(struct vhostdev *dev,
			       vhostdev_state_save_fn fn);
int vhostdev_set_state_load_fn(struct vhostdev *dev,
			       vhostdev_state_load_fn fn);
int vhostdev_set_message_fn(struct vhostdev *dev, vhostdev_message_fn fn);

int vhostdev_quiesce_done(struct vhostdev *dev);

/* ---- connection --------------------------------------------------------- */

/* Server mode: listen on path (mode 0600 unless vhostdev_set_socket_mode()
 * said otherwise, an existing socket file is replaced). */
int vhostdev_listen(struct vhostdev *dev, const char *path);
int vhostdev_set_socket_mode(struct vhostdev *dev, unsigned int mode);
/* Adopt an fd: a listening socket (server mode) or a connected one. The
 * device owns it from then on. */
int vhostdev_adopt_fd(struct vhostdev *dev, int fd);
/* Client mode: connect to a front end listening on path. Returns -errno of
 * connect() when it fails (the caller retries). */
int vhostdev_connect(struct vhostdev *dev, const char *path);
/* 1 while a front end is connected. */
int vhostdev_is_connected(struct vhostdev *dev);
/* Closes the connection as if the front end had left. */
int vhostdev_disconnect(struct vhostdev *dev);

/* ---- the event loop ----------------------------------------------------- */

/* One fd from vhostdev_new() to the last unref: poll it for POLLIN. */
int vhostdev_get_fd(struct vhostdev *dev);
/* Non-blocking: > 0 progress, 0 nothing to do, < 0 error, -EBUSY when
 * called from a callback. */
int vhostdev_process(struct vhostdev *dev);

/* ---- queues ------------------------------------------------------------- */

struct vhostdev_queue *vhostdev_get_queue(struct vhostdev *dev,
					  unsigned int index);
unsigned int vhostdev_queue_get_index(struct vhostdev_queue *q);
struct vhostdev *vhostdev_queue_get_device(struct vhostdev_queue *q);
/* Ring size set by the front end (0 while not set). */
unsigned int vhostdev_queue_get_size(struct vhostdev_queue *q);
/* 1 when started and enabled: requests may be popped. */
int vhostdev_queue_is_ready(struct vhostdev_queue *q);

/* Take the queue out of the device fd (detached = 1) to serve it from a
 * worker thread, or put it back. Control thread, queue not started. */
int vhostdev_queue_set_detached(struct vhostdev_queue *q, int detached);
/* Stable fd of a queue: readable when kicked. */
int vhostdev_queue_get_fd(struct vhostdev_queue *q);
/* Drains kicks and calls the kick callback: > 0 kicked, 0 not. */
int vhostdev_queue_process(struct vhostdev_queue *q);
/* Suppress (enable = 0) or re-enable guest kicks. */
int vhostdev_queue_set_notification(struct vhostdev_queue *q, int enable);

/* 1 and *out set when a request was popped, 0 when the ring is empty,
 * -errno on a bad chain (the request is failed, or the device marked
 * DEVICE_NEEDS_RESET). */
int vhostdev_queue_pop(struct vhostdev_queue *q, struct vhostdev_req **out);
/* Signals the guest if the used ring moved and it wants to know. */
int vhostdev_queue_notify(struct vhostdev_queue *q);
/* Requests popped and not yet completed. */
unsigned int vhostdev_queue_get_inflight(struct vhostdev_queue *q);

/* Device-readable (out) and device-writable (in) parts of a request,
 * pointing into guest memory. Valid until the request completes. */
const struct iovec *vhostdev_req_get_out(struct vhostdev_req *req,
					 unsigned int *count);
const struct iovec *vhostdev_req_get_in(struct vhostdev_req *req,
					unsigned int *count);
size_t vhostdev_req_get_out_size(struct vhostdev_req *req);
size_t vhostdev_req_get_in_size(struct vhostdev_req *req);
uint16_t vhostdev_req_get_id(struct vhostdev_req *req);
struct vhostdev_queue *vhostdev_req_get_queue(struct vhostdev_req *req);
void vhostdev_req_set_userdata(struct vhostdev_req *req, void *userdata);
void *vhostdev_req_get_userdata(struct vhostdev_req *req);
/* Puts the request on the used ring with written bytes; no notification. */
int vhostdev_req_push(struct vhostdev_req *req, uint32_t written);
/* vhostdev_req_push() then vhostdev_queue_notify(). */
int vhostdev_req_complete(struct vhostdev_req *req, uint32_t written);

/* Copies between a request's buffers and plain memory. */
size_t vhostdev_req_read(struct vhostdev_req *req, size_t offset, void *buf,
			 size_t size);
size_t vhostdev_req_write(struct vhostdev_req *req, size_t offset,
			  const void *buf, size_t size);

void vhostdev_queue_set_userdata(struct vhostdev_queue *q, void *userdata);
void *vhostdev_queue_get_userdata(struct vhostdev_queue *q);

/* ---- device status and the back-end channel ----------------------------- */

/* Virtio device status byte as last set by the front end (SET_STATUS). */
uint8_t vhostdev_get_status(struct vhostdev *dev);
/* Marks the device DEVICE_NEEDS_RESET and, when the back-end channel is
 * up, sends the front end a config change so the driver notices. */
int vhostdev_set_needs_reset(struct vhostdev *dev);

/* Virtio shared objects (needs VHOSTDEV_PF_SHARED_OBJECT acked and a
 * back-end channel). _add keeps a copy of fd (a dmabuf), generates a new
 * UUID for it with libuuid, tells the front end, and hands the fd to the
 * front end when it asks (GET_SHARED_OBJECT). */
int vhostdev_shared_object_add(struct vhostdev *dev, int fd, uint8_t uuid[16]);
int vhostdev_shared_object_remove(struct vhostdev *dev,
				  const uint8_t uuid[16]);
/* Waits (up to 5 s) for the front end's answer: *fd is the object's dmabuf
 * fd, owned by the caller. */
int vhostdev_shared_object_lookup(struct vhostdev *dev,
				  const uint8_t uuid[16], int *fd);

#ifdef __cplusplus
}
#endif

#endif
