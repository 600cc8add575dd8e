/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point: the packed-ring walker (see fuzz-ring.c). */
#include "fuzz-common.h"
#include "fuzz-ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_ring_run(data, size, true);
}
