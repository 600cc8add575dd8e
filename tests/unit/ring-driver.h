/* SPDX-License-Identifier: MIT */
/* The driver side of a virtqueue for the unit tests: sets up one started
 * queue of the library over the fake guest, and writes descriptors and
 * reads used entries the way a guest driver does (through the guest's
 * own mapping), for both ring layouts. */
#ifndef TEST_RING_DRIVER_H
#define TEST_RING_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "guest.h"
#include "virtio.h"

#define BIT(n) (1ull << (n))

/* Where the rings and buffers go (sizes up to 1024). */
#define RING_DESC_GPA (GUEST_A + 0x0)
#define RING_DRIVER_GPA (GUEST_A + 0x4000)
#define RING_DEVICE_GPA (GUEST_A + 0x8000)
#define RING_MAX_SIZE 1024u
/* Page n of the data area in A (n < 240). */
#define DATA_GPA(n) (GUEST_A + 0x10000 + (uint64_t)(n) * 0x1000)
/* Page n of region B, for indirect tables. */
#define TABLE_GPA(n) (GUEST_B + (uint64_t)(n) * 0x1000)

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct ring {
	struct guest g;
	struct vhostdev_queue *q;
	unsigned int size;
	bool packed;
	int call_fd;
	/* Split driver state. */
	uint16_t avail_idx, last_used, next_desc;
	/* Packed driver state. */
	uint16_t next_avail, next_used;
	bool avail_wrap, used_wrap;
	uint16_t ndescs[RING_MAX_SIZE];
};

/* Starts queue 0 with these acked feature bits (VERSION_1 is added). base
 * is what SET_VRING_BASE would carry; 0 means a fresh ring. */
void ring_setup(struct ring *r, unsigned int size, uint64_t features,
		uint32_t base);
void ring_teardown(struct ring *r);
/* Interrupts sent since the last call (reads the call eventfd). */
uint64_t ring_signals(struct ring *r);
/* Fills page n of the data area with a byte pattern derived from n. */
void ring_fill(struct ring *r, uint64_t gpa, uint32_t len, uint8_t seed);

/* Pops and checks that the ring is refused: -EIO, the queue broken and
 * the device marked for reset, why in the log, no request in flight and
 * not one byte of guest memory changed. */
void ring_expect_broken(struct ring *r, const char *why);

/* Split. */
struct vring_desc *split_desc(struct ring *r, uint16_t i);
struct vring_avail *split_avail(struct ring *r);
struct vring_used *split_used(struct ring *r);
uint16_t *split_used_event(struct ring *r);
uint16_t *split_avail_event(struct ring *r);
/* Writes a chain in fresh descriptors and makes it available. */
uint16_t split_add(struct ring *r, const struct buf *b, unsigned int n);
/* Writes the table at table_gpa and one INDIRECT descriptor. */
uint16_t split_add_indirect(struct ring *r, uint64_t table_gpa,
			    const struct buf *b, unsigned int n);
/* Puts head on the available ring and publishes it. */
void split_publish(struct ring *r, uint16_t head);
bool split_get_used(struct ring *r, uint32_t *id, uint32_t *len);

/* Packed. */
struct vring_packed_desc *packed_desc(struct ring *r, uint16_t i);
struct vring_packed_event *packed_driver_event(struct ring *r);
struct vring_packed_event *packed_device_event(struct ring *r);
void packed_add(struct ring *r, uint16_t id, const struct buf *b,
		unsigned int n);
void packed_add_indirect(struct ring *r, uint16_t id, uint64_t table_gpa,
			 const struct buf *b, unsigned int n);
/* Writes n descriptors as given (the AVAIL/USED bits are added), the
 * head's flags last, and records n slots for id. */
void packed_add_raw(struct ring *r, const struct vring_packed_desc *d,
		    unsigned int n);
bool packed_get_used(struct ring *r, uint16_t *id, uint32_t *len,
		     uint16_t *flags);
void packed_set_driver_event(struct ring *r, uint16_t flags, uint16_t off,
			     bool wrap);

#endif
