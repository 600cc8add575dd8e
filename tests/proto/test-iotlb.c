/* SPDX-License-Identifier: MIT */
/* A device behind a vIOMMU (VIRTIO_F_ACCESS_PLATFORM): ring and buffer
 * addresses are I/O virtual addresses. The test plays QEMU's part: it
 * starts with an empty IOTLB and answers the device's misses on the
 * back-end channel with updates, as a vIOMMU would. Checked: traffic
 * flows through translations only; a write into a read-only mapping, or
 * an address the IOMMU never maps, fails the chain cleanly (the ring
 * breaks, DEVICE_NEEDS_RESET, ACCESS_FAIL reported) without touching
 * memory; invalidated mappings are asked for again. Loop tests: 0 split,
 * 1 packed. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define ACCESS_PLATFORM VHF_BIT(VHF_F_ACCESS_PLATFORM)
#define WANT(i) ((T_ALL_FEATURES | ACCESS_PLATFORM) & \
		 ~((i) ? 0 : VHF_BIT(VHF_F_RING_PACKED)))
/* I/O virtual address = guest physical address + this. */
#define IOVA_OFF 0x7000000000ull
#define RING 16
#define RW 3
#define RO 1

static struct tdev *td;
static struct tsession s;
static struct vhf_conn *chan;
static unsigned int misses, fails;
/* Guest addresses the IOMMU refuses to map, and its permission for the
 * rest. */
static uint64_t never_gpa = ~0ull;
static uint8_t grant = RW;

static void open_iommu_threads(int layout, bool workers)
{
	struct tdev_opts o = { .features = WANT(1), .workers = workers };

	td = tdev_start(&o);
	ts_open(&s, td, WANT(layout), T_ALL_PROTOCOL);
	ck_assert(s.features & ACCESS_PLATFORM);
	ck_assert_int_eq(vhf_backend_channel_open(s.c, &chan), 0);
	misses = fails = 0;
	never_gpa = ~0ull;
	grant = RW;
}

static void open_iommu(int layout)
{
	open_iommu_threads(layout, false);
}

static void close_iommu(void)
{
	vhf_conn_free(chan);
	ts_close(&s);
	tdev_stop(td);
}

/* Messages are zeroed whole: their padding goes over the socket too. */
static int map(uint64_t gpa, uint64_t size, uint8_t perm)
{
	struct vhf_iotlb_msg m;

	memset(&m, 0, sizeof(m));
	m.iova = gpa + IOVA_OFF;
	m.size = size;
	m.uaddr = vhf_mem_uva(s.mem, gpa);
	m.perm = perm;
	m.type = 2;
	return vhf_iotlb_msg(s.c, &m);
}

static int unmap(uint64_t gpa, uint64_t size)
{
	struct vhf_iotlb_msg m;

	memset(&m, 0, sizeof(m));
	m.iova = gpa + IOVA_OFF;
	m.size = size;
	m.type = 3;
	return vhf_iotlb_msg(s.c, &m);
}

/* The vIOMMU: answers what arrived on the back-end channel within
 * timeout_ms. A miss gets the whole guest region around it (or nothing,
 * for never_gpa's page). */
static void serve(int timeout_ms)
{
	struct pollfd pfd = { .fd = vhf_conn_get_fd(chan), .events = POLLIN };
	struct vhf_msg m;

	while (poll(&pfd, 1, timeout_ms) == 1) {
		struct vhf_iotlb_msg req;
		uint64_t gpa;

		ck_assert_int_eq(vhf_recv(chan, &m), 0);
		if (m.request == 2) {
			/* CONFIG_CHANGE_MSG: the device needs a reset. */
			ck_assert_int_eq(vhf_backend_ack(chan, &m, 0), 0);
			continue;
		}
		ck_assert_uint_eq(m.request, 1);
		ck_assert_uint_ge(m.size, sizeof(req));
		memcpy(&req, &m.payload, sizeof(req));
		ck_assert_int_eq(vhf_backend_ack(chan, &m, 0), 0);
		timeout_ms = 0;
		if (req.type == 4) {
			fails++;
			continue;
		}
		ck_assert_uint_eq(req.type, 1);
		ck_assert_uint_ge(req.iova, IOVA_OFF);
		misses++;
		gpa = req.iova - IOVA_OFF;
		if (gpa / 4096 == never_gpa / 4096)
			continue;
		if (gpa >= T_REGION0_GPA && gpa - T_REGION0_GPA < T_REGION0_SIZE)
			ck_assert_int_eq(map(T_REGION0_GPA, T_REGION0_SIZE, grant), 0);
		else if (gpa >= T_REGION1_GPA &&
			 gpa - T_REGION1_GPA < T_REGION1_SIZE)
			ck_assert_int_eq(map(T_REGION1_GPA, T_REGION1_SIZE, grant), 0);
	}
}

/* A ring whose addresses are I/O virtual addresses. */
static struct vhf_vq *start_ring(void)
{
	struct vhf_vring_addr a = { .index = 0 };
	uint64_t desc, avail, used;
	struct vhf_vq *vq;

	ck_assert_int_eq(vhf_vq_new(s.mem, 0, RING,
				    vhf_vq_flags_for(s.features), 0, &vq), 0);
	s.vq[0] = vq;
	vhf_vq_addrs(vq, &desc, &avail, &used);
	a.desc = desc + IOVA_OFF;
	a.avail = avail + IOVA_OFF;
	a.used = used + IOVA_OFF;
	ck_assert_int_eq(vhf_set_vring_num(s.c, 0, RING), 0);
	ck_assert_int_eq(vhf_set_vring_base(s.c, 0, vhf_vq_base(vq)), 0);
	ck_assert_int_eq(vhf_set_vring_addr(s.c, &a), 0);
	ck_assert_int_eq(vhf_set_vring_kick(s.c, 0, vhf_vq_kick_fd(vq)), 0);
	ck_assert_int_eq(vhf_set_vring_call(s.c, 0, vhf_vq_call_fd(vq)), 0);
	ck_assert_int_eq(vhf_vq_enable(s.c, vq, true), 0);
	return vq;
}

/* One chain: len bytes read at out_gpa, answered at in_gpa (both given
 * to the device as I/O virtual addresses). Returns whether it came back
 * within the timeout, serving misses meanwhile. */
static bool echo(struct vhf_vq *vq, uint64_t out_gpa, uint64_t in_gpa,
		 uint32_t len, uint8_t seed)
{
	struct vhf_buf b[2] = { { out_gpa + IOVA_OFF, len },
				{ in_gpa + IOVA_OFF, len } };
	uint8_t *out = vhf_mem_ptr(s.mem, out_gpa, len);
	uint8_t *in = vhf_mem_ptr(s.mem, in_gpa, len);
	uint16_t id;
	uint32_t used;

	for (uint32_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed + i);
	memset(in, 0xee, len);
	ck_assert_int_ge(vhf_vq_add(vq, b, 1, 1, false), 0);
	vhf_vq_kick(vq);
	for (int i = 0; i < T_TIMEOUT_MS / 10; i++) {
		serve(10);
		if (vhf_vq_get_used(vq, &id, &used) == 1) {
			ck_assert_uint_eq(used, len);
			ck_assert_int_eq(memcmp(in, out, len), 0);
			return true;
		}
	}
	return false;
}

static uint64_t buf(unsigned int k)
{
	return s.pool_gpa + 8192ull * k;
}

/* Loop: bit 0 the layout, bit 1 worker threads (IOTLB changes then wait
 * for them to quiesce). */
START_TEST(traffic_through_translations)
{
	struct vhf_vq *vq;

	open_iommu_threads(_i & 1, _i & 2);
	vq = start_ring();
	ck_assert(echo(vq, buf(0), buf(1), 300, 1));
	/* Rings and buffers were all asked for: nothing was mapped. */
	ck_assert_uint_ge(misses, 2);
	ck_assert(echo(vq, buf(2), buf(3), 4000, 2));
	ck_assert_uint_eq(tdev_pop_errors(td), 0);
	ck_assert_uint_eq(tdev_status(td) & 0x40, 0);
	close_iommu();
}
END_TEST

START_TEST(invalidated_mapping_is_asked_for_again)
{
	struct vhf_vq *vq;
	unsigned int before;

	open_iommu(_i);
	vq = start_ring();
	ck_assert(echo(vq, buf(0), buf(1), 100, 1));
	before = misses;
	ck_assert_int_eq(unmap(T_REGION1_GPA, T_REGION1_SIZE), 0);
	ck_assert(echo(vq, buf(2), buf(3), 100, 2));
	ck_assert_uint_gt(misses, before);
	/* A hole punched in the middle of a mapping: both ends stay. */
	ck_assert_int_eq(unmap(buf(3), 4096), 0);
	before = misses;
	ck_assert(echo(vq, buf(4), buf(5), 100, 3));
	ck_assert_uint_eq(misses, before);
	ck_assert(echo(vq, buf(2), buf(3), 100, 4));
	ck_assert_uint_gt(misses, before);
	close_iommu();
}
END_TEST

/* The answer buffer is mapped read-only: the device must not write it. */
START_TEST(read_only_mapping_is_not_written)
{
	struct vhf_vq *vq;
	uint8_t *in;

	open_iommu(_i);
	vq = start_ring();
	ck_assert(echo(vq, buf(0), buf(1), 100, 1));
	/* The data region becomes read-only for the device. */
	ck_assert_int_eq(map(T_REGION1_GPA, T_REGION1_SIZE, RO), 0);
	ck_assert(!echo(vq, buf(2), buf(3), 100, 2));
	in = vhf_mem_ptr(s.mem, buf(3), 100);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(in[i], 0xee);
	ck_assert(tdev_status(td) & 0x40);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close_iommu();
}
END_TEST

/* A buffer at an address the guest never mapped: the miss is never
 * answered; once the front end has moved on, the chain fails. */
START_TEST(never_mapped_address_fails_cleanly)
{
	struct vhf_vq *vq;

	open_iommu(_i);
	vq = start_ring();
	ck_assert(echo(vq, buf(0), buf(1), 100, 1));
	never_gpa = buf(7);
	ck_assert_int_eq(unmap(never_gpa, 4096), 0);
	ck_assert(!echo(vq, buf(6), buf(7), 100, 2));
	ck_assert_uint_eq(tdev_status(td) & 0x40, 0);
	/* Unrelated IOMMU traffic: the device sees the front end answer
	 * others and stop waiting for this one. */
	for (int i = 0; i < 6 && !(tdev_status(td) & 0x40); i++) {
		ck_assert_int_eq(map(T_REGION0_GPA, T_REGION0_SIZE, RW), 0);
		vhf_vq_kick(vq);
		serve(50);
	}
	ck_assert(tdev_status(td) & 0x40);
	ck_assert_uint_ge(fails, 1);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close_iommu();
}
END_TEST

START_TEST(bad_iotlb_messages_are_refused)
{
	struct vhf_iotlb_msg m;

	memset(&m, 0, sizeof(m));
	m.iova = IOVA_OFF;
	m.size = 4096;
	m.uaddr = 0x1000;
	m.perm = RW;
	m.type = 2;
	open_iommu(0);
	m.size = 0;
	ck_assert_int_lt(vhf_iotlb_msg(s.c, &m), 0);
	m.size = 4096;
	m.perm = 0;
	ck_assert_int_lt(vhf_iotlb_msg(s.c, &m), 0);
	m.perm = RW;
	m.type = 1;
	ck_assert_int_lt(vhf_iotlb_msg(s.c, &m), 0);
	m.type = 2;
	m.iova = ~0ull - 100;
	ck_assert_int_lt(vhf_iotlb_msg(s.c, &m), 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close_iommu();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("iotlb");
	TCase *tc = t_tcase(su, "viommu");

	tcase_add_loop_test(tc, traffic_through_translations, 0, 4);
	tcase_add_loop_test(tc, invalidated_mapping_is_asked_for_again, 0, 2);
	tcase_add_loop_test(tc, read_only_mapping_is_not_written, 0, 2);
	tcase_add_loop_test(tc, never_mapped_address_fails_cleanly, 0, 2);
	tcase_add_test(tc, bad_iotlb_messages_are_refused);
	return su;
}
