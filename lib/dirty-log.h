/* SPDX-License-Identifier: MIT */
/* Dirty-page logging for live migration (VHOST_F_LOG_ALL, LOG_SHMFD): a
 * bitmap in shared memory, one bit per 4 KiB guest page, that the front
 * end scans to know which pages to copy again. Every write the library
 * makes to guest memory is logged: used-ring updates, and the bytes a
 * device reports written when it completes a request. */
#ifndef VHD_DIRTY_LOG_H
#define VHD_DIRTY_LOG_H

#include <stddef.h>
#include <stdint.h>

struct vhostdev;
struct vhostdev_queue;
struct vhostdev_req;
struct vhd_message;

#define VHD_LOG_PAGE 4096

struct vhd_dirty_log {
	void *map;
	size_t map_size;
	uint8_t *bitmap;       /* log start */
	uint64_t size;         /* bytes of bitmap */
	int notify_fd;         /* SET_LOG_FD: optional, unused by QEMU */
};

int vhd_handle_set_log_base(struct vhostdev *dev, struct vhd_message *msg);
int vhd_handle_set_log_fd(struct vhostdev *dev, struct vhd_message *msg);
void vhd_dirty_log_release(struct vhostdev *dev);
/* Unmaps the log and closes its fd, touching no ring (device freed). */
void vhd_dirty_log_free(struct vhd_dirty_log *log);
/* Recomputes what each ring logs after the log, the acked features or
 * a ring's addresses changed (control thread, quiesced). */
void vhd_dirty_log_update(struct vhostdev *dev);

/* Data path: the ring's used area (split) or descriptor ring (packed)
 * was written at [offset, offset + len); the device wrote the first
 * `written` device-writable bytes of req. */
void vhd_log_ring_write(struct vhostdev_queue *q, uint64_t offset,
			uint64_t len);
void vhd_log_device_event_write(struct vhostdev_queue *q, uint64_t offset,
				uint64_t len);
void vhd_log_req_written(struct vhostdev_queue *q,
			 const struct vhostdev_req *req, uint32_t written);

#endif
