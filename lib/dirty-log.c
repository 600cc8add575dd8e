/* SPDX-License-Identifier: MIT */
/* Dirty-page logging: the log region from SET_LOG_BASE, which rings log
 * what, and setting bits. A bit is set after the write it records, so
 * the front end never copies a page, clears its bit, and misses the write
 * that follows. Bits are set with atomic ORs: other back ends and QEMU
 * itself share the bitmap. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "dirty-log.h"

void vhd_dirty_log_free(struct vhd_dirty_log *log)
{
	if (log->map)
		munmap(log->map, log->map_size);
	log->map = NULL;
	log->bitmap = NULL;
	log->size = 0;
	if (log->notify_fd >= 0)
		close(log->notify_fd);
	log->notify_fd = -1;
}

void vhd_dirty_log_release(struct vhostdev *dev)
{
	vhd_dirty_log_free(&dev->log);
	vhd_dirty_log_update(dev);
}

void vhd_dirty_log_update(struct vhostdev *dev)
{
	bool mapped = dev->log.bitmap != NULL;
	bool all = mapped && vhd_has_feature(dev, VHOSTDEV_F_LOG_ALL);

	for (unsigned int i = 0; i < dev->num_queues; i++) {
		struct vhostdev_queue *q = &dev->queues[i];
		bool ring = mapped && (q->addr_flags & VHU_VRING_F_LOG);
		uint64_t gpa = 0;

		q->log = &dev->log;
		q->log_buffers = all;
		/* Split: the used ring, at the address the front end gave
		 * for logging. Packed: the device writes into the
		 * descriptor ring, found through the memory table; its
		 * event area is at the logging address. */
		if (ring && q->packed &&
		    vhd_memory_uva_to_gpa(dev->mem, q->desc_uva, &gpa) < 0) {
			vhd_warn(dev, "queue %u: descriptor ring has no guest address; its writes are not logged",
				 q->index);
			ring = false;
		}
		q->log_ring_gpa = q->packed ? gpa : q->log_gpa;
		q->log_ring = ring;
	}
}

int vhd_handle_set_log_base(struct vhostdev *dev, struct vhd_message *msg)
{
	const struct vhu_log *in = &msg->payload.log;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = in->mmap_offset & ~(page - 1);
	uint64_t slack = in->mmap_offset - start;
	int fd = vhd_message_take_fd(msg, 0), r = 0;
	struct stat st;
	void *map;

	if (in->mmap_size == 0 || in->mmap_size > SIZE_MAX / 2 ||
	    in->mmap_offset > (uint64_t)INT64_MAX - in->mmap_size) {
		vhd_err(dev, "SET_LOG_BASE: log of %llu bytes at %llu refused",
			(unsigned long long)in->mmap_size,
			(unsigned long long)in->mmap_offset);
		r = -EINVAL;
	} else if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (S_ISREG(st.st_mode) &&
		   in->mmap_offset + in->mmap_size > (uint64_t)st.st_size) {
		vhd_err(dev, "SET_LOG_BASE: log runs past the end of its file");
		r = -EINVAL;
	}
	if (r == 0) {
		map = mmap(NULL, (size_t)(slack + in->mmap_size),
			   PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
		if (map == MAP_FAILED)
			r = -errno;
	}
	close(fd);
	if (r < 0) {
		/* The front end waits for an answer either way. */
		vhd_reply_u64(dev, msg, (uint64_t)-r);
		return VHD_REPLIED;
	}
	if (dev->log.map)
		munmap(dev->log.map, dev->log.map_size);
	dev->log.map = map;
	dev->log.map_size = (size_t)(slack + in->mmap_size);
	dev->log.bitmap = (uint8_t *)map + slack;
	dev->log.size = in->mmap_size;
	vhd_dirty_log_update(dev);
	vhd_dbg(dev, "dirty log: %llu bytes (%llu MiB of guest memory)",
		(unsigned long long)in->mmap_size,
		(unsigned long long)(in->mmap_size * 8 * VHD_LOG_PAGE >> 20));
	vhd_reply_u64(dev, msg, 0);
	return VHD_REPLIED;
}

int vhd_handle_set_log_fd(struct vhostdev *dev, struct vhd_message *msg)
{
	if (dev->log.notify_fd >= 0)
		close(dev->log.notify_fd);
	dev->log.notify_fd = vhd_message_take_fd(msg, 0);
	return 0;
}

/* ---- setting bits (data path) ------------------------------------------- */

static void log_range(const struct vhd_dirty_log *log, uint64_t gpa,
		      uint64_t len)
{
	uint64_t first, last;

	if (len == 0 || !log->bitmap)
		return;
	first = gpa / VHD_LOG_PAGE;
	last = (gpa + len - 1) / VHD_LOG_PAGE;
	if (last < first)
		last = UINT64_MAX / VHD_LOG_PAGE;
	/* Pages past the end of the log are outside guest memory as the
	 * front end sized it: there is nothing to record. */
	for (uint64_t page = first; page <= last && page / 8 < log->size;
	     page++)
		__atomic_fetch_or(&log->bitmap[page / 8],
				  (uint8_t)(1u << (page % 8)),
				  __ATOMIC_RELEASE);
}

void vhd_log_ring_write(struct vhostdev_queue *q, uint64_t offset,
			uint64_t len)
{
	log_range(q->log, q->log_ring_gpa + offset, len);
}

void vhd_log_device_event_write(struct vhostdev_queue *q, uint64_t offset,
				uint64_t len)
{
	log_range(q->log, q->log_gpa + offset, len);
}

void vhd_log_req_written(struct vhostdev_queue *q,
			 const struct vhostdev_req *req, uint32_t written)
{
	const struct iovec *iov = req->iov + req->nout;

	for (unsigned int i = 0; i < req->nin && written; i++) {
		size_t n = iov[i].iov_len < written ? iov[i].iov_len : written;
		uint64_t gpa;

		/* A buffer is within one region (iovecs are split at region
		 * borders). One of a replaced table has no address now. */
		if (vhd_memory_host_to_gpa(q->mem, iov[i].iov_base, &gpa) == 0)
			log_range(q->log, gpa, n);
		written -= (uint32_t)n;
	}
}
