/* SPDX-License-Identifier: MIT */
/* The device object and the control-side helpers shared by the files that
 * implement the connection, the message handlers and the queues. */
#ifndef VHD_DEVICE_H
#define VHD_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhostdev.h"
#include "device-state.h"
#include "dirty-log.h"
#include "inflight.h"
#include "iotlb.h"
#include "memory.h"
#include "protocol.h"
#include "queue.h"

/* A message read from the front end, kept whole while it waits for the
 * device to quiesce or a ring to drain. */
struct vhd_message {
	struct vhu_header hdr;
	union {
		uint64_t u64;
		struct vhu_vring_state state;
		struct vhu_vring_addr addr;
		struct vhu_mem_table mem;
		struct vhu_single_region region;
		struct vhu_config config;
		struct vhu_shared_object object;
		struct vhu_inflight inflight;
		struct vhu_log log;
		struct vhu_device_state device_state;
		struct vhu_iotlb iotlb;
		uint8_t bytes[VHU_PAYLOAD_MAX];
	} payload;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
	bool fds_lost;      /* more fds came than we hold: refused */
};

/* Reading messages from a non-blocking stream a piece at a time. */
struct vhd_reader {
	struct vhd_message msg;
	size_t have;        /* bytes of header + payload received */
	size_t discard;     /* payload bytes still to throw away */
	bool oversized;     /* the payload did not fit: header only */
};

/* What a deferred message is waiting for. */
enum vhd_wait {
	VHD_WAIT_NONE,
	VHD_WAIT_QUIESCE,   /* quiesce callback returned -EBUSY */
	VHD_WAIT_DRAIN      /* a stopping queue still has requests in flight */
};

struct vhd_shared_object {
	uint8_t uuid[16];
	int fd;
};

struct vhostdev {
	int refcount;
	uint32_t device_id;
	unsigned int num_queues;
	void *userdata;

	vhostdev_log_fn log_fn;
	void *log_data;
	int log_priority;

	/* Offered and acknowledged. */
	uint64_t features, acked_features;
	uint64_t protocol_features, acked_protocol_features;
	bool features_set;
	unsigned int max_queue_size;
	uint8_t status;
	bool owner;

	uint8_t *config;
	size_t config_size;

	struct {
		vhostdev_features_fn features;
		vhostdev_config_read_fn config_read;
		vhostdev_config_write_fn config_write;
		vhostdev_queue_fn queue_start, queue_stop, queue_kick;
		vhostdev_quiesce_fn quiesce;
		vhostdev_device_fn resume, reset, connect, disconnect;
		vhostdev_message_fn message;
		vhostdev_state_save_fn state_save;
		vhostdev_state_load_fn state_load;
	} cb;
	int in_callback;

	/* The device fd: an epoll set of the socket, event_fd and the fds of
	 * attached queues. */
	int epfd;
	int event_fd;          /* wakes process() from other threads */
	int listen_fd;
	int conn_fd;
	unsigned int socket_mode;
	char *socket_path;     /* unlinked at unref when we created it */
	struct vhd_reader reader;

	/* A message being handled across several process() calls. */
	bool pending;
	bool pending_disconnect; /* the pending work is a disconnect */
	enum vhd_wait wait;
	bool quiesced;
	int quiesce_done;      /* atomic: vhostdev_quiesce_done() was called */
	int needs_reset;       /* atomic: a worker found a broken ring */

	struct vhd_memory *mem;
	/* Old mappings waiting for in-flight requests to finish; retiring
	 * (atomic) tells workers to wake us when a queue runs dry. */
	struct vhd_retired retired;
	int retiring;

	/* Translations of a vIOMMU (ACCESS_PLATFORM). */
	struct vhd_iotlb iotlb;

	/* Device state transfer in progress (DEVICE_STATE). */
	struct vhd_state_transfer state;

	/* Dirty-page log (LOG_SHMFD). */
	struct vhd_dirty_log log;

	/* In-flight tracking region (INFLIGHT_SHMFD). */
	struct vhd_inflight_region inflight;

	int backend_fd;
	pthread_mutex_t backend_lock; /* in-band calls come from workers */

	struct vhd_shared_object *objects;
	unsigned int nobjects;

	struct vhostdev_queue *queues;
};

/* Logging (log.c). */
void vhd_log(struct vhostdev *dev, int priority, const char *file, int line,
	     const char *fn, const char *format, ...)
	__attribute__((format(printf, 6, 7)));
#define vhd_log_cond(dev, prio, ...)                                          \
	do {                                                                  \
		if ((dev)->log_fn && (dev)->log_priority >= (prio))           \
			vhd_log(dev, prio, __FILE__, __LINE__, __func__,      \
				__VA_ARGS__);                                 \
	} while (0)
#define vhd_err(dev, ...) vhd_log_cond(dev, VHOSTDEV_LOG_ERR, __VA_ARGS__)
#define vhd_warn(dev, ...) vhd_log_cond(dev, VHOSTDEV_LOG_WARNING, __VA_ARGS__)
#define vhd_info(dev, ...) vhd_log_cond(dev, VHOSTDEV_LOG_INFO, __VA_ARGS__)
#define vhd_dbg(dev, ...) vhd_log_cond(dev, VHOSTDEV_LOG_DEBUG, __VA_ARGS__)
int vhd_log_priority_from_env(void);

static inline bool vhd_has_feature(const struct vhostdev *dev, unsigned bit)
{
	return dev->acked_features & (1ull << bit);
}

static inline bool vhd_has_protocol(const struct vhostdev *dev, unsigned bit)
{
	return dev->acked_protocol_features & (1ull << bit);
}

/* What an event in the device's epoll set is about. */
enum vhd_tag {
	VHD_TAG_LISTEN,
	VHD_TAG_CONN,
	VHD_TAG_EVENT,
	VHD_TAG_STATE,
	VHD_TAG_QUEUE /* + queue index */
};

/* Wakes the control thread's poll on the device fd (any thread). */
void vhd_device_wake(struct vhostdev *dev);

/* Connection (conn.c). */
int vhd_conn_accept(struct vhostdev *dev);
/* Reads what is available: 1 a whole message is in dev->reader.msg, 0 need
 * more, -ECONNRESET the front end left, other -errno fatal. */
int vhd_conn_read(struct vhostdev *dev);
int vhd_conn_send(struct vhostdev *dev, uint32_t request, const void *payload,
		  uint32_t size, const int *fds, unsigned int nfds);
void vhd_conn_watch(struct vhostdev *dev, bool readable);
void vhd_conn_close(struct vhostdev *dev);
/* Server mode: accept the next front end once the last one is gone. */
void vhd_conn_listen_again(struct vhostdev *dev);
void vhd_message_close_fds(struct vhd_message *msg);

/* Message handling (dispatch.c). */
/* Handles dev->reader.msg or resumes the pending one: 1 done, 0 waiting. */
int vhd_dispatch(struct vhostdev *dev);
/* Starts tearing down the connection's state (may wait for rings). */
int vhd_dispatch_disconnect(struct vhostdev *dev);

/* Queues (queue.c). */
int vhd_queue_init(struct vhostdev *dev, struct vhostdev_queue *q,
		   unsigned int index);
void vhd_queue_fini(struct vhostdev_queue *q);
int vhd_queue_start(struct vhostdev_queue *q);
/* Whether any ring of the device has started (state that rings use, such
 * as the in-flight region or a device state transfer, may not change). */
bool vhd_rings_running(const struct vhostdev *dev);
/* Stops a ring for good (rings drained or abandoned), closes its fds
 * unless keep_fds. */
void vhd_queue_stop(struct vhostdev_queue *q);
/* Back to the state of a new connection. */
void vhd_queue_reset(struct vhostdev_queue *q);
/* Re-points a started ring after the memory table changed. */
int vhd_queue_remap(struct vhostdev_queue *q);
bool vhd_queue_running_detached(const struct vhostdev_queue *q);
/* Replaces the kick fd (-1: in-band kicks) and starts the ring. */
int vhd_queue_set_kick(struct vhostdev_queue *q, int fd);
/* Makes the queue's fd readable so its kick callback runs (any thread). */
void vhd_queue_wake(struct vhostdev_queue *q);

/* Back-end channel (backend.c). */
int vhd_backend_send(struct vhostdev *dev, uint32_t request,
		     const void *payload, uint32_t size, bool need_reply,
		     int *reply_fd);
void vhd_backend_close(struct vhostdev *dev);
void vhd_shared_objects_clear(struct vhostdev *dev);
int vhd_shared_object_find(struct vhostdev *dev, const uint8_t uuid[16]);

/* Callbacks run with in_callback raised so process() can refuse
 * re-entry. */
#define VHD_CALLBACK(dev, name, ...)                                          \
	({                                                                    \
		(dev)->in_callback++;                                         \
		__auto_type vhd_r_ = (dev)->cb.name(dev, ##__VA_ARGS__,       \
						    (dev)->userdata);         \
		(dev)->in_callback--;                                         \
		vhd_r_;                                                       \
	})
#define VHD_CALLBACK_VOID(dev, name, ...)                                     \
	do {                                                                  \
		if ((dev)->cb.name) {                                         \
			(dev)->in_callback++;                                 \
			(dev)->cb.name(dev, ##__VA_ARGS__, (dev)->userdata);  \
			(dev)->in_callback--;                                 \
		}                                                             \
	} while (0)

#endif
