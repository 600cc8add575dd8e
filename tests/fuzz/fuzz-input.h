/* SPDX-License-Identifier: MIT */
/* Reading a fuzzer's input as a stream of small decisions. Past the end
 * every read returns zeros, so any input, however short, is a valid
 * program for a harness and the fuzzer never wastes runs on "too short". */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

static inline void fuzz_input_init(struct fuzz_input *in, const uint8_t *data,
				   size_t size)
{
	in->p = data;
	in->left = size;
}

static inline bool fuzz_done(const struct fuzz_input *in)
{
	return in->left == 0;
}

/* Copies up to n bytes into buf, zero-fills the rest; returns how many
 * came from the input. */
static inline size_t fuzz_bytes(struct fuzz_input *in, void *buf, size_t n)
{
	size_t take = n < in->left ? n : in->left;

	memcpy(buf, in->p, take);
	memset((uint8_t *)buf + take, 0, n - take);
	in->p += take;
	in->left -= take;
	return take;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	uint8_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_input *in)
{
	uint16_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
	uint64_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

/* Stops a harness loudly: the fuzzer (or the replay driver) reports the
 * input as a crash. Used for broken invariants that are not memory
 * errors, so the sanitizers would not see them. */
#define fuzz_check(cond)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			fuzz_fail(__FILE__, __LINE__, #cond);                 \
	} while (0)
__attribute__((noreturn)) void fuzz_fail(const char *file, int line,
					 const char *what);

#endif
