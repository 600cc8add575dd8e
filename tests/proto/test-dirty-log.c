/* SPDX-License-Identifier: MIT */
/* Dirty-page logging for live migration, seen from the front end's side
 * of the bitmap: nothing is logged before VHOST_F_LOG_ALL is acked; once
 * it is (as QEMU does when migration starts), the pages a request wrote
 * and the ring pages the device wrote are marked, and pages the device
 * only read are not. Loop tests run per layout (0 split, 1 packed). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

#define LOG_ALL VHF_BIT(26)
#define WANT(i) (T_ALL_FEATURES & ~((i) ? 0 : VHF_BIT(VHF_F_RING_PACKED)))
#define RING 16
#define PAGE 4096ull
/* One bit per page up to the end of the highest region. */
#define LOG_BYTES (((T_REGION1_GPA + T_REGION1_SIZE) / PAGE + 7) / 8)

static struct tdev *td;
static struct tsession s;
static uint8_t *bitmap;
static int log_fd = -1;

static bool dirty(uint64_t gpa)
{
	uint64_t page = gpa / PAGE;

	return __atomic_load_n(&bitmap[page / 8], __ATOMIC_ACQUIRE) &
	       (1u << (page % 8));
}

static unsigned int dirty_pages(void)
{
	unsigned int n = 0;

	for (uint64_t i = 0; i < LOG_BYTES; i++)
		n += (unsigned int)__builtin_popcount(bitmap[i]);
	return n;
}

static void open_log(void)
{
	log_fd = memfd_create("dirty-log", MFD_CLOEXEC);
	ck_assert_int_ge(log_fd, 0);
	ck_assert_int_eq(ftruncate(log_fd, (off_t)LOG_BYTES), 0);
	bitmap = mmap(NULL, LOG_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		      log_fd, 0);
	ck_assert_ptr_ne(bitmap, MAP_FAILED);
}

static void close_log(void)
{
	munmap(bitmap, LOG_BYTES);
	close(log_fd);
}

/* Migration starts: LOG_ALL acked, the log handed over, the ring's
 * addresses sent again with the log flag and the used area's address. */
static void start_logging(struct vhf_vq *vq, uint64_t features)
{
	struct vhf_vring_addr a = { .index = 0, .flags = 1 };
	uint64_t desc, avail, used;

	ck_assert_int_eq(vhf_set_features(s.c, features | LOG_ALL), 0);
	ck_assert_int_eq(vhf_set_log_base(s.c, log_fd, LOG_BYTES, 0), 0);
	vhf_vq_addrs(vq, &desc, &avail, &used);
	a.desc = vhf_mem_uva(s.mem, desc);
	a.avail = vhf_mem_uva(s.mem, avail);
	a.used = vhf_mem_uva(s.mem, used);
	a.log = used;
	ck_assert_int_eq(vhf_set_vring_addr(s.c, &a), 0);
}

/* The pool slot a ts_post() chain writes into (its device-readable half
 * is the slot itself). */
static uint64_t slot_gpa(unsigned int slot)
{
	return s.pool_gpa + 2ull * 4096 * slot;
}

START_TEST(written_pages_are_logged)
{
	struct vhf_vq *vq;
	uint64_t desc, avail, used;
	uint16_t id;
	uint32_t len;

	open_log();
	td = tdev_start(NULL);
	ts_open(&s, td, WANT(_i) | LOG_ALL, T_ALL_PROTOCOL);
	ck_assert(s.features & LOG_ALL);
	ck_assert(s.protocol & VHF_BIT(VHF_PF_LOG_SHMFD));
	/* Negotiated, but not yet migrating: start without LOG_ALL. */
	ck_assert_int_eq(vhf_set_features(s.c, s.features & ~LOG_ALL), 0);
	vq = ts_start_queue(&s, 0, RING);
	ts_echo(&s, vq, 100, 1, 1, false);
	ck_assert_uint_eq(dirty_pages(), 0);

	start_logging(vq, s.features & ~LOG_ALL);
	ck_assert_int_ge(ts_post(&s, vq, 3, 3000, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert(ts_poll_used(vq, &id, &len));
	ck_assert_uint_eq(len, 3000);
	ts_check_echo(&s, 3, 3000, len);

	vhf_vq_addrs(vq, &desc, &avail, &used);
	/* The ring area the device writes, and the answer. */
	ck_assert(dirty(_i ? desc : used));
	ck_assert(dirty(slot_gpa(3) + 4096));
	/* The request itself was only read. */
	ck_assert(!dirty(slot_gpa(3)));
	/* Nothing far away from what was written. */
	ck_assert(!dirty(slot_gpa(100)));
	ck_assert(!dirty(T_REGION1_GPA + T_REGION1_SIZE - PAGE));
	ck_assert_uint_eq(tdev_errors(td), 0);
	ts_close(&s);
	tdev_stop(td);
	close_log();
}
END_TEST

/* The writable half of a chain, exactly: posted by hand so that the test
 * knows each page. */
START_TEST(exactly_the_written_bytes_are_logged)
{
	struct vhf_vq *vq;
	uint64_t out, in;
	struct vhf_buf b[2];
	uint16_t id;
	uint32_t len;
	uint8_t *p;

	open_log();
	td = tdev_start(NULL);
	ts_open(&s, td, WANT(_i) | LOG_ALL, T_ALL_PROTOCOL);
	vq = ts_start_queue(&s, 0, RING);
	start_logging(vq, s.features & ~LOG_ALL);
	ck_assert_int_eq(vhf_mem_alloc(s.mem, 4 * PAGE, PAGE, 1, &out), 0);
	ck_assert_int_eq(vhf_mem_alloc(s.mem, 4 * PAGE, PAGE, 1, &in), 0);
	p = vhf_mem_ptr(s.mem, out, 100);
	memset(p, 0x42, 100);
	/* 100 bytes echoed into a 4-page writable buffer: only its first
	 * page is written. */
	b[0] = (struct vhf_buf){ out, 100 };
	b[1] = (struct vhf_buf){ in, 4 * PAGE };
	ck_assert_int_ge(vhf_vq_add(vq, b, 1, 1, false), 0);
	vhf_vq_kick(vq);
	ck_assert(ts_poll_used(vq, &id, &len));
	ck_assert_uint_eq(len, 100);
	ck_assert(dirty(in));
	ck_assert(!dirty(in + PAGE));
	ck_assert(!dirty(in + 3 * PAGE));
	ck_assert(!dirty(out));
	ts_close(&s);
	tdev_stop(td);
	close_log();
}
END_TEST

/* Bad logs are refused with the reply the front end waits for, and the
 * device keeps serving. */
START_TEST(bad_logs_are_refused)
{
	struct vhf_vq *vq;
	int fd;

	open_log();
	td = tdev_start(NULL);
	ts_open(&s, td, WANT(0) | LOG_ALL, T_ALL_PROTOCOL);
	vq = ts_start_queue(&s, 0, RING);
	/* Past the end of its file. */
	ck_assert_int_lt(vhf_set_log_base(s.c, log_fd, LOG_BYTES + 1, 0), 0);
	ck_assert_int_lt(vhf_set_log_base(s.c, log_fd, LOG_BYTES, 4096), 0);
	ck_assert_int_lt(vhf_set_log_base(s.c, log_fd, 0, 0), 0);
	/* No fd at all. */
	ck_assert_int_lt(vhf_set_log_base(s.c, -1, LOG_BYTES, 0), 0);
	fd = memfd_create("tiny", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vhf_set_log_fd(s.c, fd), 0);
	close(fd);
	ts_echo(&s, vq, 100, 1, 1, false);
	ck_assert_uint_eq(dirty_pages(), 0);
	ts_close(&s);
	tdev_stop(td);
	close_log();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("dirty-log");
	TCase *tc = t_tcase(su, "log");

	tcase_add_loop_test(tc, written_pages_are_logged, 0, 2);
	tcase_add_loop_test(tc, exactly_the_written_bytes_are_logged, 0, 2);
	tcase_add_test(tc, bad_logs_are_refused);
	return su;
}
