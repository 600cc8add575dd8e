/* SPDX-License-Identifier: MIT */
/* The back-end channel seen from the front end: a socketpair whose other
 * end goes to the back end with SET_BACKEND_REQ_FD, and the answers to the
 * requests that arrive on it. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

int vhf_backend_channel_open(struct vhf_conn *c, struct vhf_conn **chan)
{
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = vhf_set_backend_req_fd(c, sv[1]);
	/* The back end has its own copy now (or refused it). */
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	r = vhf_conn_new(sv[0], chan);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	vhf_conn_set_timeout(*chan, vhf_conn_get_timeout(c));
	return 0;
}

int vhf_backend_ack(struct vhf_conn *chan, const struct vhf_msg *req,
		    uint64_t value)
{
	if (!(req->flags & VHF_FLAG_NEED_REPLY))
		return 0;
	return vhf_reply_u64(chan, req, value);
}

int vhf_backend_lookup_reply(struct vhf_conn *chan, const struct vhf_msg *req,
			     int fd, uint64_t result)
{
	uint64_t v = fd >= 0 ? 0 : (result ? result : 1);

	return vhf_reply(chan, req, &v, sizeof(v), fd >= 0 ? &fd : NULL,
			 fd >= 0 ? 1 : 0);
}
