/* SPDX-License-Identifier: MIT */
/* In-flight request tracking: the shared region (GET_INFLIGHT_FD makes
 * it, SET_INFLIGHT_FD hands it back after a restart), recovery at ring
 * start, and the split ring's bookkeeping as chains are taken and used.
 *
 * The region comes from the front end and outlives us: its contents are
 * as untrusted as guest memory. Every index read from it is checked, every
 * walk is bounded, and a region that makes no sense is started afresh. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "inflight.h"
#include "ring.h"

#define REGION_ALIGN 64
/* The packed layout's entries are the larger (32 bytes, header 32). */
#define ENTRY_BYTES 32
#define HEADER_BYTES 32

size_t vhd_inflight_queue_bytes(uint16_t queue_size)
{
	size_t bytes = HEADER_BYTES + (size_t)ENTRY_BYTES * queue_size;

	return (bytes + REGION_ALIGN - 1) & ~(size_t)(REGION_ALIGN - 1);
}

void vhd_inflight_release(struct vhostdev *dev)
{
	struct vhd_inflight_region *r = &dev->inflight;

	if (r->map)
		munmap(r->map, r->map_size);
	memset(r, 0, sizeof(*r));
}

/* Takes over [offset, offset + size) of fd as the region. */
static int map_region(struct vhostdev *dev, int fd, uint64_t size,
		      uint64_t offset, uint16_t num_queues,
		      uint16_t queue_size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t need = (uint64_t)num_queues *
			vhd_inflight_queue_bytes(queue_size);
	uint64_t start = offset & ~(page - 1), slack = offset - start;
	struct stat st;
	void *map;

	if (num_queues == 0 || queue_size == 0 || queue_size > 32768 ||
	    size < need || size > SIZE_MAX / 2 || offset > (uint64_t)INT64_MAX ||
	    size > (uint64_t)INT64_MAX - offset) {
		vhd_err(dev, "in-flight region of %llu bytes at %llu for %u queues of %u is unusable",
			(unsigned long long)size, (unsigned long long)offset,
			num_queues, queue_size);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && offset + size > (uint64_t)st.st_size) {
		vhd_err(dev, "in-flight region runs past the end of its file");
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)(slack + size), PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, (off_t)start);
	if (map == MAP_FAILED)
		return -errno;
	vhd_inflight_release(dev);
	dev->inflight = (struct vhd_inflight_region){
		.map = map,
		.map_size = (size_t)(slack + size),
		.base = (uint8_t *)map + slack,
		.num_queues = num_queues,
		.queue_size = queue_size,
	};
	return 0;
}

int vhd_handle_get_inflight_fd(struct vhostdev *dev, struct vhd_message *msg)
{
	struct vhu_inflight in = msg->payload.inflight;
	uint64_t size;
	int fd, r;

	/* A running ring keeps its part of the region it started with. */
	if (vhd_rings_running(dev)) {
		vhd_err(dev, "GET_INFLIGHT_FD while rings run");
		return -EBUSY;
	}
	if (in.num_queues == 0 || in.num_queues > dev->num_queues ||
	    in.queue_size == 0 || in.queue_size > 32768) {
		vhd_err(dev, "GET_INFLIGHT_FD for %u queues of %u (device: %u queues)",
			in.num_queues, in.queue_size, dev->num_queues);
		return -EINVAL;
	}
	size = (uint64_t)in.num_queues * vhd_inflight_queue_bytes(in.queue_size);
	fd = memfd_create("vhostdev-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Fresh zeroes: version 0 in every queue's part, nothing in flight.
	 * Sealed against shrinking, so the front end cannot make our
	 * mapping fault. */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = map_region(dev, fd, size, 0, in.num_queues, in.queue_size);
	if (r < 0) {
		close(fd);
		return r;
	}
	in.mmap_size = size;
	in.mmap_offset = 0;
	vhd_dbg(dev, "in-flight region: %llu bytes for %u queues of %u",
		(unsigned long long)size, in.num_queues, in.queue_size);
	r = vhd_reply(dev, msg, &in, sizeof(in), &fd, 1);
	close(fd);
	return r < 0 ? r : VHD_REPLIED;
}

int vhd_handle_set_inflight_fd(struct vhostdev *dev, struct vhd_message *msg)
{
	const struct vhu_inflight *in = &msg->payload.inflight;
	int fd = vhd_message_take_fd(msg, 0), r;

	if (fd < 0) {
		vhd_err(dev, "SET_INFLIGHT_FD without a file descriptor");
		return -EINVAL;
	}
	if (vhd_rings_running(dev)) {
		vhd_err(dev, "SET_INFLIGHT_FD while rings run");
		close(fd);
		return -EBUSY;
	}
	if (in->num_queues > dev->num_queues) {
		vhd_err(dev, "SET_INFLIGHT_FD for %u queues (device: %u)",
			in->num_queues, dev->num_queues);
		close(fd);
		return -EINVAL;
	}
	r = map_region(dev, fd, in->mmap_size, in->mmap_offset,
		       in->num_queues, in->queue_size);
	close(fd);
	return r;
}

/* ---- split rings -------------------------------------------------------- */

static void fresh_split(struct vhd_inflight_split *t, uint16_t size,
			uint16_t used_idx)
{
	memset(t->desc, 0, sizeof(t->desc[0]) * size);
	t->features = 0;
	t->desc_num = size;
	t->last_batch_head = 0;
	t->used_idx = used_idx;
	__atomic_store_n(&t->version, 1, __ATOMIC_RELEASE);
}

static int by_counter(const void *a, const void *b, void *arg)
{
	const struct vhd_inflight_split *t = arg;
	uint64_t ca = t->desc[*(const uint16_t *)a].counter;
	uint64_t cb = t->desc[*(const uint16_t *)b].counter;

	return ca < cb ? -1 : ca > cb;
}

/* What a killed process left: finish the batch it was returning, then
 * list every head still in flight, oldest first. */
static int recover_split(struct vhostdev_queue *q,
			 struct vhd_inflight_split *t)
{
	uint16_t used = q->used_idx, n = used - t->used_idx, head;
	unsigned int count = 0;
	uint64_t newest = 0;

	/* The used ring moved past what the region recorded: those heads
	 * reached the guest, their inflight flags are stale. */
	head = t->last_batch_head;
	for (unsigned int i = 0; i < n && i < q->size && head < q->size; i++) {
		t->desc[head].inflight = 0;
		head = t->desc[head].next;
	}
	t->used_idx = used;

	q->resubmit = calloc(q->size, sizeof(*q->resubmit));
	if (!q->resubmit)
		return -ENOMEM;
	for (uint16_t i = 0; i < q->size; i++) {
		if (t->desc[i].inflight != 1) {
			t->desc[i].inflight = 0;
			continue;
		}
		q->resubmit[count++] = i;
		if (t->desc[i].counter > newest)
			newest = t->desc[i].counter;
	}
	/* More in flight than the driver ever made available: the region
	 * is not what we wrote. Trust the ring, not it. */
	if (count > (uint16_t)(vhd_guest_load_acquire(&q->avail->idx) - used)) {
		vhd_warn(q->dev, "queue %u: in-flight region claims %u request(s) the driver never made available; starting it afresh",
			 q->index, count);
		free(q->resubmit);
		q->resubmit = NULL;
		fresh_split(t, (uint16_t)q->size, used);
		q->track_counter = 1;
		return 0;
	}
	qsort_r(q->resubmit, count, sizeof(*q->resubmit), by_counter, t);
	q->resubmit_count = count;
	q->resubmit_next = 0;
	q->track_counter = newest + 1;
	/* Every chain taken is either used or in flight: the next new one
	 * sits right after them, whatever SET_VRING_BASE said. */
	q->last_avail = used + count;
	if (count)
		vhd_info(q->dev, "queue %u: resubmitting %u request(s) left in flight",
			 q->index, count);
	return 0;
}

/* ---- packed rings ------------------------------------------------------- */

/* An entry index read from the region: the front end can scribble on
 * it, so every one is checked before use. size itself ends a list. */
static inline bool bad_entry(const struct vhostdev_queue *q, uint16_t e)
{
	return e >= q->size;
}

static void advance(const struct vhostdev_queue *q, uint16_t *idx,
		    uint8_t *wrap, unsigned int n)
{
	unsigned int next = *idx + n;

	if (next >= q->size) {
		next -= q->size;
		*wrap = !*wrap;
	}
	*idx = (uint16_t)next;
}

static void fresh_packed(struct vhostdev_queue *q,
			 struct vhd_inflight_packed *t)
{
	uint16_t size = (uint16_t)q->size;

	memset(t->desc, 0, sizeof(t->desc[0]) * size);
	for (uint16_t i = 0; i < size; i++)
		t->desc[i].next = i + 1;
	t->features = 0;
	t->desc_num = size;
	t->free_head = t->old_free_head = 0;
	t->used_idx = t->old_used_idx = q->used_idx;
	t->used_wrap_counter = t->old_used_wrap_counter = q->used_wrap;
	__atomic_store_n(&t->version, 1, __ATOMIC_RELEASE);
	q->track_counter = 1;
}

/* The region stopped making sense while the ring ran (the front end
 * wrote to it): stop tracking, and leave it marked unused so that the
 * next process does not resubmit from it. */
static void abandon_packed(struct vhostdev_queue *q, const char *why)
{
	vhd_warn(q->dev, "queue %u: in-flight region %s; no longer tracked",
		 q->index, why);
	__atomic_store_n(&q->ptrack->version, 0, __ATOMIC_RELEASE);
	q->ptrack = NULL;
}

static int by_packed_counter(const void *a, const void *b, void *arg)
{
	const struct vhd_inflight_packed *t = arg;
	uint64_t ca = t->desc[*(const uint16_t *)a].counter;
	uint64_t cb = t->desc[*(const uint16_t *)b].counter;

	return ca < cb ? -1 : ca > cb;
}

/* What a killed process left, per the vhost-user spec: commit a return
 * whose used descriptor reached the ring, roll back anything else
 * half-done, then list the chains still in flight, oldest first. false
 * when the region is inconsistent. */
static bool recover_packed(struct vhostdev_queue *q,
			   struct vhd_inflight_packed *t)
{
	unsigned int count = 0, descs = 0;
	uint64_t newest = 0;
	uint16_t e;

	if (bad_entry(q, t->used_idx) || bad_entry(q, t->old_used_idx) ||
	    t->free_head > q->size || t->old_free_head > q->size)
		return false;
	if (t->used_idx != t->old_used_idx ||
	    t->used_wrap_counter != t->old_used_wrap_counter) {
		uint16_t flags = __atomic_load_n(&q->pdesc[t->old_used_idx].flags,
						 __ATOMIC_ACQUIRE);
		uint16_t still_avail = t->old_used_wrap_counter ?
			VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;

		if ((flags & (VRING_PACKED_DESC_F_AVAIL |
			      VRING_PACKED_DESC_F_USED)) != still_avail) {
			/* The used descriptor was written: that return
			 * happened. */
			t->old_free_head = t->free_head;
			t->old_used_idx = t->used_idx;
			t->old_used_wrap_counter = t->used_wrap_counter;
		}
	}
	t->free_head = t->old_free_head;
	t->used_idx = t->old_used_idx;
	t->used_wrap_counter = t->old_used_wrap_counter & 1;

	e = t->free_head;
	for (unsigned int steps = 0; e != q->size; steps++) {
		if (bad_entry(q, e) || steps == q->size)
			return false;
		t->desc[e].inflight = 0;
		e = t->desc[e].next;
	}

	q->resubmit = calloc(q->size, sizeof(*q->resubmit));
	if (!q->resubmit)
		return false;
	for (uint16_t i = 0; i < q->size; i++) {
		if (t->desc[i].inflight != 1)
			continue;
		if (t->desc[i].num == 0 || t->desc[i].num > q->size ||
		    bad_entry(q, t->desc[i].last))
			return false;
		descs += t->desc[i].num;
		q->resubmit[count++] = i;
		if (t->desc[i].counter > newest)
			newest = t->desc[i].counter;
	}
	/* The driver never has more descriptors out than the ring holds. */
	if (descs > q->size)
		return false;
	qsort_r(q->resubmit, count, sizeof(*q->resubmit), by_packed_counter,
		t);
	q->resubmit_count = count;
	q->resubmit_next = 0;
	q->track_counter = newest + 1;
	/* Chains are taken in ring order: the next new one starts after
	 * everything used and everything in flight. */
	q->used_idx = t->used_idx;
	q->used_wrap = t->used_wrap_counter;
	q->last_avail = q->used_idx;
	{
		uint8_t wrap = q->used_wrap;

		advance(q, &q->last_avail, &wrap, descs);
		q->avail_wrap = wrap;
	}
	if (count)
		vhd_info(q->dev, "queue %u: resubmitting %u request(s) left in flight",
			 q->index, count);
	return true;
}

void vhd_inflight_packed_desc(struct vhostdev_queue *q,
			      const struct vring_packed_desc *d, bool head,
			      bool last)
{
	struct vhd_inflight_packed *t = q->ptrack;
	uint16_t h = t->old_free_head, e = t->free_head;

	if (bad_entry(q, h) || bad_entry(q, e)) {
		abandon_packed(q, "ran out of entries");
		return;
	}
	if (head) {
		t->desc[h].num = 0;
		t->desc[h].counter = q->track_counter++;
		__atomic_store_n(&t->desc[h].inflight, 1, __ATOMIC_RELEASE);
	}
	if (last)
		t->desc[h].last = e;
	t->desc[h].num++;
	t->desc[e].addr = d->addr;
	t->desc[e].len = d->len;
	t->desc[e].flags = d->flags;
	t->desc[e].id = d->id;
	__atomic_store_n(&t->free_head, t->desc[e].next, __ATOMIC_RELEASE);
}

void vhd_inflight_packed_taken(struct vhostdev_queue *q,
			       struct vhostdev_req *req)
{
	struct vhd_inflight_packed *t = q->ptrack;

	req->track_entry = t->old_free_head;
	__atomic_store_n(&t->old_free_head, t->free_head, __ATOMIC_RELEASE);
}

void vhd_inflight_packed_abort(struct vhostdev_queue *q)
{
	struct vhd_inflight_packed *t = q->ptrack;

	if (!bad_entry(q, t->old_free_head))
		__atomic_store_n(&t->desc[t->old_free_head].inflight, 0,
				 __ATOMIC_RELEASE);
	__atomic_store_n(&t->free_head, t->old_free_head, __ATOMIC_RELEASE);
}

void vhd_inflight_packed_used_before(struct vhostdev_queue *q,
				     struct vhostdev_req *req)
{
	struct vhd_inflight_packed *t = q->ptrack;
	uint16_t e = req->track_entry, last = t->desc[e].last;
	uint16_t idx = q->used_idx;
	uint8_t wrap = q->used_wrap;

	if (bad_entry(q, e) || bad_entry(q, last)) {
		abandon_packed(q, "lost a chain");
		return;
	}
	t->desc[last].next = t->free_head;
	__atomic_store_n(&t->free_head, e, __ATOMIC_RELEASE);
	advance(q, &idx, &wrap, req->ndescs);
	t->used_idx = idx;
	__atomic_store_n(&t->used_wrap_counter, wrap, __ATOMIC_RELEASE);
}

void vhd_inflight_packed_used_after(struct vhostdev_queue *q,
				    struct vhostdev_req *req)
{
	struct vhd_inflight_packed *t = q->ptrack;

	__atomic_store_n(&t->desc[req->track_entry].inflight, 0,
			 __ATOMIC_RELEASE);
	t->old_free_head = t->free_head;
	t->old_used_idx = t->used_idx;
	__atomic_store_n(&t->old_used_wrap_counter, t->used_wrap_counter,
			 __ATOMIC_RELEASE);
}

/* ---- both --------------------------------------------------------------- */

int vhd_inflight_queue_start(struct vhostdev_queue *q)
{
	struct vhd_inflight_region *r = &q->dev->inflight;
	struct vhd_inflight_split *t;
	uint8_t *part;

	vhd_inflight_queue_stop(q);
	if (!vhd_has_protocol(q->dev, VHOSTDEV_PF_INFLIGHT_SHMFD) || !r->map)
		return 0;
	if (q->index >= r->num_queues || q->size > r->queue_size) {
		vhd_warn(q->dev, "queue %u (%u entries) has no room in the in-flight region; not tracked",
			 q->index, q->size);
		return 0;
	}
	part = r->base + q->index * vhd_inflight_queue_bytes(r->queue_size);
	if (q->packed) {
		struct vhd_inflight_packed *p = (void *)part;

		if (p->version != 1 || p->desc_num != q->size ||
		    !recover_packed(q, p)) {
			if (p->version == 1)
				vhd_warn(q->dev, "queue %u: in-flight region is inconsistent; starting it afresh",
					 q->index);
			vhd_inflight_queue_stop(q);
			fresh_packed(q, p);
		}
		q->ptrack = p;
		return 0;
	}
	t = (struct vhd_inflight_split *)part;
	if (t->version != 1 || t->desc_num != q->size) {
		fresh_split(t, (uint16_t)q->size, q->used_idx);
		q->track_counter = 1;
	} else {
		int err = recover_split(q, t);

		if (err < 0)
			return err;
	}
	q->track = t;
	return 0;
}

void vhd_inflight_queue_stop(struct vhostdev_queue *q)
{
	free(q->resubmit);
	q->resubmit = NULL;
	q->resubmit_count = q->resubmit_next = 0;
	q->track = NULL;
	q->ptrack = NULL;
}

/* The region is written with plain stores ordered by compiler barriers:
 * its reader is the next process, after this one is gone, so only the
 * order in which stores are issued matters, not when others see them. */
void vhd_inflight_split_taken(struct vhostdev_queue *q, uint16_t head)
{
	struct vhd_inflight_split_desc *d = &q->track->desc[head];

	d->counter = q->track_counter++;
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

void vhd_inflight_split_used_before(struct vhostdev_queue *q, uint16_t head)
{
	struct vhd_inflight_split *t = q->track;

	t->desc[head].next = t->last_batch_head;
	__atomic_store_n(&t->last_batch_head, head, __ATOMIC_RELEASE);
}

void vhd_inflight_split_used_after(struct vhostdev_queue *q, uint16_t head,
				   uint16_t used_idx)
{
	struct vhd_inflight_split *t = q->track;

	__atomic_store_n(&t->desc[head].inflight, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->used_idx, used_idx, __ATOMIC_RELEASE);
}
