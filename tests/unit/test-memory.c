/* SPDX-License-Identifier: MIT */
/* Unit tests of the guest memory table (lib/memory.c): mapping regions
 * from memfds, translation at the edges, holes and wrap-around, buffers
 * straddling regions, overlap refusal, removal and the slot limit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"
#include "suites.h"

static struct guest g;

static void setup(void)
{
	guest_init(&g);
}

static void teardown(void)
{
	guest_fini(&g);
}

/* A region whose uva the test picks (guest_add_region ties it to gpa). */
static int add_raw(uint64_t gpa, uint64_t size, uint64_t uva,
		   uint64_t offset)
{
	int fd = memfd_create("vhostdev-unit-raw", MFD_CLOEXEC);
	int r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0x10000), 0);
	r = vhd_memory_add(g.mem, gpa, size, uva, offset, fd);
	close(fd);
	return r;
}

START_TEST(translate_reads_and_writes_guest_memory)
{
	uint8_t *view, *host;

	guest_std_layout(&g);
	view = guest_va(&g, GUEST_A + 100);
	for (int i = 0; i < 10; i++)
		view[i] = (uint8_t)(0xa0 + i);
	host = vhd_memory_gpa(g.mem, GUEST_A + 100, 10);
	ck_assert_ptr_nonnull(host);
	/* Another mapping of the same memory, not the guest's one. */
	ck_assert_ptr_ne(host, view);
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(host[i], 0xa0 + i);
	host[3] = 0x55;
	ck_assert_uint_eq(view[3], 0x55);
}
END_TEST

START_TEST(translate_edges)
{
	const uint64_t end = GUEST_A + GUEST_REGION_SIZE;

	guest_std_layout(&g);
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, GUEST_A,
					     GUEST_REGION_SIZE));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A,
					  GUEST_REGION_SIZE + 1));
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, end - 1, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, end - 1, 2));
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, end - 1, 0));
	/* len 0 still needs its address mapped. */
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, end, 0));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A - 1, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, 0, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_HOLE, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, UINT64_MAX, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A + 10, UINT64_MAX));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A + 10,
					  UINT64_MAX - GUEST_A));
	/* B and C touch, but one translation never spans two regions. */
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_C - 1, 2));
}
END_TEST

START_TEST(iov_splits_at_region_borders)
{
	struct iovec iov[4];
	int n;

	guest_std_layout(&g);
	n = vhd_memory_gpa_iov(g.mem, GUEST_C - 100, 300, iov, 4);
	ck_assert_int_eq(n, 2);
	ck_assert_ptr_eq(iov[0].iov_base,
			 vhd_memory_gpa(g.mem, GUEST_C - 100, 100));
	ck_assert_uint_eq(iov[0].iov_len, 100);
	ck_assert_ptr_eq(iov[1].iov_base, vhd_memory_gpa(g.mem, GUEST_C, 200));
	ck_assert_uint_eq(iov[1].iov_len, 200);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_C - 100, 300, iov, 1),
			 -ENOBUFS);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_C - 100, 300, iov, 0),
			 -ENOBUFS);
	/* Exactly one region's worth, from its first byte. */
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_B, GUEST_REGION_SIZE,
					    iov, 1), 1);
	ck_assert_uint_eq(iov[0].iov_len, GUEST_REGION_SIZE);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_B, 0, iov, 0), 0);
}
END_TEST

START_TEST(iov_refuses_holes_and_wrap)
{
	struct iovec iov[4];

	guest_std_layout(&g);
	/* Runs off the end of A into the hole. */
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_HOLE - 10, 20, iov, 4),
			 -EFAULT);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_HOLE, 1, iov, 4),
			 -EFAULT);
	/* Starts in the hole, ends in B. */
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_B - 1, 2, iov, 4),
			 -EFAULT);
	/* Past C, the last region. */
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem,
					    GUEST_C + GUEST_REGION_SIZE - 1, 2,
					    iov, 4), -EFAULT);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, UINT64_MAX - 10, 100,
					    iov, 4), -EFAULT);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, GUEST_A, UINT64_MAX, iov, 4),
			 -EFAULT);
}
END_TEST

START_TEST(region_at_the_top_of_the_address_space)
{
	const uint64_t top = 0 - 0x2000ull;
	struct iovec iov[2];

	ck_assert_int_eq(add_raw(top, 0x2000, 0x10000000, 0), 0);
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, top, 0x2000));
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, UINT64_MAX, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, UINT64_MAX, 2));
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, UINT64_MAX - 0xff, 0x100,
					    iov, 2), 1);
	ck_assert_int_eq(vhd_memory_gpa_iov(g.mem, UINT64_MAX - 0xff, 0x101,
					    iov, 2), -EFAULT);
	/* One byte more would wrap. */
	ck_assert_int_eq(add_raw(0 - 0x1000ull, 0x2000, 0x20000000, 0),
			 -EINVAL);
}
END_TEST

START_TEST(add_refuses_bad_regions)
{
	ck_assert_int_eq(add_raw(0x10000, 0x4000, 0x900000, 0), 0);
	ck_assert_uint_eq(g.mem->count, 1);

	ck_assert_int_eq(add_raw(0x40000, 0, 0x100000, 0), -EINVAL);
	/* Same gpa range, different uva. */
	ck_assert_int_eq(add_raw(0x10000, 0x4000, 0x100000, 0), -EINVAL);
	/* Overlapping the last page, the first page, or containing. */
	ck_assert_int_eq(add_raw(0x13000, 0x4000, 0x100000, 0), -EINVAL);
	ck_assert_int_eq(add_raw(0xd000, 0x4000, 0x100000, 0), -EINVAL);
	ck_assert_int_eq(add_raw(0x8000, 0x10000, 0x100000, 0), -EINVAL);
	ck_assert_int_eq(add_raw(0x11000, 0x1000, 0x100000, 0), -EINVAL);
	/* Different gpa, overlapping uva. */
	ck_assert_int_eq(add_raw(0x80000, 0x4000, 0x902000, 0), -EINVAL);
	/* Wrapping gpa, uva, or file offset. */
	ck_assert_int_eq(add_raw(UINT64_MAX - 0xfff, 0x2000, 0x100000, 0),
			 -EINVAL);
	ck_assert_int_eq(add_raw(0x80000, 0x2000, UINT64_MAX - 0xfff, 0),
			 -EINVAL);
	ck_assert_int_eq(add_raw(0x80000, 0x2000, 0x100000, UINT64_MAX - 0xfff),
			 -EINVAL);
	ck_assert_int_eq(add_raw(0x80000, 0x2000, 0x100000,
				 (uint64_t)INT64_MAX - 0xfff), -EINVAL);
	ck_assert_uint_eq(g.mem->count, 1);

	/* Touching in both spaces is fine. */
	ck_assert_int_eq(add_raw(0x14000, 0x4000, 0x904000, 0), 0);
	ck_assert_int_eq(add_raw(0xc000, 0x4000, 0x8fc000, 0), 0);
	ck_assert_uint_eq(g.mem->count, 3);
	/* mmap's own refusal comes back as its errno. */
	ck_assert_int_eq(vhd_memory_add(g.mem, 0x100000, 0x1000, 0x100000, 0,
					-1), -EBADF);
	ck_assert_uint_eq(g.mem->count, 3);
}
END_TEST

START_TEST(unaligned_mmap_offset)
{
	const uint64_t offset = 0x1234;
	struct vhd_region *r;
	uint8_t *view, *host;

	ck_assert_int_eq(guest_add_region(&g, GUEST_A, 0x3000, offset), 0);
	r = &g.mem->regions[0];
	ck_assert_uint_eq((uintptr_t)r->map & 0xfff, 0);
	ck_assert_ptr_eq(r->host, (uint8_t *)r->map + (offset & 0xfff));
	view = guest_va(&g, GUEST_A);
	for (int i = 0; i < 0x3000; i++)
		view[i] = (uint8_t)(i * 13);
	/* The fd's bytes before the offset are not guest memory. */
	g.r[0].view[offset - 1] = 0xee;
	host = vhd_memory_gpa(g.mem, GUEST_A, 0x3000);
	ck_assert_ptr_nonnull(host);
	for (int i = 0; i < 0x3000; i++)
		ck_assert_uint_eq(host[i], (uint8_t)(i * 13));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A - 1, 1));
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A + 0x3000, 1));
}
END_TEST

/* Whether p's page is mapped, from /proc/self/maps (touching it would
 * fault, and probing syscalls upset valgrind). */
static bool mapped(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long start, end;
	char line[512];
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    (uintptr_t)p >= start && (uintptr_t)p < end)
			found = true;
	fclose(f);
	return found;
}

START_TEST(remove_exact_region_only)
{
	guest_std_layout(&g);
	const uint64_t size = GUEST_REGION_SIZE;
	struct vhd_retired retired = { 0 };
	volatile uint8_t *old;

	ck_assert_int_eq(vhd_retired_reserve(&retired, 1), 0);
	old = vhd_memory_gpa(g.mem, GUEST_B, 1);
	ck_assert_ptr_nonnull((void *)old);
	ck_assert_int_eq(vhd_memory_remove(g.mem, GUEST_B, size - 1, &retired),
			 -ENOENT);
	ck_assert_int_eq(vhd_memory_remove(g.mem, GUEST_B + 1, size, &retired),
			 -ENOENT);
	ck_assert_uint_eq(retired.count, 0);
	ck_assert_int_eq(vhd_memory_remove(g.mem, GUEST_B, size, &retired), 0);
	ck_assert_uint_eq(g.mem->count, 2);
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_B, 1));
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, GUEST_A, 1));
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, GUEST_C, 1));
	/* Retired, not unmapped: a request still in flight may write. */
	ck_assert_uint_eq(retired.count, 1);
	*old = 0x5a;
	ck_assert_uint_eq(*old, 0x5a);
	ck_assert_int_eq(vhd_memory_remove(g.mem, GUEST_B, GUEST_REGION_SIZE,
					   &retired), -ENOENT);
	ck_assert(mapped((const void *)old));
	vhd_retired_unmap(&retired);
	ck_assert_uint_eq(retired.count, 0);
	ck_assert(!mapped((const void *)old));
	vhd_retired_free(&retired);
	/* The gap can be filled again. */
	ck_assert_int_eq(add_raw(GUEST_B, 0x1000, 0x10000000, 0), 0);
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, GUEST_B, 1));
}
END_TEST

START_TEST(retire_all_keeps_mappings_until_unmapped)
{
	guest_std_layout(&g);
	struct vhd_retired retired = { 0 };
	unsigned int count = g.mem->count;
	volatile uint8_t *a = vhd_memory_gpa(g.mem, GUEST_A, 1);

	ck_assert_ptr_nonnull((void *)a);
	ck_assert_int_eq(vhd_retired_reserve(&retired, count), 0);
	vhd_memory_retire_all(g.mem, &retired);
	ck_assert_uint_eq(g.mem->count, 0);
	ck_assert_uint_eq(retired.count, count);
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A, 1));
	*a = 0xa5;
	ck_assert_uint_eq(*a, 0xa5);
	vhd_retired_free(&retired);
	ck_assert_uint_eq(retired.count, 0);
}
END_TEST

START_TEST(table_stays_sorted)
{
	static const unsigned int order[] = { 7, 3, 11, 0, 15, 8, 1, 12, 5,
					      14, 2, 9, 6, 13, 4, 10 };
	int fd = memfd_create("vhostdev-unit-sorted", MFD_CLOEXEC);
	uint8_t *view;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 16 * 0x1000), 0);
	view = mmap(NULL, 16 * 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	ck_assert_ptr_ne(view, MAP_FAILED);
	for (unsigned int i = 0; i < 16; i++)
		view[i * 0x1000] = (uint8_t)(0x40 + i);
	for (unsigned int k = 0; k < 16; k++) {
		unsigned int i = order[k];

		/* gpa order differs from uva and file order. */
		ck_assert_int_eq(vhd_memory_add(g.mem, (uint64_t)(15 - i) << 20,
						0x1000, 0x1000000 + i * 0x1000,
						i * 0x1000, fd), 0);
	}
	for (unsigned int i = 1; i < g.mem->count; i++)
		ck_assert_uint_lt(g.mem->regions[i - 1].gpa,
				  g.mem->regions[i].gpa);
	for (unsigned int i = 0; i < 16; i++) {
		uint8_t *p = vhd_memory_gpa(g.mem, (uint64_t)(15 - i) << 20, 1);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(*p, 0x40 + i);
		ck_assert_ptr_null(vhd_memory_gpa(g.mem,
						  ((uint64_t)(15 - i) << 20) +
						  0x1000, 1));
	}
	munmap(view, 16 * 0x1000);
	close(fd);
}
END_TEST

START_TEST(slot_limit)
{
	const uint64_t slot_gpa = (uint64_t)VHD_MAX_MEM_SLOTS << 16;
	int fd = memfd_create("vhostdev-unit-slots", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0x1000), 0);
	for (uint64_t i = 0; i < VHD_MAX_MEM_SLOTS; i++)
		ck_assert_int_eq(vhd_memory_add(g.mem, i << 16, 0x1000, i << 16,
						0, fd), 0);
	ck_assert_int_eq(vhd_memory_add(g.mem, slot_gpa, 0x1000, slot_gpa, 0,
					fd), -ENOSPC);
	ck_assert_uint_eq(g.mem->count, VHD_MAX_MEM_SLOTS);
	ck_assert_ptr_nonnull(vhd_memory_gpa(g.mem, 300 << 16, 0x1000));
	close(fd);
}
END_TEST

START_TEST(uva_translation)
{
	guest_std_layout(&g);
	const uint64_t uva_b = GUEST_B + GUEST_UVA_BIAS;

	ck_assert_ptr_eq(vhd_memory_uva(g.mem, uva_b + 5, 10),
			 vhd_memory_gpa(g.mem, GUEST_B + 5, 10));
	ck_assert_ptr_null(vhd_memory_uva(g.mem, GUEST_B + 5, 10));
	ck_assert_ptr_null(vhd_memory_uva(g.mem, GUEST_C + GUEST_UVA_BIAS - 5,
					  10));
	ck_assert_ptr_null(vhd_memory_uva(g.mem, GUEST_A + GUEST_UVA_BIAS,
					  UINT64_MAX));
}
END_TEST

START_TEST(clear_unmaps_everything)
{
	guest_std_layout(&g);
	vhd_memory_clear(g.mem);
	ck_assert_uint_eq(g.mem->count, 0);
	ck_assert_ptr_null(vhd_memory_gpa(g.mem, GUEST_A, 1));
	/* The same ranges can be mapped again. */
	ck_assert_int_eq(add_raw(GUEST_A, 0x1000, GUEST_A + GUEST_UVA_BIAS, 0),
			 0);
}
END_TEST

Suite *memory_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, translate_reads_and_writes_guest_memory);
	tcase_add_test(tc, translate_edges);
	tcase_add_test(tc, iov_splits_at_region_borders);
	tcase_add_test(tc, iov_refuses_holes_and_wrap);
	tcase_add_test(tc, region_at_the_top_of_the_address_space);
	tcase_add_test(tc, add_refuses_bad_regions);
	tcase_add_test(tc, unaligned_mmap_offset);
	tcase_add_test(tc, remove_exact_region_only);
	tcase_add_test(tc, retire_all_keeps_mappings_until_unmapped);
	tcase_add_test(tc, table_stays_sorted);
	tcase_add_test(tc, slot_limit);
	tcase_add_test(tc, uva_translation);
	tcase_add_test(tc, clear_unmaps_everything);
	suite_add_tcase(s, tc);
	return s;
}
