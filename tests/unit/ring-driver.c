/* SPDX-License-Identifier: MIT */
/* A minimal guest driver for the unit tests (see ring-driver.h). It
 * publishes with release stores and reads with acquire loads, like a real
 * driver, so the library is tested against the ordering it relies on. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ring-driver.h"

void ring_setup(struct ring *r, unsigned int size, uint64_t features,
		uint32_t base)
{
	struct vhostdev_queue *q;
	struct vhostdev *dev;

	ck_assert_uint_le(size, RING_MAX_SIZE);
	memset(r, 0, sizeof(*r));
	guest_init(&r->g);
	guest_std_layout(&r->g);
	dev = r->g.dev;
	q = vhostdev_get_queue(dev, 0);
	ck_assert_ptr_nonnull(q);
	r->q = q;
	r->size = size;
	r->packed = features & BIT(VHOSTDEV_F_RING_PACKED);

	dev->acked_features = features | BIT(VHOSTDEV_F_VERSION_1);
	dev->features_set = true;
	q->size = size;
	q->desc_uva = RING_DESC_GPA + GUEST_UVA_BIAS;
	q->avail_uva = RING_DRIVER_GPA + GUEST_UVA_BIAS;
	q->used_uva = RING_DEVICE_GPA + GUEST_UVA_BIAS;
	r->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(r->call_fd, 0);
	/* The queue owns its call fd (closed when the device goes). */
	q->call_fd = fcntl(r->call_fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(q->call_fd, 0);

	if (r->packed) {
		/* A fresh packed ring starts with both wrap counters at 1. */
		if (base == 0)
			base = 0x80008000u;
		r->next_avail = base & 0x7fff;
		r->avail_wrap = (base >> 15) & 1;
		r->next_used = (base >> 16) & 0x7fff;
		r->used_wrap = (base >> 31) & 1;
	} else {
		/* A split ring restarts where used->idx says. */
		r->avail_idx = r->last_used = (uint16_t)base;
		split_avail(r)->idx = (uint16_t)base;
		split_used(r)->idx = (uint16_t)base;
	}
	q->base = base;
	ck_assert_int_eq(vhd_queue_start(q), 0);
	ck_assert(q->started && q->enabled);
	ck_assert_int_eq(q->packed, r->packed);
}

void ring_teardown(struct ring *r)
{
	close(r->call_fd);
	guest_fini(&r->g);
}

uint64_t ring_signals(struct ring *r)
{
	eventfd_t v;

	if (eventfd_read(r->call_fd, &v) < 0) {
		ck_assert_int_eq(errno, EAGAIN);
		return 0;
	}
	return v;
}

void ring_fill(struct ring *r, uint64_t gpa, uint32_t len, uint8_t seed)
{
	uint8_t *p = guest_va(&r->g, gpa);

	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

void ring_expect_broken(struct ring *r, const char *why)
{
	struct vhostdev_req *req = (struct vhostdev_req *)r;
	unsigned int inflight = vhostdev_queue_get_inflight(r->q);

	guest_snapshot(&r->g);
	ck_assert_int_eq(vhostdev_queue_pop(r->q, &req), -EIO);
	ck_assert_ptr_null(req);
	ck_assert(r->q->broken);
	ck_assert_int_eq(r->g.dev->needs_reset, 1);
	ck_assert_msg(guest_logged(&r->g, why), "expected \"%s\" in log: %s",
		      why, r->g.log);
	ck_assert_uint_eq(r->g.nlogs, 1);
	ck_assert(guest_unchanged(&r->g));
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r->q), inflight);
	/* A broken queue hands out nothing more. */
	ck_assert_int_eq(vhostdev_queue_pop(r->q, &req), 0);
	ck_assert(guest_unchanged(&r->g));
}

/* ---- split -------------------------------------------------------------- */

struct vring_desc *split_desc(struct ring *r, uint16_t i)
{
	return (struct vring_desc *)guest_va(&r->g, RING_DESC_GPA) + i;
}

struct vring_avail *split_avail(struct ring *r)
{
	return guest_va(&r->g, RING_DRIVER_GPA);
}

struct vring_used *split_used(struct ring *r)
{
	return guest_va(&r->g, RING_DEVICE_GPA);
}

uint16_t *split_used_event(struct ring *r)
{
	return &split_avail(r)->ring[r->size];
}

uint16_t *split_avail_event(struct ring *r)
{
	return (uint16_t *)&split_used(r)->ring[r->size];
}

void split_publish(struct ring *r, uint16_t head)
{
	struct vring_avail *a = split_avail(r);

	a->ring[r->avail_idx % r->size] = head;
	r->avail_idx++;
	__atomic_store_n(&a->idx, r->avail_idx, __ATOMIC_RELEASE);
}

uint16_t split_add(struct ring *r, const struct buf *b, unsigned int n)
{
	uint16_t head = r->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t at = (uint16_t)((head + i) % r->size);
		struct vring_desc *d = split_desc(r, at);

		d->addr = b[i].gpa;
		d->len = b[i].len;
		d->flags = (b[i].write ? VRING_DESC_F_WRITE : 0) |
			   (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		d->next = (uint16_t)((at + 1) % r->size);
	}
	r->next_desc = (uint16_t)((head + n) % r->size);
	split_publish(r, head);
	return head;
}

uint16_t split_add_indirect(struct ring *r, uint64_t table_gpa,
			    const struct buf *b, unsigned int n)
{
	struct vring_desc *t = guest_va(&r->g, table_gpa);
	uint16_t head = r->next_desc;
	struct vring_desc *d = split_desc(r, head);

	for (unsigned int i = 0; i < n; i++) {
		t[i].addr = b[i].gpa;
		t[i].len = b[i].len;
		t[i].flags = (b[i].write ? VRING_DESC_F_WRITE : 0) |
			     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		t[i].next = (uint16_t)(i + 1);
	}
	d->addr = table_gpa;
	d->len = n * sizeof(*t);
	d->flags = VRING_DESC_F_INDIRECT;
	d->next = 0;
	r->next_desc = (uint16_t)((head + 1) % r->size);
	split_publish(r, head);
	return head;
}

bool split_get_used(struct ring *r, uint32_t *id, uint32_t *len)
{
	struct vring_used *u = split_used(r);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem *e;

	if (idx == r->last_used)
		return false;
	e = &u->ring[r->last_used % r->size];
	*id = e->id;
	*len = e->len;
	r->last_used++;
	return true;
}

/* ---- packed ------------------------------------------------------------- */

struct vring_packed_desc *packed_desc(struct ring *r, uint16_t i)
{
	return (struct vring_packed_desc *)guest_va(&r->g, RING_DESC_GPA) + i;
}

struct vring_packed_event *packed_driver_event(struct ring *r)
{
	return guest_va(&r->g, RING_DRIVER_GPA);
}

struct vring_packed_event *packed_device_event(struct ring *r)
{
	return guest_va(&r->g, RING_DEVICE_GPA);
}

void packed_add_raw(struct ring *r, const struct vring_packed_desc *d,
		    unsigned int n)
{
	struct vring_packed_desc *head = packed_desc(r, r->next_avail);
	uint16_t head_flags = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct vring_packed_desc *slot = packed_desc(r, r->next_avail);
		uint16_t flags = d[i].flags;

		flags &= ~(VRING_PACKED_DESC_F_AVAIL |
			   VRING_PACKED_DESC_F_USED);
		flags |= r->avail_wrap ? VRING_PACKED_DESC_F_AVAIL :
					 VRING_PACKED_DESC_F_USED;
		slot->addr = d[i].addr;
		slot->len = d[i].len;
		slot->id = d[i].id;
		if (i == 0)
			head_flags = flags;
		else
			__atomic_store_n(&slot->flags, flags, __ATOMIC_RELAXED);
		if (++r->next_avail == r->size) {
			r->next_avail = 0;
			r->avail_wrap = !r->avail_wrap;
		}
	}
	if (n && d[n - 1].id < RING_MAX_SIZE)
		r->ndescs[d[n - 1].id] = (uint16_t)n;
	__atomic_store_n(&head->flags, head_flags, __ATOMIC_RELEASE);
}

void packed_add(struct ring *r, uint16_t id, const struct buf *b,
		unsigned int n)
{
	struct vring_packed_desc d[64];

	ck_assert_uint_le(n, 64);
	for (unsigned int i = 0; i < n; i++) {
		d[i].addr = b[i].gpa;
		d[i].len = b[i].len;
		d[i].id = id;
		d[i].flags = (b[i].write ? VRING_DESC_F_WRITE : 0) |
			     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
	}
	packed_add_raw(r, d, n);
}

void packed_add_indirect(struct ring *r, uint16_t id, uint64_t table_gpa,
			 const struct buf *b, unsigned int n)
{
	struct vring_packed_desc *t = guest_va(&r->g, table_gpa);
	struct vring_packed_desc d = {
		.addr = table_gpa,
		.len = n * sizeof(*t),
		.id = id,
		.flags = VRING_DESC_F_INDIRECT,
	};

	for (unsigned int i = 0; i < n; i++) {
		t[i].addr = b[i].gpa;
		t[i].len = b[i].len;
		t[i].id = 0;
		t[i].flags = b[i].write ? VRING_DESC_F_WRITE : 0;
	}
	packed_add_raw(r, &d, 1);
}

bool packed_get_used(struct ring *r, uint16_t *id, uint32_t *len,
		     uint16_t *flags)
{
	struct vring_packed_desc *d = packed_desc(r, r->next_used);
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool avail = f & VRING_PACKED_DESC_F_AVAIL;
	bool used = f & VRING_PACKED_DESC_F_USED;
	unsigned int next;

	if (used != r->used_wrap || avail != used)
		return false;
	*id = d->id;
	*len = d->len;
	if (flags)
		*flags = f;
	ck_assert_uint_lt(*id, r->size);
	ck_assert_uint_gt(r->ndescs[*id], 0);
	next = r->next_used + r->ndescs[*id];
	if (next >= r->size) {
		next -= r->size;
		r->used_wrap = !r->used_wrap;
	}
	r->next_used = (uint16_t)next;
	return true;
}

void packed_set_driver_event(struct ring *r, uint16_t flags, uint16_t off,
			     bool wrap)
{
	struct vring_packed_event *e = packed_driver_event(r);

	e->off_wrap = off | (uint16_t)wrap << VRING_PACKED_EVENT_F_WRAP_CTR;
	e->flags = flags;
}
