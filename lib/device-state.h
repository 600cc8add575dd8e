/* SPDX-License-Identifier: MIT */
/* Device state transfer for migration (SET_DEVICE_STATE_FD,
 * CHECK_DEVICE_STATE): the library frames the device's own state blob
 * with a header of its own and streams it through the front end's pipe
 * without ever blocking the control thread. */
#ifndef VHD_DEVICE_STATE_H
#define VHD_DEVICE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vhostdev;
struct vhd_message;

/* What a load may bring at most: the front end's pipe is not a way to
 * make us allocate without bound. */
#define VHD_STATE_MAX (256u << 20)

struct vhd_state_transfer {
	int fd;              /* the pipe, or -1 */
	int direction;       /* VHU_STATE_SAVE or VHU_STATE_LOAD */
	uint8_t *buf;        /* header + blob */
	size_t size;         /* save: bytes to write; load: bytes held */
	size_t cap;
	size_t done;         /* save: bytes written */
	int result;          /* 0, or -errno: what CHECK_DEVICE_STATE says */
	bool finished;
};

int vhd_handle_set_device_state_fd(struct vhostdev *dev,
				   struct vhd_message *msg);
int vhd_handle_check_device_state(struct vhostdev *dev,
				  struct vhd_message *msg);
/* The pipe is ready: moves what it can. 1 progress, 0 none. */
int vhd_state_transfer_step(struct vhostdev *dev);
/* Drops a transfer (front end gone, device freed). */
void vhd_state_transfer_end(struct vhostdev *dev);

#endif
