/* SPDX-License-Identifier: MIT */
/* The shared body of the split-ring and packed-ring harnesses. */
#ifndef FUZZ_RING_H
#define FUZZ_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plays one input as a guest driver against one started queue. */
int fuzz_ring_run(const uint8_t *data, size_t size, bool packed);

#endif
