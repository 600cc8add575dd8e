/* SPDX-License-Identifier: MIT */
/* What the message handlers share with the dispatcher. */
#ifndef VHD_DISPATCH_H
#define VHD_DISPATCH_H

#include "device.h"

/* Handler results besides 0 (done, acknowledge) and -errno (refused). */
#define VHD_REPLIED 1  /* the handler sent the reply itself */
#define VHD_DEFER 2    /* call again later (dev->wait says why) */

typedef int (*vhd_handler)(struct vhostdev *dev, struct vhd_message *msg);

/* Sends a reply to msg with this payload (and fds). */
int vhd_reply(struct vhostdev *dev, const struct vhd_message *msg,
	      const void *payload, uint32_t size, const int *fds,
	      unsigned int nfds);
int vhd_reply_u64(struct vhostdev *dev, const struct vhd_message *msg,
		  uint64_t value);
/* Takes the message's fd at index i (the dispatcher will not close it). */
int vhd_message_take_fd(struct vhd_message *msg, unsigned int i);
/* The queue named by a message's index, or NULL (and an error logged). */
struct vhostdev_queue *vhd_message_queue(struct vhostdev *dev,
					 const struct vhd_message *msg,
					 uint32_t index);
const char *vhd_request_name(uint32_t request);

/* Handlers (handle-device.c, handle-memory.c, handle-vring.c). */
int vhd_handle_get_features(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_features(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_owner(struct vhostdev *, struct vhd_message *);
int vhd_handle_reset(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_protocol_features(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_protocol_features(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_queue_num(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_backend_req_fd(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_config(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_config(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_status(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_status(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_shared_object(struct vhostdev *, struct vhd_message *);
int vhd_handle_device_message(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_mem_table(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_max_mem_slots(struct vhostdev *, struct vhd_message *);
int vhd_handle_add_mem_reg(struct vhostdev *, struct vhd_message *);
int vhd_handle_rem_mem_reg(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_vring_num(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_vring_addr(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_vring_base(struct vhostdev *, struct vhd_message *);
int vhd_handle_get_vring_base(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_vring_fd(struct vhostdev *, struct vhd_message *);
int vhd_handle_set_vring_enable(struct vhostdev *, struct vhd_message *);
int vhd_handle_vring_kick(struct vhostdev *, struct vhd_message *);

/* Unmaps retired guest memory once no request is in flight. */
void vhd_memory_reap(struct vhostdev *dev);

/* Stops every started ring, waiting for in-flight requests: 0 done,
 * VHD_DEFER waiting. */
int vhd_stop_all_queues(struct vhostdev *dev);
/* Device state back to "just connected" (features, rings, status). */
void vhd_reset_device_state(struct vhostdev *dev);

#endif
