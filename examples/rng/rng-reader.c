/* SPDX-License-Identifier: MIT */
/*
 * A vhost-user front end that reads entropy from a virtio-rng back end the
 * way a guest driver would, and outlives the back end: after each round it
 * waits for the back end to go away (killed or stopped), then connects to
 * the next one, sets the device up from scratch and reads again. The
 * restart test drives it; QEMU 10.0's vhost-user-rng cannot reconnect (see
 * tests/guest/rng.test), so this is where a restart under a running front
 * end is shown.
 *
 *   rng-reader [--listen] SOCKET ROUNDS BYTES
 *
 * Prints "round N: ..." when a round's bytes were read and checked, and
 * "round N: waiting" when it waits for the back end to leave. Exit status
 * 0 when every round read BYTES bytes that look random, 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhostfront.h"

#define CHUNK 512
#define RING_SIZE 16
#define WAIT_MS 20000

struct reader {
	const char *path;
	bool listen;
	int listen_fd;
	unsigned long bytes;
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "rng-reader: %s: %s\n", what, strerror(-err));
	return -1;
}

static int open_connection(struct reader *rd, struct vhf_conn **c)
{
	int r;

	if (rd->listen)
		r = vhf_accept(rd->listen_fd, WAIT_MS, c);
	else
		r = vhf_connect(rd->path, WAIT_MS, c);
	if (r < 0)
		return fail(rd->listen ? "no back end connected" :
				"cannot connect", r);
	vhf_conn_set_timeout(*c, WAIT_MS);
	return 0;
}

/* Attempts at a round whose back end leaves during set-up. */
#define SETUP_TRIES 20

/* Reads rd->bytes through one ring, a CHUNK-sized buffer at a time, and
 * checks every completion: a known id, a length within the buffer. */
static int read_entropy(struct reader *rd, struct vhf_vq *vq,
			struct vhf_mem *mem, uint64_t buf_gpa,
			unsigned int counts[256])
{
	unsigned long got = 0;

	while (got < rd->bytes) {
		struct vhf_buf b = { buf_gpa, CHUNK };
		const uint8_t *p = vhf_mem_ptr(mem, buf_gpa, CHUNK);
		uint16_t id;
		uint32_t len;
		int head, r;

		memset((void *)p, 0, CHUNK);
		head = vhf_vq_add(vq, &b, 0, 1, false);
		if (head < 0)
			return fail("adding a buffer", head);
		vhf_vq_kick(vq);
		while ((r = vhf_vq_get_used(vq, &id, &len)) == 0) {
			r = vhf_vq_wait_call(vq, WAIT_MS);
			if (r < 0)
				return fail("waiting for entropy", r);
		}
		if (r < 0)
			return fail("used ring", r);
		if (id != head || len == 0 || len > CHUNK) {
			fprintf(stderr, "rng-reader: bad completion: id %u (want %d), length %u\n",
				id, head, len);
			return -1;
		}
		for (uint32_t i = 0; i < len; i++)
			counts[p[i]]++;
		got += len;
	}
	return 0;
}

/* Random bytes: over 4 KiB or more, nearly every byte value shows up and
 * none dominates. A source of zeroes or a repeated pattern fails. */
static int looks_random(const unsigned int counts[256], unsigned long total)
{
	unsigned int distinct = 0, most = 0;

	for (int v = 0; v < 256; v++) {
		distinct += counts[v] > 0;
		if (counts[v] > most)
			most = counts[v];
	}
	if (distinct < 200 || most > total / 32) {
		fprintf(stderr, "rng-reader: %lu bytes do not look random: %u distinct values, the most common %u times\n",
			total, distinct, most);
		return -1;
	}
	return 0;
}

/* One round on a new connection: 0 done, 1 to be tried again (the back
 * end left during set-up), -1 failed. */
static int one_round(struct reader *rd, unsigned int round, bool last)
{
	unsigned int counts[256] = { 0 };
	struct vhf_conn *c = NULL;
	struct vhf_mem *mem = NULL;
	struct vhf_vq *vq = NULL;
	uint64_t features, buf_gpa;
	int r = -1;

	if (open_connection(rd, &c) < 0)
		return -1;
	if ((r = vhf_negotiate(c, VHF_BIT(VHF_F_VERSION_1) |
			       VHF_BIT(VHF_F_EVENT_IDX) |
			       VHF_BIT(VHF_F_PROTOCOL_FEATURES),
			       VHF_BIT(VHF_PF_REPLY_ACK), &features, NULL)) < 0 ||
	    (r = vhf_mem_new(&mem)) < 0 ||
	    (r = vhf_mem_add(mem, 0x100000, 1 << 20, 0)) < 0 ||
	    (r = vhf_set_mem_table(c, mem)) < 0 ||
	    (r = vhf_vq_new(mem, 0, RING_SIZE, vhf_vq_flags_for(features), -1,
			    &vq)) < 0 ||
	    (r = vhf_mem_alloc(mem, CHUNK, 64, -1, &buf_gpa)) < 0 ||
	    (r = vhf_vq_setup(c, vq)) < 0 ||
	    (r = vhf_vq_enable(c, vq, true)) < 0) {
		/* A connection queued on the dying daemon's listening socket
		 * is reset when its exit closes it: a front end connects
		 * again, as QEMU's reconnect does. */
		if (r == -ECONNRESET || r == -EPIPE) {
			fprintf(stderr, "rng-reader: the back end left during set-up; connecting again\n");
			r = 1;
			goto out;
		}
		fail("setting up the device", r);
		goto out;
	}
	r = read_entropy(rd, vq, mem, buf_gpa, counts);
	if (r == 0)
		r = looks_random(counts, rd->bytes);
	if (r < 0)
		goto out;
	printf("round %u: read %lu bytes\n", round, rd->bytes);
	if (!last) {
		printf("round %u: waiting\n", round);
		fflush(stdout);
		r = vhf_wait_closed(c, 10 * WAIT_MS);
		if (r == 1) {
			r = 0;
		} else {
			fail("the back end did not go away",
			     r < 0 ? r : -ETIMEDOUT);
			r = -1;
		}
	}
	fflush(stdout);
out:
	vhf_conn_free(c);
	vhf_vq_free(vq);
	vhf_mem_free(mem);
	return r < 0 ? -1 : r;
}

int main(int argc, char **argv)
{
	struct reader rd = { .listen_fd = -1 };
	unsigned long rounds;
	int arg = 1, r;

	if (argc > 1 && !strcmp(argv[1], "--listen")) {
		rd.listen = true;
		arg++;
	}
	if (argc - arg != 3) {
		fprintf(stderr, "usage: rng-reader [--listen] SOCKET ROUNDS BYTES\n");
		return 1;
	}
	rd.path = argv[arg];
	rounds = strtoul(argv[arg + 1], NULL, 0);
	rd.bytes = strtoul(argv[arg + 2], NULL, 0);
	if (rounds == 0 || rd.bytes == 0) {
		fprintf(stderr, "rng-reader: ROUNDS and BYTES must be positive\n");
		return 1;
	}
	if (rd.listen && (r = vhf_listen(rd.path, &rd.listen_fd)) < 0) {
		fail("cannot listen", r);
		return 1;
	}
	for (unsigned long i = 1; i <= rounds; i++) {
		int tries = 0;

		do
			r = one_round(&rd, (unsigned int)i, i == rounds);
		while (r == 1 && ++tries < SETUP_TRIES);
		if (r != 0)
			return 1;
	}
	if (rd.listen_fd >= 0)
		close(rd.listen_fd);
	return 0;
}
