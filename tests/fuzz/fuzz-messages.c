/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the message reader and dispatcher. A real device
 * (two queues, a config space, kick/quiesce/message callbacks) adopts one
 * end of a socketpair; the input is a program of front-end steps: whole
 * or split messages with any header, payload and fds (memfds, eventfds,
 * pipes, sockets, /dev/null, made per input), raw bytes, guest writes
 * into the memfds, kicks, quiesce that answers -EBUSY, requests held
 * across GET_VRING_BASE, detached queues, and finally a disconnect.
 *
 * What must hold, whatever the input: no sanitizer report, every fd the
 * library received is closed and every guest mapping gone once the
 * device is released, and the device can always be drained and
 * disconnected. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "device.h"
#include "protocol.h"

#define NUM_QUEUES 2
#define MAX_KEPT 16        /* memfds / eventfds / sockets we keep */
#define MAX_FDS_SENT 20    /* more than the library takes (16) */
#define MAX_PAYLOAD 1024
#define MAX_HELD 512
#define MAX_OPS 512
#define MEMFD_NAME "vhostdev-fuzz-msg"

struct harness {
	struct vhostdev *dev;
	int fe;                     /* our end: the front end */
	struct fuzz_input in;
	int memfds[MAX_KEPT];
	size_t memfd_size[MAX_KEPT];
	unsigned int nmemfds;
	int eventfds[MAX_KEPT];
	unsigned int neventfds;
	int sockets[MAX_KEPT];      /* peers of sockets we sent */
	unsigned int nsockets;
	bool quiesce_busy;          /* the quiesce callback says -EBUSY */
	bool hold;                  /* the kick callback keeps requests */
	struct vhostdev_req *held[MAX_HELD];
	unsigned int nheld;
	uint8_t scratch[4096];
};

/* ---- the device's side -------------------------------------------------- */

static void serve_request(struct harness *h, struct vhostdev_req *req)
{
	size_t in = vhostdev_req_get_in_size(req), off = 0, n;

	do {
		n = vhostdev_req_read(req, off, h->scratch,
				      sizeof(h->scratch));
		off += n;
	} while (n == sizeof(h->scratch));
	if (in > sizeof(h->scratch))
		in = sizeof(h->scratch);
	memset(h->scratch, 0x5a, in);
	vhostdev_req_write(req, 0, h->scratch, in);
}

static void on_kick(struct vhostdev *dev, struct vhostdev_queue *q,
		    void *userdata)
{
	struct harness *h = userdata;
	struct vhostdev_req *req;

	for (unsigned int i = 0; i < 1024; i++) {
		int r = vhostdev_queue_pop(q, &req);

		fuzz_check(r == 1 || r == 0 || r == -EIO);
		if (r != 1)
			break;
		serve_request(h, req);
		if (h->hold && h->nheld < MAX_HELD)
			h->held[h->nheld++] = req;
		else
			fuzz_check(vhostdev_req_push(req, (uint32_t)
				vhostdev_req_get_in_size(req)) == 0);
	}
	fuzz_check(vhostdev_queue_notify(q) >= 0);
}

static int on_quiesce(struct vhostdev *dev, void *userdata)
{
	struct harness *h = userdata;

	return h->quiesce_busy ? -EBUSY : 0;
}

static int on_message(struct vhostdev *dev, uint32_t request,
		      const void *payload, size_t size, const int *fds,
		      size_t nfds, void *userdata)
{
	return size & 1 ? -ENOTSUP : 0;
}

static int on_config_read(struct vhostdev *dev, uint32_t offset, void *buf,
			  uint32_t size, void *userdata)
{
	memset(buf, (int)offset, size);
	return 0;
}

static void complete_held(struct harness *h)
{
	while (h->nheld)
		fuzz_check(vhostdev_req_push(h->held[--h->nheld], 0) == 0);
	for (unsigned int i = 0; i < NUM_QUEUES; i++)
		vhostdev_queue_notify(vhostdev_get_queue(h->dev, i));
}

/* ---- the front end's side ----------------------------------------------- */

/* Reads and drops whatever the device sent (replies, back-end
 * messages), closing any fd that came with it. */
static void drain(int fd)
{
	union {
		char buf[CMSG_SPACE(32 * sizeof(int))];
		struct cmsghdr align;
	} control;
	char buf[4096];

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			int *fds = (int *)CMSG_DATA(c);
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < k; i++)
					close(fds[i]);
		}
	}
}

static void pump(struct harness *h, unsigned int rounds)
{
	for (unsigned int i = 0; i < rounds; i++) {
		int r = vhostdev_process(h->dev);

		fuzz_check(r >= 0);
		drain(h->fe);
		for (unsigned int s = 0; s < h->nsockets; s++)
			drain(h->sockets[s]);
		if (r == 0)
			break;
	}
}

/* Makes one fd to send, as the input says. Returns it and whether we
 * must close our copy after sending (kept ones stay ours). */
static int make_fd(struct harness *h, bool *close_after)
{
	uint8_t kind = fuzz_u8(&h->in);
	int fd = -1, sv[2];

	*close_after = true;
	switch (kind % 6) {
	case 0: {
		size_t size = ((size_t)(kind >> 3) % 8 + 1) * 4096;

		fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
			close(fd);
			return -1;
		}
		if (fd >= 0 && h->nmemfds < MAX_KEPT) {
			h->memfd_size[h->nmemfds] = size;
			h->memfds[h->nmemfds++] = fd;
			*close_after = false;
		}
		break;
	}
	case 1:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd >= 0 && h->neventfds < MAX_KEPT) {
			h->eventfds[h->neventfds++] = fd;
			*close_after = false;
		}
		break;
	case 2:
		if (pipe2(sv, O_CLOEXEC) < 0)
			return -1;
		close(sv[1]);
		fd = sv[0];
		break;
	case 3:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		fd = sv[0];
		if (h->nsockets < MAX_KEPT)
			h->sockets[h->nsockets++] = sv[1];
		else
			close(sv[1]);
		break;
	case 4:
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		break;
	case 5:
		/* The same object again (kick and call on one eventfd, a
		 * region's memfd twice). */
		if (h->neventfds && (kind & 8))
			fd = h->eventfds[(kind >> 4) % h->neventfds];
		else if (h->nmemfds)
			fd = h->memfds[(kind >> 4) % h->nmemfds];
		else
			fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		*close_after = !h->nmemfds && !(h->neventfds && (kind & 8));
		break;
	}
	return fd;
}

/* Sends, waiting for the device to make room when the socket is full. */
static bool send_all(struct harness *h, const uint8_t *buf, size_t len,
		     const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS_SENT * sizeof(int))];
		struct cmsghdr align;
	} control;
	size_t done = 0;

	for (unsigned int tries = 0; done < len && tries < 64; tries++) {
		struct iovec iov = {
			.iov_base = (void *)(buf + done),
			.iov_len = len - done,
		};
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds && done == 0) {
			struct cmsghdr *c;

			/* The padding after the fds goes to the kernel too. */
			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(h->fe, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN)
				return false;
			pump(h, 4);
			continue;
		}
		done += (size_t)n;
	}
	return done == len;
}

static bool send_message(struct harness *h)
{
	uint8_t rq = fuzz_u8(&h->in), fl = fuzz_u8(&h->in);
	uint16_t plen = fuzz_u16(&h->in) % MAX_PAYLOAD;
	uint8_t how = fuzz_u8(&h->in);
	uint8_t buf[sizeof(struct vhu_header) + MAX_PAYLOAD];
	struct vhu_header hdr;
	int fds[MAX_FDS_SENT];
	bool close_after[MAX_FDS_SENT];
	unsigned int nfds, i, first;
	bool ok;

	hdr.request = rq < 0xf0 ? rq % 48u : fuzz_u32(&h->in);
	hdr.flags = fl & 0x80 ? fuzz_u32(&h->in) :
		    VHU_VERSION | (fl & 1 ? VHU_FLAG_NEED_REPLY : 0);
	hdr.size = how & 1 ? fuzz_u32(&h->in) : plen;
	memcpy(buf, &hdr, sizeof(hdr));
	fuzz_bytes(&h->in, buf + sizeof(hdr), plen);
	nfds = fuzz_u8(&h->in) % (MAX_FDS_SENT + 1);
	for (i = 0; i < nfds; i++) {
		fds[i] = make_fd(h, &close_after[i]);
		if (fds[i] < 0)
			break;
	}
	nfds = i;
	/* Split: the header (and fds) first, the device reads it, then
	 * the rest. */
	first = how & 2 ? (how >> 2) % (sizeof(hdr) + plen + 1) :
			  sizeof(hdr) + plen;
	ok = send_all(h, buf, first, fds, nfds);
	if (ok && first < sizeof(hdr) + plen) {
		pump(h, 2);
		ok = send_all(h, buf + first, sizeof(hdr) + plen - first,
			      NULL, 0);
	}
	for (i = 0; i < nfds; i++)
		if (close_after[i])
			close(fds[i]);
	return ok;
}

static void send_raw(struct harness *h)
{
	uint8_t buf[64];
	size_t n = fuzz_u8(&h->in) % sizeof(buf) + 1;

	fuzz_bytes(&h->in, buf, n);
	send_all(h, buf, n, NULL, 0);
}

/* The guest changes its memory (rings, buffers) behind the device. */
static void guest_write(struct harness *h)
{
	uint8_t which = fuzz_u8(&h->in), buf[256];
	uint16_t off = fuzz_u16(&h->in);
	size_t n = fuzz_u8(&h->in) + 1u;
	int fd;

	fuzz_bytes(&h->in, buf, n);
	if (!h->nmemfds)
		return;
	fd = h->memfds[which % h->nmemfds];
	if (pwrite(fd, buf, n, off % h->memfd_size[which % h->nmemfds]) < 0)
		return;
}

static void kick(struct harness *h)
{
	uint8_t which = fuzz_u8(&h->in);

	if (h->neventfds)
		eventfd_write(h->eventfds[which % h->neventfds], 1);
}

static void detach(struct harness *h)
{
	uint8_t how = fuzz_u8(&h->in);
	struct vhostdev_queue *q = vhostdev_get_queue(h->dev,
						      how % NUM_QUEUES);

	if (how & 2) {
		/* A worker's turn on a detached queue, on this thread. */
		fuzz_check(vhostdev_queue_process(q) >= 0 ||
			   !vhostdev_queue_is_ready(q));
		return;
	}
	vhostdev_queue_set_detached(q, how & 4);
}

static void switches(struct harness *h)
{
	uint8_t how = fuzz_u8(&h->in);

	h->hold = how & 1;
	h->quiesce_busy = how & 2;
	if (!h->quiesce_busy)
		vhostdev_quiesce_done(h->dev);
	if (how & 4)
		vhostdev_set_needs_reset(h->dev);
	if (how & 8)
		vhostdev_notify_config_change(h->dev, NULL, 0);
}

/* ---- per input ---------------------------------------------------------- */

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of our memfds still in this process. */
static unsigned int count_guest_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:" MEMFD_NAME))
			n++;
	fclose(f);
	return n;
}

static int setup(struct harness *h)
{
	static const uint8_t config[16] = { 1, 2, 3, 4 };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	h->fe = sv[1];
	if (vhostdev_new(4, NUM_QUEUES, &h->dev) < 0) {
		close(sv[0]);
		return -ENOMEM;
	}
	vhostdev_set_userdata(h->dev, h);
	vhostdev_set_log_fn(h->dev, fuzz_quiet_log, h);
	vhostdev_set_log_priority(h->dev, VHOSTDEV_LOG_DEBUG);
	vhostdev_set_config(h->dev, config, sizeof(config));
	vhostdev_set_queue_kick_fn(h->dev, on_kick);
	vhostdev_set_quiesce_fn(h->dev, on_quiesce);
	vhostdev_set_message_fn(h->dev, on_message);
	if (fuzz_u8(&h->in) & 1)
		vhostdev_set_config_read_fn(h->dev, on_config_read);
	if (vhostdev_adopt_fd(h->dev, sv[0]) < 0) {
		close(sv[0]);
		return -EIO;
	}
	return 0;
}

/* The front end leaves; the device must get back to idle. */
static void finish(struct harness *h)
{
	shutdown(h->fe, SHUT_RDWR);
	h->hold = false;
	h->quiesce_busy = false;
	vhostdev_quiesce_done(h->dev);
	for (unsigned int i = 0; i < 64; i++) {
		complete_held(h);
		pump(h, 8);
		if (!vhostdev_is_connected(h->dev) && !h->dev->pending)
			break;
	}
	fuzz_check(!vhostdev_is_connected(h->dev));
	fuzz_check(!h->dev->pending);
	fuzz_check(h->dev->mem->count == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = calloc(1, sizeof(*h));
	unsigned int fds_before = count_fds();

	if (!h)
		return 0;
	fuzz_input_init(&h->in, data, size);
	h->fe = -1;
	if (setup(h) < 0)
		goto out;
	for (unsigned int ops = 0; ops < MAX_OPS && !fuzz_done(&h->in);
	     ops++) {
		uint8_t op = fuzz_u8(&h->in);

		switch (op % 12) {
		case 0:
		case 1:
		case 2:
			if (!send_message(h))
				ops = MAX_OPS;
			break;
		case 3:
			pump(h, op / 12 % 8 + 1);
			break;
		case 4:
			guest_write(h);
			break;
		case 5:
			kick(h);
			break;
		case 6:
			switches(h);
			break;
		case 7:
			send_raw(h);
			break;
		case 8:
			complete_held(h);
			break;
		case 9:
			detach(h);
			break;
		case 10:
			/* The front end hangs up early. */
			ops = MAX_OPS;
			break;
		case 11:
			pump(h, 1);
			break;
		}
	}
	pump(h, 16);
	finish(h);
out:
	if (h->dev)
		vhostdev_unref(h->dev);
	if (h->fe >= 0)
		close(h->fe);
	for (unsigned int i = 0; i < h->nmemfds; i++)
		close(h->memfds[i]);
	for (unsigned int i = 0; i < h->neventfds; i++)
		close(h->eventfds[i]);
	for (unsigned int i = 0; i < h->nsockets; i++)
		close(h->sockets[i]);
	free(h);
	/* Every fd the library was given is closed, every region unmapped. */
	fuzz_check(count_fds() == fds_before);
	fuzz_check(count_guest_maps() == 0);
	return 0;
}
