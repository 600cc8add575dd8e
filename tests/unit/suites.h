/* SPDX-License-Identifier: MIT */
/* The suites of the unit test runner, one per data-path concern. */
#ifndef TEST_SUITES_H
#define TEST_SUITES_H

#include <check.h>

Suite *memory_suite(void);
Suite *split_suite(void);
Suite *split_hostile_suite(void);
Suite *packed_suite(void);
Suite *packed_hostile_suite(void);
Suite *fuzz_suite(void);

#endif
