/* SPDX-License-Identifier: MIT */
/* Randomised hostile drivers: rings filled with plausible garbage, and a
 * second thread rewriting the rings while the device pops. Whatever the
 * guest does, a pop returns 1, 0 or -EIO, every iovec handed out lies
 * inside one guest region, and nothing outside guest memory is touched
 * (the guard pages would kill the test). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "ring-driver.h"
#include "suites.h"

/* Guest memory changing under the device is the point of the race
 * tests, and exactly what ThreadSanitizer reports: such a build leaves
 * them out. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#define FUZZ_SIZE 16
#define FUZZ_TABLES 4

static struct ring r;

static void teardown(void)
{
	ring_teardown(&r);
}

/* xorshift64*: reproducible, no libc state shared with the library. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Addresses near everything interesting: data, region edges, holes,
 * tables, the top of the address space. */
static uint64_t random_addr(uint64_t *s)
{
	static const uint64_t bases[] = {
		DATA_GPA(0), GUEST_A, GUEST_HOLE, GUEST_B, GUEST_C,
		GUEST_C + GUEST_REGION_SIZE, TABLE_GPA(0), 0, UINT64_MAX,
	};
	uint64_t base = bases[next_random(s) % 9];

	return base + (int64_t)(next_random(s) % 0x2000) - 0x1000;
}

static uint32_t random_len(uint64_t *s)
{
	switch (next_random(s) % 6) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)next_random(s);
	case 2:
		return 16 * (uint32_t)(next_random(s) % 6);
	default:
		return (uint32_t)(next_random(s) % 0x3000);
	}
}

static uint16_t random_flags(uint64_t *s)
{
	uint16_t f = (uint16_t)next_random(s);

	/* Mostly plain descriptors, so chains get long enough. */
	if (next_random(s) % 4)
		f &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE |
		     VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;
	return f;
}

static void scribble_tables(uint64_t *s)
{
	for (unsigned int t = 0; t < FUZZ_TABLES; t++) {
		struct vring_desc *d = guest_va(&r.g, TABLE_GPA(t));

		for (unsigned int i = 0; i < 8; i++) {
			d[i].addr = random_addr(s);
			d[i].len = random_len(s);
			d[i].flags = random_flags(s);
			d[i].next = (uint16_t)(next_random(s) % 10);
		}
	}
}

/* base: where the device is believed to be; the available index lands
 * a little past it, or anywhere now and then. */
static void scribble_split(uint64_t *s, uint16_t base)
{
	struct vring_avail *avail = split_avail(&r);

	for (unsigned int i = 0; i < FUZZ_SIZE; i++) {
		struct vring_desc *d = split_desc(&r, (uint16_t)i);

		d->addr = next_random(s) % 3 ? random_addr(s) :
			  TABLE_GPA(next_random(s) % FUZZ_TABLES);
		d->len = random_len(s);
		d->flags = random_flags(s);
		d->next = (uint16_t)(next_random(s) % (FUZZ_SIZE + 2));
		avail->ring[i] = (uint16_t)(next_random(s) % (FUZZ_SIZE + 2));
	}
	__atomic_store_n(&avail->idx, (uint16_t)(base +
		(next_random(s) % 8 ? next_random(s) % (FUZZ_SIZE + 1) :
		 next_random(s))), __ATOMIC_RELEASE);
}

static void scribble_packed(uint64_t *s)
{
	for (unsigned int i = 0; i < FUZZ_SIZE; i++) {
		struct vring_packed_desc *d = packed_desc(&r, (uint16_t)i);

		d->addr = next_random(s) % 3 ? random_addr(s) :
			  TABLE_GPA(next_random(s) % FUZZ_TABLES);
		d->len = random_len(s);
		d->id = (uint16_t)(next_random(s) % (FUZZ_SIZE + 2));
		__atomic_store_n(&d->flags, random_flags(s), __ATOMIC_RELEASE);
	}
}

static bool inside_guest(const struct iovec *iov)
{
	const uint8_t *p = iov->iov_base;

	if (iov->iov_len == 0)
		return false;
	for (unsigned int i = 0; i < r.g.mem->count; i++) {
		const struct vhd_region *reg = &r.g.mem->regions[i];

		if (p >= reg->host && iov->iov_len <= reg->size &&
		    (uint64_t)(p - reg->host) <= reg->size - iov->iov_len)
			return true;
	}
	return false;
}

/* Pops until the ring is empty or broken, checks what came out, pushes
 * it all back, and revives a broken queue for the next round. */
static void drain_and_check(unsigned int *popped, unsigned int *broken)
{
	struct vhostdev_req *reqs[FUZZ_SIZE];
	unsigned int n = 0;
	int ret;

	for (;;) {
		struct vhostdev_req *req;

		ret = vhostdev_queue_pop(r.q, &req);
		ck_assert_msg(ret == 1 || ret == 0 || ret == -EIO,
			      "pop returned %d", ret);
		if (ret != 1)
			break;
		ck_assert_uint_le(req->nout + req->nin, VHD_MAX_REQ_IOV);
		for (unsigned int i = 0; i < req->nout + req->nin; i++)
			ck_assert(inside_guest(&req->iov[i]));
		ck_assert_uint_lt(n, FUZZ_SIZE);
		reqs[n++] = req;
	}
	*popped += n;
	for (unsigned int i = 0; i < n; i++)
		ck_assert_int_eq(vhostdev_req_push(reqs[i], 1), 0);
	ck_assert_uint_eq(vhostdev_queue_get_inflight(r.q), 0);
	if (ret == -EIO) {
		ck_assert(r.q->broken);
		(*broken)++;
		r.q->broken = false;
		r.g.dev->needs_reset = 0;
		r.g.log_len = 0;
		r.g.log[0] = '\0';
	}
}

static void fuzz(uint64_t features, uint64_t seed)
{
	unsigned int popped = 0, broken = 0;
	uint64_t s = seed;

	ring_setup(&r, FUZZ_SIZE, features | BIT(VHOSTDEV_F_RING_INDIRECT_DESC),
		   0);
	for (unsigned int round = 0; round < 4000; round++) {
		scribble_tables(&s);
		if (r.packed)
			scribble_packed(&s);
		else
			scribble_split(&s, r.q->last_avail);
		drain_and_check(&popped, &broken);
	}
	/* The garbage was plausible enough to exercise both outcomes. */
	ck_assert_uint_gt(popped, 100);
	ck_assert_uint_gt(broken, 100);
}

START_TEST(random_split_rings)
{
	fuzz(BIT(VHOSTDEV_F_RING_EVENT_IDX), 0x9e3779b97f4a7c15ull);
}
END_TEST

START_TEST(random_packed_rings)
{
	fuzz(BIT(VHOSTDEV_F_RING_PACKED), 0xd1b54a32d192ed03ull);
}
END_TEST

START_TEST(random_in_order_rings)
{
	fuzz(BIT(VHOSTDEV_F_IN_ORDER), 0x94d049bb133111ebull);
}
END_TEST

/* ---- a driver that rewrites the ring under the device ------------------ */
#ifndef UNDER_TSAN

static int stop_scribbling;

static void *scribbler(void *arg)
{
	uint64_t s = 0xbf58476d1ce4e5b9ull;

	(void)arg;
	while (!__atomic_load_n(&stop_scribbling, __ATOMIC_ACQUIRE)) {
		scribble_tables(&s);
		if (r.packed)
			scribble_packed(&s);
		else
			/* Like a driver, go by what the device has used. */
			scribble_split(&s, __atomic_load_n(&split_used(&r)->idx,
							   __ATOMIC_ACQUIRE));
	}
	return NULL;
}

static void race(uint64_t features)
{
	unsigned int popped = 0, broken = 0;
	pthread_t t;

	ring_setup(&r, FUZZ_SIZE, features | BIT(VHOSTDEV_F_RING_INDIRECT_DESC),
		   0);
	__atomic_store_n(&stop_scribbling, 0, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_create(&t, NULL, scribbler, NULL), 0);
	for (unsigned int round = 0; round < 20000; round++)
		drain_and_check(&popped, &broken);
	/* On a loaded machine, or under valgrind, which runs one thread at
	 * a time, the scribbler may not have run yet: give it the CPU until
	 * it has produced something (bounded in time). */
	for (time_t end = time(NULL) + 20;
	     popped + broken == 0 && time(NULL) < end;) {
		sched_yield();
		drain_and_check(&popped, &broken);
	}
	__atomic_store_n(&stop_scribbling, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	ck_assert_uint_gt(popped + broken, 0);
}

START_TEST(split_ring_rewritten_while_popping)
{
	race(BIT(VHOSTDEV_F_RING_EVENT_IDX));
}
END_TEST

START_TEST(packed_ring_rewritten_while_popping)
{
	race(BIT(VHOSTDEV_F_RING_PACKED));
}
END_TEST
#endif

Suite *fuzz_suite(void)
{
	Suite *s = suite_create("fuzz");
	TCase *tc = tcase_create("random");
	TCase *tr = tcase_create("race");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_split_rings);
	tcase_add_test(tc, random_packed_rings);
	tcase_add_test(tc, random_in_order_rings);
	suite_add_tcase(s, tc);

#ifndef UNDER_TSAN
	tcase_add_checked_fixture(tr, NULL, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, split_ring_rewritten_while_popping);
	tcase_add_test(tr, packed_ring_rewritten_while_popping);
	suite_add_tcase(s, tr);
#else
	(void)tr;
#endif
	return s;
}
