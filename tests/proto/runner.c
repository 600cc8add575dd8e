/* SPDX-License-Identifier: MIT */
/* main() of every protocol test program: runs the suite its test file
 * provides, each test in its own process unless CK_FORK=no. */
#include <stdlib.h>

#include "harness.h"

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
