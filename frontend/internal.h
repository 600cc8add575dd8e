/* SPDX-License-Identifier: MIT */
/* The front end's object layouts, shared by its source files only. */
#ifndef VHF_INTERNAL_H
#define VHF_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "vhostfront.h"

struct vhf_conn {
	int fd;
	int timeout_ms;
	bool auto_ack;
	uint64_t features;           /* last SET_FEATURES */
	uint64_t protocol_features;  /* last SET_PROTOCOL_FEATURES */
};

struct vhf_mem_slot {
	bool present;
	struct vhf_region r;
	void *map;                   /* whole memfd mapping */
	size_t map_size;
	uint64_t next;               /* bump allocator: next free offset */
};

struct vhf_mem {
	unsigned int count;          /* slots used, present or dropped */
	struct vhf_mem_slot slots[VHF_MEM_MAX_REGIONS];
};

/* Driver-side bookkeeping of one chain (by split head / packed id). */
struct vhf_chain {
	bool busy;
	uint16_t ndescs;             /* ring descriptors the chain took */
	uint16_t last;               /* split: last descriptor of the chain */
};

struct vhf_vq {
	struct vhf_mem *mem;
	unsigned int index, size, flags;
	int kick_fd, call_fd;

	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t indirect_gpa;       /* size tables of VHF_INDIRECT_MAX */
	int region;                  /* where to allocate (-1: anywhere) */

	struct vhf_chain *chains;    /* size entries */
	unsigned int inflight;
	/* Descriptors (split) or ring slots (packed) not in use. */
	unsigned int num_free;
	/* Entries made available since the last kick, for EVENT_IDX. */
	uint16_t added;
	bool interrupts;             /* the driver wants used interrupts */
	uint32_t base;               /* SET_VRING_BASE for the next setup */

	/* split */
	struct vhf_desc *desc;
	struct vhf_avail *avail;
	struct vhf_used *used;
	uint16_t *free_next;         /* free descriptor list, our own copy */
	uint16_t free_head;
	uint16_t avail_idx;          /* next avail->idx */
	uint16_t last_used;          /* next used entry to read */

	/* packed */
	struct vhf_pdesc *pdesc;
	struct vhf_pevent *driver_event;
	struct vhf_pevent *device_event;
	uint16_t *free_ids;          /* stack of unused buffer ids */
	unsigned int nfree_ids;
	uint16_t next_avail;
	bool avail_wrap;
	uint16_t next_used;
	bool used_wrap;
};

/* Milliseconds on the monotonic clock. */
static inline int64_t vhf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, never negative. */
static inline int vhf_left_ms(int64_t deadline)
{
	int64_t left = deadline - vhf_now_ms();

	return left < 0 ? 0 : (left > 0x7fffffff ? 0x7fffffff : (int)left);
}

int vhf_conn_new(int fd, struct vhf_conn **out);

/* Indirect table entries each chain may use. */
#define VHF_INDIRECT_MAX 64
/* Guest memory for the indirect tables, allocated on first use. */
int vhf_vq_indirect_table(struct vhf_vq *vq, unsigned int id, uint64_t *gpa);

/* Layout-specific halves of the driver (vq-split.c, vq-packed.c). */
void vhf_split_init(struct vhf_vq *vq);
int vhf_split_add(struct vhf_vq *vq, const struct vhf_buf *bufs,
		  unsigned int nout, unsigned int nin, bool indirect);
bool vhf_split_need_kick(struct vhf_vq *vq);
int vhf_split_get_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len);
void vhf_split_set_interrupts(struct vhf_vq *vq, bool enable);
void vhf_packed_init(struct vhf_vq *vq);
int vhf_packed_add(struct vhf_vq *vq, const struct vhf_buf *bufs,
		   unsigned int nout, unsigned int nin, bool indirect);
bool vhf_packed_need_kick(struct vhf_vq *vq);
int vhf_packed_get_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len);
void vhf_packed_set_interrupts(struct vhf_vq *vq, bool enable);

#endif
