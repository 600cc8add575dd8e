/* SPDX-License-Identifier: MIT */
/* Moving vhost-user messages over the stream socket: header + payload,
 * fds as SCM_RIGHTS, every wait bounded by the connection's timeout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* Largest oversized payload read and thrown away rather than given up. */
#define VHF_DISCARD_MAX (1u << 20)

void vhf_msg_init(struct vhf_msg *msg)
{
	msg->request = 0;
	msg->flags = 0;
	msg->size = 0;
	msg->nfds = 0;
}

void vhf_msg_close_fds(struct vhf_msg *msg)
{
	for (unsigned int i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

static int wait_for(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, vhf_left_ms(deadline));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

/* Sends iov completely; the fds go with the first byte. */
static int send_iov(struct vhf_conn *c, struct iovec *iov, int iovcnt,
		    const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHF_MAX_FDS)];
		struct cmsghdr align;
	} u;
	int64_t deadline = vhf_now_ms() + c->timeout_ms;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
	ssize_t n;
	int r;

	if (nfds > VHF_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	while (mh.msg_iovlen > 0) {
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			r = wait_for(c->fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (mh.msg_iovlen > 0 && (size_t)n >= mh.msg_iov->iov_len) {
			n -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

int vhf_send(struct vhf_conn *c, uint32_t request, uint32_t flags,
	     const void *payload, uint32_t size, const int *fds,
	     unsigned int nfds)
{
	uint32_t hdr[3] = { request, flags | VHF_VERSION, size };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = payload ? size : 0 },
	};

	if (size && !payload)
		return -EINVAL;
	return send_iov(c, iov, size ? 2 : 1, fds, nfds);
}

int vhf_send_raw(struct vhf_conn *c, const void *bytes, size_t len,
		 const int *fds, unsigned int nfds)
{
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = len };

	if (!len)
		return -EINVAL;
	return send_iov(c, &iov, 1, fds, nfds);
}

/* Keeps the fds of one control message, closing any beyond room. */
static void take_fds(struct msghdr *mh, struct vhf_msg *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *p;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		p = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (msg->nfds < VHF_MAX_FDS)
				msg->fds[msg->nfds++] = fd;
			else
				close(fd);
		}
	}
}

/* Reads exactly len bytes (buf may be NULL to discard them). */
static int recv_full(struct vhf_conn *c, void *buf, size_t len,
		     struct vhf_msg *msg, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHF_MAX_FDS)];
		struct cmsghdr align;
	} u;
	char scratch[512];
	size_t got = 0;
	int r;

	while (got < len) {
		struct iovec iov;
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
		};
		ssize_t n;

		if (buf) {
			iov.iov_base = (char *)buf + got;
			iov.iov_len = len - got;
		} else {
			iov.iov_base = scratch;
			iov.iov_len = len - got < sizeof(scratch) ?
					      len - got : sizeof(scratch);
		}
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return errno == ECONNRESET ? -ECONNRESET
							   : -errno;
			r = wait_for(c->fd, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		take_fds(&mh, msg);
		if (n == 0)
			return -ECONNRESET;
		got += n;
	}
	return 0;
}

int vhf_recv(struct vhf_conn *c, struct vhf_msg *msg)
{
	int64_t deadline = vhf_now_ms() + c->timeout_ms;
	uint32_t hdr[3];
	int r;

	vhf_msg_init(msg);
	r = recv_full(c, hdr, sizeof(hdr), msg, deadline);
	if (r < 0)
		goto fail;
	msg->request = hdr[0];
	msg->flags = hdr[1];
	msg->size = hdr[2];
	if (msg->size > VHF_MAX_PAYLOAD) {
		/* Keep the stream in step when refusing a message of a
		 * plausible size; an absurd one means the peer is lost. */
		r = -EMSGSIZE;
		if (msg->size <= VHF_DISCARD_MAX &&
		    recv_full(c, NULL, msg->size, msg, deadline) < 0)
			r = -EPROTO;
		goto fail;
	}
	r = recv_full(c, msg->payload.bytes, msg->size, msg, deadline);
	if (r < 0)
		goto fail;
	if ((msg->flags & VHF_VERSION_MASK) != VHF_VERSION) {
		r = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	vhf_msg_close_fds(msg);
	return r;
}

int vhf_wait_closed(struct vhf_conn *c, int timeout_ms)
{
	int64_t deadline = vhf_now_ms() + timeout_ms;
	char b;
	ssize_t n;
	int r;

	r = wait_for(c->fd, POLLIN | POLLRDHUP, deadline);
	if (r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		return r;
	n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 1;
	if (n < 0)
		return -errno;
	return -EPROTO;
}

int vhf_reply(struct vhf_conn *c, const struct vhf_msg *msg,
	      const void *payload, uint32_t size, const int *fds,
	      unsigned int nfds)
{
	return vhf_send(c, msg->request, VHF_FLAG_REPLY, payload, size, fds,
			nfds);
}

int vhf_reply_u64(struct vhf_conn *c, const struct vhf_msg *msg,
		  uint64_t value)
{
	return vhf_reply(c, msg, &value, sizeof(value), NULL, 0);
}
