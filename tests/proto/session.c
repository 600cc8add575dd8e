/* SPDX-License-Identifier: MIT */
/* The front-end side of the protocol tests: a libvhostfront session with
 * guest memory in two regions (rings in the first, data buffers in the
 * second, a hole between them) and echo round trips checked byte by
 * byte. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "harness.h"

#define SLOT_SIZE 4096u

void ts_connect(struct tsession *s, struct tdev *td)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->td = td;
	r = vhf_connect(tdev_path(td), T_TIMEOUT_MS, &s->c);
	ck_assert_msg(r == 0, "connect %s: %s", tdev_path(td), strerror(-r));
	vhf_conn_set_timeout(s->c, T_TIMEOUT_MS);
}

static void setup_memory(struct tsession *s)
{
	int r;

	r = vhf_mem_new(&s->mem);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(vhf_mem_add(s->mem, T_REGION0_GPA, T_REGION0_SIZE, 0),
			 0);
	/* The second region starts 64 KiB into its memfd, so the back end's
	 * mmap offset handling is exercised too. */
	ck_assert_int_eq(vhf_mem_add(s->mem, T_REGION1_GPA, T_REGION1_SIZE,
				     0x10000), 1);
	s->pool_slots = 256;
	r = vhf_mem_alloc(s->mem, 2ull * SLOT_SIZE * s->pool_slots, 4096, 1,
			  &s->pool_gpa);
	ck_assert_int_eq(r, 0);
}

static void negotiate(struct tsession *s, uint64_t want,
		      uint64_t want_protocol)
{
	int r;

	r = vhf_negotiate(s->c, want, want_protocol, &s->features,
			  &s->protocol);
	ck_assert_msg(r == 0, "negotiate: %s", strerror(-r));
	setup_memory(s);
	r = vhf_set_mem_table(s->c, s->mem);
	ck_assert_msg(r == 0, "SET_MEM_TABLE: %s", strerror(-r));
}

void ts_open(struct tsession *s, struct tdev *td, uint64_t want,
	     uint64_t want_protocol)
{
	ts_connect(s, td);
	negotiate(s, want, want_protocol);
}

void ts_attach(struct tsession *s, struct tdev *td, struct vhf_conn *c,
	       uint64_t want, uint64_t want_protocol)
{
	memset(s, 0, sizeof(*s));
	s->td = td;
	s->c = c;
	vhf_conn_set_timeout(s->c, T_TIMEOUT_MS);
	negotiate(s, want, want_protocol);
}

void ts_close(struct tsession *s)
{
	vhf_conn_free(s->c);
	s->c = NULL;
	for (unsigned int i = 0; i < T_MAX_QUEUES; i++) {
		vhf_vq_free(s->vq[i]);
		s->vq[i] = NULL;
	}
	vhf_mem_free(s->mem);
	s->mem = NULL;
}

struct vhf_vq *ts_start_queue(struct tsession *s, unsigned int q,
			      unsigned int size)
{
	int r;

	ck_assert_uint_lt(q, T_MAX_QUEUES);
	ck_assert_ptr_null(s->vq[q]);
	r = vhf_vq_new(s->mem, q, size, vhf_vq_flags_for(s->features), 0,
		       &s->vq[q]);
	ck_assert_msg(r == 0, "vq_new: %s", strerror(-r));
	r = vhf_vq_setup(s->c, s->vq[q]);
	ck_assert_msg(r == 0, "ring setup: %s", strerror(-r));
	if (s->features & VHF_BIT(VHF_F_PROTOCOL_FEATURES)) {
		r = vhf_vq_enable(s->c, s->vq[q], true);
		ck_assert_msg(r == 0, "SET_VRING_ENABLE: %s", strerror(-r));
	}
	return s->vq[q];
}

static uint8_t pattern(unsigned int slot, size_t i)
{
	return (uint8_t)(slot * 31 + i * 7 + 3);
}

/* Splits len into n pieces: the first len % n are one byte longer. */
static uint32_t piece(size_t len, unsigned int n, unsigned int i)
{
	return (uint32_t)(len / n + (i < len % n));
}

int ts_post(struct tsession *s, struct vhf_vq *vq, unsigned int slot,
	    size_t len, unsigned int nout, unsigned int nin, bool indirect)
{
	struct vhf_buf bufs[64];
	uint64_t out = s->pool_gpa + 2ull * SLOT_SIZE * slot;
	uint64_t in = out + SLOT_SIZE;
	uint8_t *p;
	uint64_t off = 0;

	ck_assert_uint_lt(slot, s->pool_slots);
	ck_assert_uint_le(len, SLOT_SIZE);
	ck_assert_uint_le(nout + nin, 64);
	ck_assert(nout >= 1 && nin >= 1 && len >= nout && len >= nin);
	p = vhf_mem_ptr(s->mem, out, 2 * SLOT_SIZE);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(slot, i);
	memset(p + SLOT_SIZE, 0xaa, SLOT_SIZE);
	for (unsigned int i = 0; i < nout; i++) {
		bufs[i].gpa = out + off;
		bufs[i].len = piece(len, nout, i);
		off += bufs[i].len;
	}
	off = 0;
	for (unsigned int i = 0; i < nin; i++) {
		bufs[nout + i].gpa = in + off;
		bufs[nout + i].len = piece(len, nin, i);
		off += bufs[nout + i].len;
	}
	return vhf_vq_add(vq, bufs, nout, nin, indirect);
}

void ts_check_echo(struct tsession *s, unsigned int slot, size_t len,
		   uint32_t used_len)
{
	uint64_t in = s->pool_gpa + 2ull * SLOT_SIZE * slot + SLOT_SIZE;
	const uint8_t *p = vhf_mem_ptr(s->mem, in, SLOT_SIZE);

	ck_assert_uint_eq(used_len, len);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(p[i] == pattern(slot, i),
			      "slot %u byte %zu: 0x%02x, expected 0x%02x",
			      slot, i, p[i], pattern(slot, i));
	/* Nothing written past what was given. */
	if (len < SLOT_SIZE)
		ck_assert_uint_eq(p[len], 0xaa);
}

bool ts_poll_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len)
{
	for (int i = 0; i < T_TIMEOUT_MS; i++) {
		int r = vhf_vq_get_used(vq, id, len);

		ck_assert_int_ge(r, 0);
		if (r == 1)
			return true;
		poll(NULL, 0, 1);
	}
	return false;
}

void ts_wait_used(struct tsession *s, struct vhf_vq *vq, uint16_t *id,
		  uint32_t *len)
{
	for (;;) {
		int r = vhf_vq_get_used(vq, id, len);

		ck_assert_msg(r >= 0, "used ring: %s", strerror(-r));
		if (r == 1)
			return;
		r = vhf_vq_wait_call(vq, T_TIMEOUT_MS);
		ck_assert_msg(r == 0, "no interrupt on queue %u within %d ms"
			      " (popped %u, completed %u)",
			      vhf_vq_index(vq), T_TIMEOUT_MS,
			      tdev_popped(s->td), tdev_completed(s->td));
	}
}

void ts_echo(struct tsession *s, struct vhf_vq *vq, size_t len,
	     unsigned int nout, unsigned int nin, bool indirect)
{
	uint32_t used_len;
	uint16_t id;
	int head;

	head = ts_post(s, vq, 0, len, nout, nin, indirect);
	ck_assert_msg(head >= 0, "add: %s", strerror(-head));
	ck_assert_int_ge(vhf_vq_kick(vq), 0);
	ts_wait_used(s, vq, &id, &used_len);
	ck_assert_int_eq(id, head);
	ts_check_echo(s, 0, len, used_len);
}
