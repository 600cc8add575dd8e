/* SPDX-License-Identifier: MIT */
/*
 * The adversarial suite: `adversarial DAEMON [CASE...]` starts the daemon
 * (vhostdev-rng, vhostdev-blk, vhostdev-fs) and plays every hostile session in
 * cases-*.c against it, each on a new connection. After each one, whatever it did:
 *   - the daemon is still running;
 *   - once the connection is gone it holds exactly as many fds as before
 *     (nothing the front end sent leaks);
 *   - a new, well-behaved front end is served correctly.
 * At the end VmRSS must not have grown much (valgrind checks memory
 * properly: make check-valgrind) and SIGTERM must end the daemon with
 * status 0. Output is TAP-like: "ok N name" / "not ok N name".
 *
 * Adding a daemon is one line in `kinds` below (and its good request).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/fuse.h>

#include "adversarial.h"

/* ---- well-behaved requests, one per daemon kind ------------------------- */

/* 64 bytes of entropy into one writable buffer: all of it written (a
 * few random bytes may be zero, not most). */
static int rng_request(struct adv_session *s, uint64_t gpa)
{
	struct vhf_buf b = { gpa, 64 };
	uint16_t id;
	uint32_t len = 0;
	uint8_t p[64];
	int head, used, nonzero = 0;

	ADV_CHECK(adv_fill(s, gpa, 0, 64), "buffer outside guest memory");
	head = vhf_vq_add(s->vq, &b, 0, 1, false);
	ADV_CHECK(head >= 0, "add: %d", head);
	vhf_vq_kick(s->vq);
	used = adv_wait_used(s, 5000, &id, &len);
	ADV_CHECK(used == 1, "no used entry (%d)", used);
	ADV_CHECK(id == head && len == 64, "used id %u len %u", id, len);
	adv_read(s, gpa, p, sizeof(p));
	for (uint32_t i = 0; i < len; i++)
		nonzero += p[i] != 0;
	ADV_CHECK(nonzero > 48, "only %d of 64 bytes written", nonzero);
	return 0;
}

/* Reads sector 0 of the image (every byte ADV_IMAGE_BYTE) into a
 * 512-byte buffer at gpa: header, data and status byte, as virtio-blk
 * lays them out. */
static int blk_request(struct adv_session *s, uint64_t gpa)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} *hdr;
	struct vhf_buf b[3] = { { 0, 16 }, { gpa, 512 }, { 0, 1 } };
	uint8_t data[512], *status;
	uint16_t id;
	uint32_t len = 0;
	int head, used, same = 0;

	ADV_CHECK(adv_fill(s, gpa, 0, 512), "buffer outside guest memory");
	ADV_CHECK(vhf_mem_alloc(s->m, 16, 16, s->ra, &b[0].gpa) == 0 &&
		  vhf_mem_alloc(s->m, 1, 1, s->ra, &b[2].gpa) == 0, "alloc");
	hdr = adv_ptr(s, b[0].gpa, 16);
	hdr->type = 0;      /* VIRTIO_BLK_T_IN */
	hdr->reserved = 0;
	hdr->sector = 0;
	status = adv_ptr(s, b[2].gpa, 1);
	*status = 0xff;
	head = vhf_vq_add(s->vq, b, 1, 2, false);
	ADV_CHECK(head >= 0, "add: %d", head);
	vhf_vq_kick(s->vq);
	used = adv_wait_used(s, 5000, &id, &len);
	ADV_CHECK(used == 1 && id == head, "no used entry (%d)", used);
	adv_read(s, gpa, data, sizeof(data));
	for (int i = 0; i < 512; i++)
		same += data[i] == ADV_IMAGE_BYTE;
	ADV_CHECK(*status == 0, "status %u", *status);
	ADV_CHECK(same == 512 && len == 513, "read back %d of 512, len %u",
		  same, len);
	return 0;
}

/* A FUSE GETATTR of the root before any FUSE_INIT, into a buffer at gpa:
 * vhostdev-fs must answer it, on any queue, with just an out header that
 * carries EIO and the request's unique id. Needs no state, so every
 * session may send it. */
static int fs_request(struct adv_session *s, uint64_t gpa)
{
	struct {
		struct fuse_in_header in;
		struct fuse_getattr_in arg;
	} *req;
	struct fuse_out_header out;
	struct vhf_buf b[2] = { { 0, sizeof(*req) }, { gpa, 128 } };
	uint16_t id;
	uint32_t len = 0;
	int head, used;

	ADV_CHECK(adv_fill(s, gpa, 0xee, 128), "buffer outside guest memory");
	ADV_CHECK(vhf_mem_alloc(s->m, sizeof(*req), 8, s->ra, &b[0].gpa) == 0,
		  "alloc");
	req = adv_ptr(s, b[0].gpa, sizeof(*req));
	memset(req, 0, sizeof(*req));
	req->in.len = sizeof(*req);
	req->in.opcode = FUSE_GETATTR;
	req->in.unique = 0x1234;
	req->in.nodeid = FUSE_ROOT_ID;
	head = vhf_vq_add(s->vq, b, 1, 1, false);
	ADV_CHECK(head >= 0, "add: %d", head);
	vhf_vq_kick(s->vq);
	used = adv_wait_used(s, 5000, &id, &len);
	ADV_CHECK(used == 1 && id == head, "no used entry (%d)", used);
	ADV_CHECK(len == sizeof(out), "used length %u", len);
	adv_read(s, gpa, &out, sizeof(out));
	ADV_CHECK(out.len == sizeof(out) && out.error == -EIO &&
		  out.unique == 0x1234, "reply len %u error %d unique %llu",
		  out.len, out.error, (unsigned long long)out.unique);
	return 0;
}

static const struct adv_kind kinds[] = {
	{ .name = "rng", .program = "examples/rng/vhostdev-rng",
	  .request = rng_request, .data_len = 64 },
	{ .name = "blk", .program = "examples/blk/vhostdev-blk",
	  .request = blk_request, .data_len = 512,
	  .image_option = "--blk-file", .image_size = 1 << 20 },
	/* Sandboxing needs privileges the suite may not have, and is not
	 * what is tested here. */
	{ .name = "fs", .program = "examples/fs/vhostdev-fs",
	  .request = fs_request, .data_len = 128,
	  .dir_option = "--shared-dir", .extra_option = "--sandbox=none" },
};/* ---- running the cases -------------------------------------------------- */

static int good_session(const struct adv_kind *kind, struct adv_daemon *d,
			unsigned int how)
{
	struct adv_session s;
	int r = adv_open(&s, kind, d, ADV_RING | how);

	if (r == 0)
		r = adv_good_request(&s);
	if (adv_close(&s) < 0)
		r = -1;
	return r;
}

/* Waits (up to 5 s) until the daemon is back to want fds: it handles the
 * hang-up asynchronously. */
static int settle_fds(struct adv_daemon *d, int want)
{
	int n = adv_daemon_fds(d);

	for (int i = 0; i < 250 && n != want; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		n = adv_daemon_fds(d);
	}
	return n;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc <= 2)
		return true;
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const struct adv_case *tables[] = { adv_ring_cases, adv_message_cases };
	const struct adv_kind *kind = NULL;
	struct adv_daemon *d;
	int baseline, failed = 0, n = 0, r;
	long rss_start, rss_end;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; argc > 1 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(argv[1], kinds[i].name) == 0)
			kind = &kinds[i];
	if (!kind) {
		fprintf(stderr, "usage: adversarial DAEMON [CASE...]\n");
		return 2;
	}
	r = adv_daemon_start(kind, &d);
	if (r < 0) {
		fprintf(stderr, "starting %s: %s\n", kind->program,
			strerror(-r));
		return r == -ENOENT ? 77 : 1;
	}
	/* The first session may open fds for good (log, entropy source). */
	if (good_session(kind, d, 0) < 0) {
		adv_note("a well-behaved front end is not served");
		adv_daemon_stop(d);
		return 1;
	}
	baseline = settle_fds(d, -1);
	rss_start = adv_daemon_rss_kb(d);
	adv_note("%s: pid fds %d, VmRSS %ld KiB", kind->name, baseline,
		 rss_start);

	for (size_t t = 0; t < 2; t++) {
		for (const struct adv_case *c = tables[t]; c->name; c++) {
			int fds;

			if (!selected(c->name, argc, argv))
				continue;
			n++;
			r = c->run(kind, d);
			adv_close_leftover();
			if (!adv_daemon_alive(d)) {
				adv_note("the daemon died");
				printf("not ok %d %s\n", n, c->name);
				failed++;
				goto out;
			}
			fds = settle_fds(d, baseline);
			if (fds != baseline) {
				adv_note("daemon holds %d fds, %d before", fds,
					 baseline);
				r = -1;
			}
			if (good_session(kind, d, 0) < 0) {
				adv_note("the next front end is not served");
				r = -1;
			}
			fds = settle_fds(d, baseline);
			if (fds != baseline) {
				adv_note("daemon holds %d fds after a good session, %d before",
					 fds, baseline);
				r = -1;
			}
			printf("%s %d %s (%s)\n", r == 0 ? "ok" : "not ok", n,
			       c->name, c->expect);
			failed += r != 0;
		}
	}
	rss_end = adv_daemon_rss_kb(d);
	adv_note("%s: VmRSS %ld KiB after %d cases (%+ld KiB)", kind->name,
		 rss_end, n, rss_end - rss_start);
	/* Loose: valgrind (check-valgrind) is the real leak check. */
	if (rss_start > 0 && rss_end - rss_start > 16 * 1024) {
		adv_note("VmRSS grew by more than 16 MiB");
		failed++;
	}
out:
	if (adv_daemon_stop(d) < 0)
		failed++;
	printf("# %d cases, %d failed\n", n, failed);
	return failed ? 1 : 0;
}
