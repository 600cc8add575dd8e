/* SPDX-License-Identifier: MIT */
/* The socket to the front end: server mode (listen, accept one front end
 * at a time), adopted fds, client mode, and reading messages with their
 * fds from a non-blocking stream that may deliver them in pieces. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dispatch.h"
#include "export.h"

static int set_watch(struct vhostdev *dev, int fd, int op, uint64_t tag,
		     uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(dev->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static void reader_reset(struct vhostdev *dev)
{
	dev->reader.have = 0;
	dev->reader.discard = 0;
	dev->reader.oversized = false;
	dev->reader.msg.nfds = 0;
}

/* Takes over a connected socket; on failure the caller still owns it. */
static int attach(struct vhostdev *dev, int fd)
{
	int r = set_watch(dev, fd, EPOLL_CTL_ADD, VHD_TAG_CONN, EPOLLIN);

	if (r < 0)
		return r;
	dev->conn_fd = fd;
	reader_reset(dev);
	vhd_info(dev, "front end connected");
	VHD_CALLBACK_VOID(dev, connect);
	return 1;
}

int vhd_conn_accept(struct vhostdev *dev)
{
	int fd, r;

	if (dev->conn_fd >= 0 || dev->pending)
		return 0;
	fd = accept4(dev->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	/* One front end at a time: the next waits in the backlog. */
	set_watch(dev, dev->listen_fd, EPOLL_CTL_MOD, VHD_TAG_LISTEN, 0);
	r = attach(dev, fd);
	if (r < 0) {
		close(fd);
		vhd_conn_listen_again(dev);
	}
	return r;
}

void vhd_conn_listen_again(struct vhostdev *dev)
{
	if (dev->listen_fd >= 0)
		set_watch(dev, dev->listen_fd, EPOLL_CTL_MOD, VHD_TAG_LISTEN,
			  EPOLLIN);
}

void vhd_conn_watch(struct vhostdev *dev, bool readable)
{
	if (dev->conn_fd >= 0)
		set_watch(dev, dev->conn_fd, EPOLL_CTL_MOD, VHD_TAG_CONN,
			  readable ? EPOLLIN : 0);
}

void vhd_conn_close(struct vhostdev *dev)
{
	if (dev->conn_fd < 0)
		return;
	epoll_ctl(dev->epfd, EPOLL_CTL_DEL, dev->conn_fd, NULL);
	close(dev->conn_fd);
	dev->conn_fd = -1;
	vhd_message_close_fds(&dev->reader.msg);
	reader_reset(dev);
}

/* Keeps the fds that came with a read; any beyond what we hold are
 * closed and make the message invalid. */
static int collect_fds(struct vhostdev *dev, struct msghdr *mh)
{
	struct vhd_message *msg = &dev->reader.msg;
	int r = 0;

	if (mh->msg_flags & MSG_CTRUNC)
		r = -EMSGSIZE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *fds = (int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			if (msg->nfds < VHU_MAX_FDS) {
				msg->fds[msg->nfds++] = fds[i];
			} else {
				close(fds[i]);
				r = -EMSGSIZE;
			}
		}
	}
	if (r < 0)
		vhd_err(dev, "more file descriptors than any request takes");
	return r;
}

int vhd_conn_read(struct vhostdev *dev)
{
	struct vhd_reader *rd = &dev->reader;
	struct vhd_message *msg = &rd->msg;
	const size_t hdr = sizeof(msg->hdr);
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	uint8_t scratch[512];
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int r;

	for (;;) {
		if (rd->discard) {
			iov.iov_base = scratch;
			iov.iov_len = rd->discard < sizeof(scratch) ?
					      rd->discard : sizeof(scratch);
		} else if (rd->have < hdr) {
			iov.iov_base = (uint8_t *)&msg->hdr + rd->have;
			iov.iov_len = hdr - rd->have;
		} else if (rd->oversized || rd->have >= hdr + msg->hdr.size) {
			break;
		} else {
			iov.iov_base = msg->payload.bytes + (rd->have - hdr);
			iov.iov_len = hdr + msg->hdr.size - rd->have;
		}
		if (rd->have == 0) {
			msg->nfds = 0;
			msg->fds_lost = false;
		}
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		n = recvmsg(dev->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			r = -errno;
			vhd_err(dev, "reading from the front end: %s",
				strerror(-r));
			return r;
		}
		if (n == 0) {
			if (rd->have)
				vhd_err(dev, "front end left in the middle of a message");
			return -ECONNRESET;
		}
		if (collect_fds(dev, &mh) < 0)
			msg->fds_lost = true;
		if (rd->discard) {
			rd->discard -= (size_t)n;
			continue;
		}
		rd->have += (size_t)n;
		if (rd->have == hdr && msg->hdr.size > VHU_PAYLOAD_MAX) {
			/* Too big to hold: throw the payload away and let
			 * the dispatcher refuse the header alone. */
			rd->oversized = true;
			rd->discard = msg->hdr.size;
			memset(&msg->payload, 0, 64);
		}
	}
	rd->have = 0;
	rd->oversized = false;
	return 1;
}

int vhd_conn_send(struct vhostdev *dev, uint32_t request, const void *payload,
		  uint32_t size, const int *fds, unsigned int nfds)
{
	struct vhu_header hdr = {
		.request = request,
		.flags = VHU_VERSION | VHU_FLAG_REPLY,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (dev->conn_fd < 0)
		return -ENOTCONN;
	if (nfds) {
		struct cmsghdr *c;

		/* The padding after the fds goes out too: no stack garbage. */
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(dev->conn_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(hdr) + size)) {
		/* Replies are small; a front end whose socket buffer is full
		 * is not reading them, and a partial reply cannot be taken
		 * back. */
		vhd_err(dev, "could not send reply to %s: %s",
			vhd_request_name(request),
			n < 0 ? strerror(errno) : "short write");
		shutdown(dev->conn_fd, SHUT_RDWR);
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* ---- public ------------------------------------------------------------- */

static int check_idle(struct vhostdev *dev)
{
	if (!dev)
		return -EINVAL;
	if (dev->listen_fd >= 0 || dev->conn_fd >= 0 || dev->pending)
		return -EBUSY;
	return 0;
}

static int listen_on(struct vhostdev *dev, int fd)
{
	int r = set_watch(dev, fd, EPOLL_CTL_ADD, VHD_TAG_LISTEN, EPOLLIN);

	if (r < 0)
		return r;
	dev->listen_fd = fd;
	return 0;
}

VHD_EXPORT int vhostdev_set_socket_mode(struct vhostdev *dev,
					unsigned int mode)
{
	if (!dev || mode & ~07777u)
		return -EINVAL;
	dev->socket_mode = mode;
	return 0;
}

static int fill_address(struct sockaddr_un *sa, const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return 0;
}

VHD_EXPORT int vhostdev_listen(struct vhostdev *dev, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	r = check_idle(dev);
	if (r < 0)
		return r;
	r = fill_address(&sa, path);
	if (r < 0)
		return r;
	/* Replace a stale socket, never any other kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* chmod before listen(): nobody can connect before the mode is
	 * right. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, dev->socket_mode) < 0 || listen(fd, 1) < 0) {
		r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
	r = listen_on(dev, fd);
	if (r < 0) {
		close(fd);
		unlink(path);
		return r;
	}
	dev->socket_path = strdup(path);
	return 0;
}

VHD_EXPORT int vhostdev_adopt_fd(struct vhostdev *dev, int fd)
{
	int listening = 0, type = 0;
	socklen_t len = sizeof(listening);
	int r = check_idle(dev);

	if (r < 0)
		return r;
	if (fd < 0)
		return -EBADF;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (type != SOCK_STREAM)
		return -ENOTSOCK;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -errno;
	/* Our rules for every fd, whatever the parent left. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	if (listening)
		return listen_on(dev, fd);
	r = attach(dev, fd);
	return r < 0 ? r : 0;
}

VHD_EXPORT int vhostdev_connect(struct vhostdev *dev, const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	r = check_idle(dev);
	if (r < 0)
		return r;
	r = fill_address(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = attach(dev, fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	return 0;
}

VHD_EXPORT int vhostdev_is_connected(struct vhostdev *dev)
{
	return dev->conn_fd >= 0;
}

VHD_EXPORT int vhostdev_disconnect(struct vhostdev *dev)
{
	if (!dev)
		return -EINVAL;
	if (dev->in_callback)
		return -EBUSY;
	if (dev->conn_fd < 0 && !dev->pending_disconnect)
		return -ENOTCONN;
	vhd_dispatch_disconnect(dev);
	return 0;
}
