/* SPDX-License-Identifier: MIT */
/* The unit test runner: every data-path suite in one program, each test
 * in its own process (unless CK_FORK=no) so that a test that touches a
 * guard page fails alone instead of taking the run down. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(memory_suite());
	int failed;

	srunner_add_suite(sr, split_suite());
	srunner_add_suite(sr, split_hostile_suite());
	srunner_add_suite(sr, packed_suite());
	srunner_add_suite(sr, packed_hostile_suite());
	srunner_add_suite(sr, fuzz_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
