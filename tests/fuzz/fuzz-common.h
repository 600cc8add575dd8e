/* SPDX-License-Identifier: MIT */
/* Declarations shared by the harnesses (fuzz-common.c). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>

#include <vhostdev.h>

#include "fuzz-input.h"

/* libFuzzer's entry point, which every harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Library log callback: formats the message and drops it. */
void fuzz_quiet_log(struct vhostdev *dev, int priority, const char *file,
		    int line, const char *fn, const char *format,
		    va_list args, void *userdata);

#endif
