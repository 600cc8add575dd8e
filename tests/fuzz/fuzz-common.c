/* SPDX-License-Identifier: MIT */
/* What every harness shares: how a broken invariant is reported, and a
 * log callback that formats (so format bugs show) but prints nothing
 * unless FUZZ_VERBOSE is set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s:%d: fuzz invariant broken: %s\n",
			 file, line, what);

	/* write(2), not stdio: nothing needs flushing before abort(). */
	if (n > 0 && write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n :
			   sizeof(buf) - 1) < 0)
		abort();
	abort();
}

void fuzz_quiet_log(struct vhostdev *dev, int priority, const char *file,
		    int line, const char *fn, const char *format,
		    va_list args, void *userdata)
{
	static int verbose = -1;
	char buf[256];

	vsnprintf(buf, sizeof(buf), format, args);
	/* FUZZ_VERBOSE=1 shows what the library said about an input. */
	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "lib: %s\n", buf);
}
