/* SPDX-License-Identifier: MIT */
/* Handlers for the guest memory table: SET_MEM_TABLE, the memory slot
 * requests, and re-pointing running rings when memory moves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

/* Rings hold pointers into the old mappings: look them up again. A ring
 * that lost its memory is broken, not the whole device, and its pointers
 * are dropped: requests still in flight are pushed without touching the
 * (unmapped) ring. */
static void remap_queues(struct vhostdev *dev)
{
	for (unsigned int i = 0; i < dev->num_queues; i++) {
		struct vhostdev_queue *q = &dev->queues[i];

		if (q->started && vhd_queue_remap(q) < 0) {
			q->desc = NULL;
			q->avail = NULL;
			q->used = NULL;
			vhd_queue_broken(q, "ring memory is no longer mapped");
		}
	}
}

static int add_region(struct vhostdev *dev, struct vhd_memory *m,
		      const struct vhu_region *r, int fd)
{
	int ret = vhd_memory_add(m, r->gpa, r->size, r->uva, r->mmap_offset,
				 fd);

	if (ret < 0)
		vhd_err(dev, "region gpa 0x%llx size 0x%llx uva 0x%llx offset 0x%llx refused: %s",
			(unsigned long long)r->gpa,
			(unsigned long long)r->size,
			(unsigned long long)r->uva,
			(unsigned long long)r->mmap_offset, strerror(-ret));
	return ret;
}

static bool requests_in_flight(struct vhostdev *dev)
{
	for (unsigned int i = 0; i < dev->num_queues; i++)
		if (__atomic_load_n(&dev->queues[i].inflight, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

void vhd_memory_reap(struct vhostdev *dev)
{
	/* Nothing retired (the table replaced was empty): stop asking
	 * completions to wake us, or every request would. */
	if (dev->retired.count == 0) {
		__atomic_store_n(&dev->retiring, 0, __ATOMIC_RELEASE);
		return;
	}
	if (requests_in_flight(dev))
		return;
	__atomic_store_n(&dev->retiring, 0, __ATOMIC_RELEASE);
	/* A request that completed between the check and the flag saw
	 * retiring still set and woke us needlessly: harmless. */
	vhd_dbg(dev, "unmapping %u retired memory region(s)",
		dev->retired.count);
	vhd_retired_unmap(&dev->retired);
}

static void retired_some(struct vhostdev *dev)
{
	__atomic_store_n(&dev->retiring, 1, __ATOMIC_RELEASE);
	vhd_memory_reap(dev);
}

/* The new table is built beside the old one, so a bad region leaves the
 * old table in place. The old mappings are retired, not unmapped: a
 * request popped before the change may still be using them. */
int vhd_handle_set_mem_table(struct vhostdev *dev, struct vhd_message *msg)
{
	const struct vhu_mem_table *t = &msg->payload.mem;
	struct vhd_memory *next = malloc(sizeof(*next));
	int r = 0;

	if (!next)
		return -ENOMEM;
	r = vhd_retired_reserve(&dev->retired, dev->mem->count);
	if (r < 0) {
		free(next);
		return r;
	}
	vhd_memory_init(next);
	for (uint32_t i = 0; i < t->count && r == 0; i++)
		r = add_region(dev, next, &t->regions[i], msg->fds[i]);
	if (r < 0) {
		vhd_memory_clear(next);
		free(next);
		return r;
	}
	vhd_memory_retire_all(dev->mem, &dev->retired);
	free(dev->mem);
	dev->mem = next;
	for (unsigned int i = 0; i < dev->num_queues; i++)
		dev->queues[i].mem = next;
	remap_queues(dev);
	retired_some(dev);
	return 0;
}

int vhd_handle_get_max_mem_slots(struct vhostdev *dev, struct vhd_message *msg)
{
	vhd_reply_u64(dev, msg, VHD_MAX_MEM_SLOTS);
	return VHD_REPLIED;
}

int vhd_handle_add_mem_reg(struct vhostdev *dev, struct vhd_message *msg)
{
	int r = add_region(dev, dev->mem, &msg->payload.region.region,
			   msg->fds[0]);

	if (r == 0)
		remap_queues(dev);
	return r;
}

int vhd_handle_rem_mem_reg(struct vhostdev *dev, struct vhd_message *msg)
{
	const struct vhu_region *reg = &msg->payload.region.region;
	int r = vhd_retired_reserve(&dev->retired, 1);

	if (r < 0)
		return r;
	r = vhd_memory_remove(dev->mem, reg->gpa, reg->size, &dev->retired);
	if (r < 0) {
		vhd_err(dev, "REM_MEM_REG: no region at gpa 0x%llx size 0x%llx",
			(unsigned long long)reg->gpa,
			(unsigned long long)reg->size);
		return r;
	}
	remap_queues(dev);
	retired_some(dev);
	return 0;
}
