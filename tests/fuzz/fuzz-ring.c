/* SPDX-License-Identifier: MIT */
/* Ring walker harness body: one queue of a real device, started directly
 * (as tests/unit/ring-driver.c does) over fenced fake guest memory; the
 * input is a program of guest-driver steps (write descriptors, indirect
 * tables, ring indices, raw bytes) interleaved with device steps (pop,
 * push, complete, notification changes).
 *
 * What must hold, whatever the input: pop returns 1, 0 or -EIO; every
 * iovec handed out is non-empty and inside one guest region; the library
 * writes guest memory only in the device-written ring area (used ring,
 * or for packed the descriptor ring and device event area); every
 * popped request can be pushed; the sanitizers and guard pages see no
 * stray access. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "fuzz-guest.h"
#include "fuzz-ring.h"
#include "queue.h"

/* Guest layout: A holds rings and data, then a hole, then B and C back
 * to back (a buffer can straddle them); indirect tables are in B, the
 * last one running over into C. */
#define REGION_A 0x10000ull
#define REGION_A_SIZE 0x10000ull
#define HOLE (REGION_A + REGION_A_SIZE)
#define REGION_B 0x30000ull
#define REGION_C 0x34000ull
#define REGION_BC_SIZE 0x4000ull
#define TABLE(t) (REGION_B + REGION_BC_SIZE - 0x400 * 3 + 0x400 * (t))
#define NTABLES 4
#define TABLE_ENTRIES 64

#define MAX_SIZE 256u
#define MAX_OPS 2048

/* Ring areas inside A for each placement choice: the usual one, rings
 * that run off the end of A, and rings that start in the hole. */
static const uint64_t placements[][3] = {
	{ REGION_A, REGION_A + 0x1000, REGION_A + 0x2000 },
	{ REGION_A + 0x4000, REGION_A + 0x8000, REGION_A + 0xc000 },
	{ REGION_A, REGION_A + 0x1000, REGION_A + REGION_A_SIZE - 0x100 },
	{ REGION_A, HOLE, REGION_A + 0x2000 },
	{ REGION_B, REGION_A + 0x1002, REGION_A + 0x2004 },
};
#define NPLACEMENTS (sizeof(placements) / sizeof(placements[0]))

struct harness {
	struct vhostdev *dev;
	struct vhostdev_queue *q;
	struct fuzz_guest g;
	struct fuzz_input in;
	bool packed;
	unsigned int size;
	uint64_t desc, driver, device;
	int call_fd;
	/* Driver side state. */
	uint16_t avail_idx;
	bool driver_wrap;
	/* Requests popped and not yet pushed. */
	struct vhostdev_req *held[MAX_SIZE];
	unsigned int nheld;
	/* What guest memory must look like unless the library may write. */
	uint8_t *shadow[FUZZ_GUEST_MAX_REGIONS];
	uint8_t scratch[0x4000];
};

/* Addresses near everything interesting: data, region edges, the hole,
 * the tables, zero and the top of the address space. */
static uint64_t pick_addr(struct harness *h)
{
	static const uint64_t bases[] = {
		REGION_A + 0x4000, REGION_A, HOLE, REGION_B, REGION_C,
		REGION_C + REGION_BC_SIZE, TABLE(0), TABLE(3), 0, UINT64_MAX,
		REGION_A + 0x1000, REGION_A + 0x2000,
	};
	uint8_t sel = fuzz_u8(&h->in);
	int16_t off = (int16_t)fuzz_u16(&h->in);

	if (sel == 0xff)
		return fuzz_u64(&h->in);
	return bases[sel % (sizeof(bases) / sizeof(bases[0]))] + off;
}

static uint32_t pick_len(struct harness *h)
{
	uint8_t sel = fuzz_u8(&h->in);

	switch (sel % 4) {
	case 0:
		return sel >> 2;
	case 1:
		return fuzz_u32(&h->in);
	default:
		return fuzz_u16(&h->in) % 0x5000;
	}
}

static void shadow_sync(struct harness *h)
{
	for (unsigned int i = 0; i < h->g.count; i++)
		memcpy(h->shadow[i], h->g.r[i].view, h->g.r[i].size);
}

/* Lets the library have written [lo, hi) of guest memory. */
static void shadow_allow(struct harness *h, uint64_t lo, uint64_t hi)
{
	for (unsigned int i = 0; i < h->g.count; i++) {
		struct fuzz_region *r = &h->g.r[i];
		uint64_t a = lo > r->gpa ? lo : r->gpa;
		uint64_t b = hi < r->gpa + r->size ? hi : r->gpa + r->size;

		if (a < b)
			memcpy(h->shadow[i] + (a - r->gpa),
			       r->view + (a - r->gpa), b - a);
	}
}

/* Checks that guest memory is as the shadow says, then syncs. */
static void shadow_check(struct harness *h)
{
	for (unsigned int i = 0; i < h->g.count; i++)
		fuzz_check(!memcmp(h->shadow[i], h->g.r[i].view,
				   h->g.r[i].size));
	shadow_sync(h);
}

/* The library writes only the device's part of the ring: the used ring
 * (split), or the descriptor ring and the device event area (packed). */
static void check_device_writes(struct harness *h)
{
	if (h->packed) {
		shadow_allow(h, h->desc, h->desc + 16ull * h->size);
		shadow_allow(h, h->device, h->device + 4);
	} else {
		shadow_allow(h, h->device, h->device + 6 + 8ull * h->size);
	}
	shadow_check(h);
}

static int setup(struct harness *h, const uint8_t *data, size_t size,
		 bool packed)
{
	uint64_t features = 1ull << VHOSTDEV_F_VERSION_1;
	const uint64_t *where;
	uint8_t cfg, sz;
	int r;

	memset(h, 0, sizeof(*h));
	h->call_fd = -1;
	fuzz_input_init(&h->in, data, size);
	h->packed = packed;
	cfg = fuzz_u8(&h->in);
	sz = fuzz_u8(&h->in);
	if (cfg & 1)
		features |= 1ull << VHOSTDEV_F_RING_INDIRECT_DESC;
	if (cfg & 2)
		features |= 1ull << VHOSTDEV_F_RING_EVENT_IDX;
	if (cfg & 4)
		features |= 1ull << VHOSTDEV_F_IN_ORDER;
	if (cfg & 8)
		features |= 1ull << VHOSTDEV_F_NOTIFY_ON_EMPTY;
	if (packed)
		features |= 1ull << VHOSTDEV_F_RING_PACKED;
	/* Mostly the usual placement: a broken one only tests start. */
	where = placements[(cfg >> 4) < 12 ? 0 : (cfg >> 4) % NPLACEMENTS];
	h->size = packed ? (unsigned int)sz + 1 : 1u << (sz % 9);
	h->desc = where[0];
	h->driver = where[1];
	h->device = where[2];

	if (vhostdev_new(1, 1, &h->dev) < 0)
		return -ENOMEM;
	vhostdev_set_log_fn(h->dev, fuzz_quiet_log, h);
	vhostdev_set_log_priority(h->dev, VHOSTDEV_LOG_DEBUG);
	fuzz_guest_init(&h->g, h->dev);
	r = fuzz_guest_add(&h->g, REGION_A, REGION_A_SIZE);
	if (r == 0)
		r = fuzz_guest_add(&h->g, REGION_B, REGION_BC_SIZE);
	if (r == 0)
		r = fuzz_guest_add(&h->g, REGION_C, REGION_BC_SIZE);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < h->g.count; i++) {
		h->shadow[i] = malloc(h->g.r[i].size);
		if (!h->shadow[i])
			return -ENOMEM;
	}

	h->q = fuzz_queue_prepare(h->dev, features, h->size, where,
				  &h->call_fd);
	if (!h->q)
		return -errno;
	if (packed) {
		uint32_t base = fuzz_u8(&h->in) & 1 ? fuzz_u32(&h->in) :
						      0x80008000u;

		h->q->base = base;
		h->avail_idx = base & 0x7fff;
		h->driver_wrap = (base >> 15) & 1;
	} else {
		uint16_t base = fuzz_u16(&h->in);
		struct vring_used *used = fuzz_guest_va(&h->g, h->device, 4);
		struct vring_avail *avail = fuzz_guest_va(&h->g, h->driver, 4);

		/* A split ring restarts where used->idx says. */
		if (used)
			used->idx = base;
		if (avail)
			avail->idx = base;
		h->q->base = base;
		h->avail_idx = base;
	}
	shadow_sync(h);
	r = vhd_queue_start(h->q);
	/* Starting may write the device's ring area (notification flags,
	 * the avail event) and nothing else. */
	if (r == 0)
		check_device_writes(h);
	return r;
}

static void teardown(struct harness *h)
{
	if (h->dev)
		vhostdev_unref(h->dev);
	fuzz_guest_fini(&h->g);
	for (unsigned int i = 0; i < FUZZ_GUEST_MAX_REGIONS; i++)
		free(h->shadow[i]);
	if (h->call_fd >= 0)
		close(h->call_fd);
}

/* ---- guest steps -------------------------------------------------------- */

static void write_desc(struct harness *h)
{
	uint16_t i = fuzz_u16(&h->in) % h->size;
	uint64_t addr = pick_addr(h);
	uint32_t len = pick_len(h);
	uint16_t flags = fuzz_u16(&h->in), link = fuzz_u16(&h->in);

	if (h->packed) {
		struct vring_packed_desc *d =
			fuzz_guest_va(&h->g, h->desc + 16ull * i, 16);

		/* Usually a well-formed available descriptor for the
		 * driver's current lap. */
		if (!(flags & 0x8000)) {
			flags &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE |
				 VRING_DESC_F_INDIRECT;
			if (h->driver_wrap)
				flags |= VRING_PACKED_DESC_F_AVAIL;
			else
				flags |= VRING_PACKED_DESC_F_USED;
		}
		if (!d)
			return;
		d->addr = addr;
		d->len = len;
		d->id = link;
		__atomic_store_n(&d->flags, flags, __ATOMIC_RELEASE);
	} else {
		struct vring_desc *d =
			fuzz_guest_va(&h->g, h->desc + 16ull * i, 16);

		if (!(flags & 0x8000))
			flags &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE |
				 VRING_DESC_F_INDIRECT;
		if (!d)
			return;
		d->addr = addr;
		d->len = len;
		d->flags = flags;
		d->next = link;
	}
}

static void write_table_entry(struct harness *h)
{
	uint8_t t = fuzz_u8(&h->in);
	uint16_t e = fuzz_u16(&h->in) % TABLE_ENTRIES;
	uint64_t gpa = TABLE(t % NTABLES) + 16ull * e;
	struct vring_desc d = {
		.addr = pick_addr(h),
		.len = pick_len(h),
		.flags = fuzz_u16(&h->in),
		.next = fuzz_u16(&h->in),
	};
	void *p;

	if (!(d.flags & 0x8000))
		d.flags &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE |
			   VRING_DESC_F_INDIRECT;
	/* Table entries may straddle B and C: write byte by byte. */
	for (unsigned int b = 0; b < sizeof(d); b++) {
		p = fuzz_guest_va(&h->g, gpa + b, 1);
		if (p)
			*(uint8_t *)p = ((uint8_t *)&d)[b];
	}
}

/* Split: puts a head on the available ring. Packed: moves the driver's
 * notion of where its next descriptor goes. */
static void publish(struct harness *h)
{
	uint16_t head = fuzz_u16(&h->in);

	if (h->packed) {
		unsigned int n = head % 8 + 1;

		h->avail_idx += n;
		if (h->avail_idx >= h->size) {
			h->avail_idx %= h->size;
			h->driver_wrap = !h->driver_wrap;
		}
		return;
	}
	{
		struct vring_avail *avail = fuzz_guest_va(
			&h->g, h->driver, 4 + 2ull * h->size);

		if (!avail)
			return;
		if (!(head & 0x8000))
			head %= h->size;
		avail->ring[h->avail_idx % h->size] = head;
		h->avail_idx++;
		__atomic_store_n(&avail->idx, h->avail_idx, __ATOMIC_RELEASE);
	}
}

/* Any bytes anywhere in the ring area: indices, flags, event fields. */
static void write_raw(struct harness *h)
{
	uint16_t off = fuzz_u16(&h->in) % 0x3000;
	uint8_t len = fuzz_u8(&h->in) % 16 + 1;
	uint8_t *p = fuzz_guest_va(&h->g, REGION_A + off, len);

	if (p)
		fuzz_bytes(&h->in, p, len);
}

/* ---- device steps ------------------------------------------------------- */

static void check_iov(struct harness *h, const struct iovec *iov,
		      unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		fuzz_check(iov[i].iov_len > 0);
		fuzz_check(fuzz_guest_owns(&h->g, iov[i].iov_base,
					   iov[i].iov_len));
	}
}

static void pop(struct harness *h)
{
	unsigned int want = fuzz_u8(&h->in) % 8 + 1;

	while (want--) {
		struct vhostdev_req *req = (struct vhostdev_req *)h;
		const struct iovec *iov;
		unsigned int nout, nin;
		size_t off = 0, n;
		int r = vhostdev_queue_pop(h->q, &req);

		fuzz_check(r == 1 || r == 0 || r == -EIO);
		if (r != 1) {
			fuzz_check(req == NULL);
			check_device_writes(h);
			break;
		}
		fuzz_check(h->nheld < h->size);
		iov = vhostdev_req_get_out(req, &nout);
		check_iov(h, iov, nout);
		iov = vhostdev_req_get_in(req, &nin);
		check_iov(h, iov, nin);
		fuzz_check(nout + nin <= VHD_MAX_REQ_IOV);
		/* Touch every readable byte, as a device would. */
		do {
			n = vhostdev_req_read(req, off, h->scratch,
					      sizeof(h->scratch));
			off += n;
		} while (n == sizeof(h->scratch));
		fuzz_check(off == vhostdev_req_get_out_size(req));
		h->held[h->nheld++] = req;
		/* Popping may write the avail event (split, in the used
		 * area) and nothing else. */
		check_device_writes(h);
	}
}

static void push(struct harness *h)
{
	uint8_t how = fuzz_u8(&h->in);
	uint32_t written = fuzz_u8(&h->in) & 1 ? fuzz_u32(&h->in) :
						 fuzz_u16(&h->in);
	struct vhostdev_req *req;
	unsigned int k;
	size_t in_size;

	if (!h->nheld)
		return;
	k = (how >> 2) % h->nheld;
	req = h->held[k];
	h->held[k] = h->held[--h->nheld];
	in_size = vhostdev_req_get_in_size(req);
	/* Fill what the device claims to have written (bounded). */
	if (in_size) {
		size_t n = written < in_size ? written : in_size;

		if (n > sizeof(h->scratch))
			n = sizeof(h->scratch);
		memset(h->scratch, 0xa5, n);
		fuzz_check(vhostdev_req_write(req, 0, h->scratch, n) == n);
		shadow_sync(h);
	}
	if (how & 1)
		fuzz_check(vhostdev_req_complete(req, written) == 0);
	else
		fuzz_check(vhostdev_req_push(req, written) == 0);
	check_device_writes(h);
}

static void notification(struct harness *h)
{
	uint8_t how = fuzz_u8(&h->in);

	if (how & 1)
		fuzz_check(vhostdev_queue_notify(h->q) >= 0);
	else
		fuzz_check(vhostdev_queue_set_notification(h->q, how & 2) == 0);
	check_device_writes(h);
}

int fuzz_ring_run(const uint8_t *data, size_t size, bool packed)
{
	struct harness *h = malloc(sizeof(*h));
	eventfd_t ignored;

	if (!h)
		return 0;
	if (setup(h, data, size, packed) < 0)
		goto out;
	for (unsigned int ops = 0; ops < MAX_OPS && !fuzz_done(&h->in);
	     ops++) {
		switch (fuzz_u8(&h->in) % 8) {
		case 0:
		case 1:
			write_desc(h);
			break;
		case 2:
			write_table_entry(h);
			break;
		case 3:
			publish(h);
			break;
		case 4:
			write_raw(h);
			break;
		case 5:
			pop(h);
			continue;
		case 6:
			push(h);
			continue;
		case 7:
			notification(h);
			continue;
		}
		/* The guest wrote: that is allowed anywhere. */
		shadow_sync(h);
	}
	/* Everything popped can be given back, even from a broken ring. */
	while (h->nheld)
		fuzz_check(vhostdev_req_push(h->held[--h->nheld], 0) == 0);
	check_device_writes(h);
	fuzz_check(vhostdev_queue_get_inflight(h->q) == 0);
	eventfd_read(h->call_fd, &ignored);
out:
	teardown(h);
	free(h);
	return 0;
}
