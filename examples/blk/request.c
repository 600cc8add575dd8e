/* SPDX-License-Identifier: MIT */
/*
 * One virtio-blk request, from vhostdev_queue_pop() to its status byte, on
 * the worker thread that owns the queue. Everything the guest wrote is
 * checked before anything touches the backing store: the header's size and
 * type, the data length, the sector range (with overflow), the status
 * byte's presence, every discard/write-zeroes segment. Reads, writes,
 * flushes and fallocate() calls go through the worker's io_uring and are
 * finished by blk_slot_complete_io() when their completion is reaped;
 * reads, writes and flushes of a file kept in memory are done at once.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"

/* Pop failures tolerated in one pass (the library already failed each
 * chain) before leaving the rest for the next kick. */
#define MAX_POP_ERRORS 16

int blk_queue_alloc(struct blk_queue *q, unsigned int nslots)
{
	q->slots = calloc(nslots, sizeof(*q->slots));
	q->free = calloc(nslots, sizeof(*q->free));
	if (!q->slots || !q->free) {
		blk_queue_free(q);
		return -ENOMEM;
	}
	q->nslots = nslots;
	for (unsigned int i = 0; i < nslots; i++) {
		q->slots[i].queue = q;
		q->free[i] = nslots - 1 - i;
	}
	q->nfree = nslots;
	return 0;
}

void blk_queue_free(struct blk_queue *q)
{
	free(q->slots);
	free(q->free);
	q->slots = NULL;
	q->free = NULL;
	q->nslots = q->nfree = 0;
}

static void release(struct blk_slot *slot)
{
	struct blk_queue *q = slot->queue;

	slot->req = NULL;
	q->free[q->nfree++] = (unsigned int)(slot - q->slots);
}

/* Writes the status byte and hands the request back to the guest. */
static void finish(struct blk_slot *slot, uint8_t status)
{
	uint32_t written = slot->written;

	if (status != VIRTIO_BLK_S_OK)
		written = 0;
	vhostdev_req_write(slot->req, slot->status_offset, &status, 1);
	vhostdev_req_push(slot->req, written + 1);
	slot->queue->completed = true;
	release(slot);
}

void blk_queue_flush_notify(struct blk_queue *q)
{
	if (!q->completed)
		return;
	q->completed = false;
	vhostdev_queue_notify(q->vq);
}

/* Copies the part [skip, skip + len) of a request's buffers into the
 * slot's iovec array, for readv/writev. Returns 0, or -E2BIG when it needs
 * more entries than a slot holds. */
static int take_iov(struct blk_slot *slot, const struct iovec *src,
		    unsigned int count, size_t skip, size_t len)
{
	slot->niov = 0;
	for (unsigned int i = 0; i < count && len; i++) {
		size_t n = src[i].iov_len;
		char *base = src[i].iov_base;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		base += skip;
		n -= skip;
		skip = 0;
		if (n > len)
			n = len;
		if (slot->niov == BLK_IOV_MAX)
			return -E2BIG;
		slot->iov[slot->niov].iov_base = base;
		slot->iov[slot->niov].iov_len = n;
		slot->niov++;
		len -= n;
	}
	return 0;
}

/* The range [sector, sector + bytes) lies inside the disk. */
static bool in_range(struct blk_device *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t capacity = __atomic_load_n(&blk->capacity, __ATOMIC_ACQUIRE);
	uint64_t cap_sectors = capacity >> VIRTIO_BLK_SECTOR_SHIFT;

	if (sector > cap_sectors)
		return false;
	return bytes <= (cap_sectors - sector) << VIRTIO_BLK_SECTOR_SHIFT;
}

static struct io_uring_sqe *get_sqe(struct blk_slot *slot)
{
	struct blk_worker *w = slot->queue->worker;
	struct io_uring_sqe *sqe = blk_worker_get_sqe(w);

	if (sqe) {
		io_uring_sqe_set_data(sqe, slot);
		w->inflight++;
	}
	return sqe;
}

/* O_DIRECT wants every buffer address and length aligned to the device's
 * logical block; guests usually comply, but need not. */
static bool direct_ok(const struct blk_slot *slot, unsigned int align)
{
	uintptr_t mask = align - 1;

	for (unsigned int i = 0; i < slot->niov; i++)
		if (((uintptr_t)slot->iov[i].iov_base | slot->iov[i].iov_len) &
		    mask)
			return false;
	return true;
}

static uint8_t submit_rw(struct blk_slot *slot);

/* A read or write of a file kept in memory, done at once on this thread
 * (see backing.h). Returns the status. */
static uint8_t rw_in_memory(struct blk_slot *slot, int fd, off_t offset,
			    int flags)
{
	const struct backing *b = &slot->queue->blk->backing;
	ssize_t n;

	do {
		if (slot->type == VIRTIO_BLK_T_OUT)
			n = pwritev2(fd, slot->iov, (int)slot->niov, offset,
				     flags);
		else
			n = preadv2(fd, slot->iov, (int)slot->niov, offset,
				    flags);
	} while (n < 0 && errno == EINTR);
	/* As in blk_slot_complete_io(): O_DIRECT refused, once more
	 * cached. */
	if (n < 0 && errno == EINVAL && !slot->use_buffered && b->direct) {
		slot->use_buffered = true;
		return submit_rw(slot);
	}
	if (n < 0 || (size_t)n != slot->data_len)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* Returns the status when the request is done at once, 0xff when it went
 * to the ring. */
static uint8_t submit_rw(struct blk_slot *slot)
{
	struct blk_device *blk = slot->queue->blk;
	const struct backing *b = &blk->backing;
	struct io_uring_sqe *sqe;
	int fd = slot->use_buffered ? b->fd_buffered : b->fd;
	uint64_t offset = slot->sector << VIRTIO_BLK_SECTOR_SHIFT;
	bool write = slot->type == VIRTIO_BLK_T_OUT;
	int flags = 0;

	/* Write-through cache mode: the write is stable when it
	 * completes. */
	if (write && !__atomic_load_n(&blk->writeback, __ATOMIC_RELAXED))
		flags = RWF_DSYNC;
	if (b->in_memory)
		return rw_in_memory(slot, fd, (off_t)offset, flags);
	sqe = get_sqe(slot);
	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	if (write)
		io_uring_prep_writev2(sqe, fd, slot->iov, slot->niov, offset,
				      flags);
	else
		io_uring_prep_readv(sqe, fd, slot->iov, slot->niov, offset);
	return 0xff;
}

static uint8_t start_rw(struct blk_slot *slot, uint64_t sector, bool write)
{
	struct blk_queue *q = slot->queue;
	struct blk_device *blk = q->blk;
	const struct iovec *iov;
	unsigned int count;
	size_t skip;

	if (write && blk->backing.read_only)
		return VIRTIO_BLK_S_IOERR;
	if (slot->data_len % VIRTIO_BLK_SECTOR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	if (!in_range(blk, sector, slot->data_len))
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		slot->written = slot->data_len;
	if (slot->data_len == 0 || blk->backing.kind == BACKING_NULL)
		return VIRTIO_BLK_S_OK;
	if (write) {
		iov = vhostdev_req_get_out(slot->req, &count);
		skip = sizeof(struct virtio_blk_req_header);
	} else {
		iov = vhostdev_req_get_in(slot->req, &count);
		skip = 0;
	}
	if (take_iov(slot, iov, count, skip, slot->data_len) < 0)
		return VIRTIO_BLK_S_IOERR;
	slot->sector = sector;
	/* Misaligned buffers go through the page cache instead, on a second
	 * descriptor opened without O_DIRECT: no bounce buffer to allocate,
	 * and Linux keeps the two views of the file coherent. */
	slot->use_buffered = blk->backing.direct &&
			     !direct_ok(slot, blk->backing.logical_block);
	return submit_rw(slot);
}

static uint8_t start_flush(struct blk_slot *slot)
{
	struct blk_device *blk = slot->queue->blk;
	struct io_uring_sqe *sqe;

	if (blk->backing.kind == BACKING_NULL)
		return VIRTIO_BLK_S_OK;
	/* io_uring always hands fsync to a kernel thread; in memory it
	 * has nothing to wait for. */
	if (blk->backing.in_memory)
		return fdatasync(blk->backing.fd) < 0 ? VIRTIO_BLK_S_IOERR :
							VIRTIO_BLK_S_OK;
	sqe = get_sqe(slot);
	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	io_uring_prep_fsync(sqe, blk->backing.fd, IORING_FSYNC_DATASYNC);
	return 0xff;
}

static uint8_t get_id(struct blk_slot *slot)
{
	struct blk_device *blk = slot->queue->blk;
	size_t n = slot->status_offset;

	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	slot->written = (uint32_t)vhostdev_req_write(slot->req, 0,
						     blk->serial, n);
	return VIRTIO_BLK_S_OK;
}

static bool feature_acked(struct blk_device *blk, unsigned int bit)
{
	return __atomic_load_n(&blk->acked_features, __ATOMIC_RELAXED) &
	       (1ull << bit);
}

/* Reads segment index of the request, in host byte order. */
static int read_segment(struct blk_slot *slot, uint32_t index,
			struct virtio_blk_segment *seg)
{
	size_t offset = sizeof(struct virtio_blk_req_header) +
			(size_t)index * sizeof(*seg);

	if (vhostdev_req_read(slot->req, offset, seg, sizeof(*seg)) !=
	    sizeof(*seg))
		return -EIO;
	seg->sector = le64toh(seg->sector);
	seg->num_sectors = le32toh(seg->num_sectors);
	seg->flags = le32toh(seg->flags);
	return 0;
}

/* The status a segment earns on its own: OK when it may be carried out. */
static uint8_t check_segment(struct blk_slot *slot,
			     const struct virtio_blk_segment *seg)
{
	struct blk_device *blk = slot->queue->blk;
	bool discard = slot->type == VIRTIO_BLK_T_DISCARD;
	uint32_t max_sectors = discard ? BLK_MAX_DISCARD_SECTORS :
					 BLK_MAX_WRITE_ZEROES_SECTORS;
	uint32_t align = blk->backing.logical_block / VIRTIO_BLK_SECTOR_SIZE;

	/* Unknown flags, and unmap on a discard, are not ours to guess at
	 * (virtio spec: the device answers UNSUPP). */
	if (seg->flags & ~VIRTIO_BLK_WZ_F_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (discard && (seg->flags & VIRTIO_BLK_WZ_F_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	if (seg->num_sectors > max_sectors)
		return VIRTIO_BLK_S_IOERR;
	if (seg->sector % align || seg->num_sectors % align)
		return VIRTIO_BLK_S_IOERR;
	if (!in_range(blk, seg->sector, (uint64_t)seg->num_sectors <<
					VIRTIO_BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* Checks every segment of a discard or write-zeroes request before any is
 * carried out, so that a bad one leaves the disk untouched. */
static uint8_t check_segments(struct blk_slot *slot, size_t bytes)
{
	bool discard = slot->type == VIRTIO_BLK_T_DISCARD;
	uint32_t max_seg = discard ? BLK_MAX_DISCARD_SEG :
				     BLK_MAX_WRITE_ZEROES_SEG;

	if (bytes == 0 || bytes % sizeof(struct virtio_blk_segment))
		return VIRTIO_BLK_S_IOERR;
	slot->seg_count = (uint32_t)(bytes / sizeof(struct virtio_blk_segment));
	if (slot->seg_count > max_seg)
		return VIRTIO_BLK_S_UNSUPP;
	for (uint32_t i = 0; i < slot->seg_count; i++) {
		struct virtio_blk_segment seg;
		uint8_t status;

		if (read_segment(slot, i, &seg) < 0)
			return VIRTIO_BLK_S_IOERR;
		status = check_segment(slot, &seg);
		if (status != VIRTIO_BLK_S_OK)
			return status;
	}
	return VIRTIO_BLK_S_OK;
}

/* The fallocate() mode to try first for a segment. On block devices the
 * kernel maps PUNCH_HOLE to a zero-out that may unmap and ZERO_RANGE to one
 * that keeps the blocks allocated, so write-zeroes takes one path for files
 * and devices (discards on devices go to the helper thread instead). */
static int first_mode(struct blk_slot *slot, uint32_t flags)
{
	if (slot->type == VIRTIO_BLK_T_DISCARD ||
	    (flags & VIRTIO_BLK_WZ_F_UNMAP))
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

static uint8_t submit_segment(struct blk_slot *slot, int mode)
{
	struct blk_device *blk = slot->queue->blk;
	struct io_uring_sqe *sqe;

	/* On a block device fallocate() zeroes; a discard is an ioctl. */
	if (blk->backing.kind == BACKING_BLOCK_DEVICE &&
	    slot->type == VIRTIO_BLK_T_DISCARD) {
		slot->queue->worker->inflight++;
		slot->fallocate_mode = 0;
		discard_helper_queue(&blk->discard, slot);
		return 0xff;
	}
	sqe = get_sqe(slot);
	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	slot->fallocate_mode = mode;
	io_uring_prep_fallocate(sqe, blk->backing.fd, mode,
				(off_t)slot->seg_offset, (off_t)slot->seg_len);
	return 0xff;
}

/* Starts the next segment with a non-zero length, or reports the request
 * done. */
static uint8_t next_segment(struct blk_slot *slot)
{
	while (slot->seg_next < slot->seg_count) {
		struct virtio_blk_segment seg;

		uint8_t status;

		if (read_segment(slot, slot->seg_next++, &seg) < 0)
			return VIRTIO_BLK_S_IOERR;
		/* The guest may have changed it since it was checked: what
		 * is carried out is checked again, as read. */
		status = check_segment(slot, &seg);
		if (status != VIRTIO_BLK_S_OK)
			return status;
		if (seg.num_sectors == 0)
			continue;
		slot->seg_offset = seg.sector << VIRTIO_BLK_SECTOR_SHIFT;
		slot->seg_len = (uint64_t)seg.num_sectors <<
				VIRTIO_BLK_SECTOR_SHIFT;
		slot->fallback_tried = false;
		return submit_segment(slot, first_mode(slot, seg.flags));
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t start_segments(struct blk_slot *slot, size_t out_size)
{
	struct blk_device *blk = slot->queue->blk;
	bool discard = slot->type == VIRTIO_BLK_T_DISCARD;
	uint8_t status;

	if (!feature_acked(blk, discard ? VIRTIO_BLK_F_DISCARD :
					  VIRTIO_BLK_F_WRITE_ZEROES))
		return VIRTIO_BLK_S_UNSUPP;
	if (blk->backing.read_only)
		return VIRTIO_BLK_S_IOERR;
	status = check_segments(slot, out_size -
				      sizeof(struct virtio_blk_req_header));
	if (status != VIRTIO_BLK_S_OK)
		return status;
	if (blk->backing.kind == BACKING_NULL)
		return VIRTIO_BLK_S_OK;
	slot->seg_next = 0;
	return next_segment(slot);
}

/* Returns the status when the request is done at once, 0xff when it went
 * to the ring. */
static uint8_t start(struct blk_slot *slot)
{
	size_t out_size = vhostdev_req_get_out_size(slot->req);
	struct virtio_blk_req_header hdr;

	slot->written = 0;
	if (out_size < sizeof(hdr) ||
	    vhostdev_req_read(slot->req, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	hdr.type = le32toh(hdr.type);
	hdr.sector = le64toh(hdr.sector);
	slot->type = hdr.type;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		slot->data_len = (uint32_t)slot->status_offset;
		return start_rw(slot, hdr.sector, false);
	case VIRTIO_BLK_T_OUT:
		if (out_size - sizeof(hdr) > UINT32_MAX)
			return VIRTIO_BLK_S_IOERR;
		slot->data_len = (uint32_t)(out_size - sizeof(hdr));
		return start_rw(slot, hdr.sector, true);
	case VIRTIO_BLK_T_FLUSH:
		return start_flush(slot);
	case VIRTIO_BLK_T_GET_ID:
		return get_id(slot);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return start_segments(slot, out_size);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void begin(struct blk_queue *q, struct vhostdev_req *req)
{
	size_t in_size = vhostdev_req_get_in_size(req);
	struct blk_slot *slot;
	uint8_t status;

	/* No room for a status byte: the driver broke the protocol and there
	 * is no way to say so but to give the chain back empty. */
	if (in_size == 0 || in_size > UINT32_MAX) {
		vhostdev_req_push(req, 0);
		q->completed = true;
		return;
	}
	slot = &q->slots[q->free[--q->nfree]];
	slot->req = req;
	slot->status_offset = in_size - 1;
	status = start(slot);
	if (status != 0xff)
		finish(slot, status);
}

unsigned int blk_queue_serve(struct blk_queue *q)
{
	struct blk_worker *w = q->worker;
	unsigned int errors = 0, taken = 0;

	/* Every slot busy cannot happen with a ring no larger than the slot
	 * count; should it, the rest waits in the ring. */
	while (q->nfree) {
		struct vhostdev_req *req;
		int r = vhostdev_queue_pop(q->vq, &req);

		if (r == 0)
			break;
		if (r < 0) {
			if (r == -ENOMEM || ++errors > MAX_POP_ERRORS)
				break;
			continue;
		}
		begin(q, req);
		taken++;
	}
	if (io_uring_sq_ready(&w->ring))
		io_uring_submit(&w->ring);
	blk_queue_flush_notify(q);
	return taken;
}

void blk_slot_complete_io(struct blk_slot *slot, int res)
{
	uint8_t status = VIRTIO_BLK_S_OK;
	int alt;

	switch (slot->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		/* Some alignment O_DIRECT wants that the check did not know
		 * about (a file system's block size): once more, cached. */
		if (res == -EINVAL && !slot->use_buffered &&
		    slot->queue->blk->backing.direct) {
			slot->use_buffered = true;
			status = submit_rw(slot);
			break;
		}
		if (res < 0 || (uint32_t)res != slot->data_len)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (res < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	default:
		if (slot->fallocate_mode == 0)
			/* From the discard helper: see discard-helper.c. */
			(void)__atomic_load_n(&slot->helper_done,
					      __ATOMIC_ACQUIRE);
		/* Discard and write-zeroes, one segment done. A file system
		 * or device that lacks the first mode gets the other one
		 * (tmpfs has no ZERO_RANGE; many devices cannot unmap). A
		 * discard is a hint: one that cannot be done is not an
		 * error. */
		if (res == -EOPNOTSUPP && slot->type == VIRTIO_BLK_T_DISCARD)
			res = 0;
		if (res == -EOPNOTSUPP && !slot->fallback_tried) {
			slot->fallback_tried = true;
			alt = slot->fallocate_mode ^ (FALLOC_FL_PUNCH_HOLE |
						      FALLOC_FL_ZERO_RANGE);
			status = submit_segment(slot, alt);
			break;
		}
		if (res < 0) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		status = next_segment(slot);
		break;
	}
	if (status != 0xff)
		finish(slot, status);
}
