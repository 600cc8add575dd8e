/* SPDX-License-Identifier: MIT */
/* A deliberately broken vhost-user back end for testing how front-end
 * tools cope: it answers GET_FEATURES (offering PROTOCOL_FEATURES) and
 * then misbehaves on GET_PROTOCOL_FEATURES in the way MODE says.
 *
 *   fake-backend SOCKET MODE
 *   MODE: close | silent | wrong-id | no-reply-flag | bad-version |
 *         short | huge | refuse-config | ok
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhostfront.h"

static int misbehave(struct vhf_conn *c, const struct vhf_msg *m,
		     const char *mode)
{
	uint64_t v = VHF_BIT(VHF_PF_CONFIG);
	uint32_t hdr[3];

	if (!strcmp(mode, "close"))
		return 1;
	if (!strcmp(mode, "silent")) {
		/* Wait until the peer gives up. */
		vhf_wait_closed(c, 60000);
		return 1;
	}
	if (!strcmp(mode, "wrong-id"))
		return vhf_send(c, VHF_GET_FEATURES, VHF_FLAG_REPLY, &v,
				sizeof(v), NULL, 0);
	if (!strcmp(mode, "no-reply-flag"))
		return vhf_send(c, m->request, 0, &v, sizeof(v), NULL, 0);
	if (!strcmp(mode, "short"))
		return vhf_send(c, m->request, VHF_FLAG_REPLY, &v, 4, NULL, 0);
	if (!strcmp(mode, "bad-version")) {
		hdr[0] = m->request;
		hdr[1] = VHF_FLAG_REPLY | 2;
		hdr[2] = 8;
		vhf_send_raw(c, hdr, sizeof(hdr), NULL, 0);
		return vhf_send_raw(c, &v, sizeof(v), NULL, 0);
	}
	if (!strcmp(mode, "huge")) {
		hdr[0] = m->request;
		hdr[1] = VHF_FLAG_REPLY | VHF_VERSION;
		hdr[2] = 1u << 30;
		vhf_send_raw(c, hdr, sizeof(hdr), NULL, 0);
		vhf_wait_closed(c, 60000);
		return 1;
	}
	return vhf_reply_u64(c, m, v);
}

int main(int argc, char **argv)
{
	struct vhf_conn *c;
	struct vhf_msg m;
	const char *mode;
	int lfd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: fake-backend SOCKET MODE\n");
		return 2;
	}
	mode = argv[2];
	r = vhf_listen(argv[1], &lfd);
	if (r < 0) {
		fprintf(stderr, "fake-backend: listen: %s\n", strerror(-r));
		return 1;
	}
	r = vhf_accept(lfd, 30000, &c);
	close(lfd);
	if (r < 0) {
		fprintf(stderr, "fake-backend: accept: %s\n", strerror(-r));
		return 1;
	}
	vhf_conn_set_timeout(c, 30000);
	while (vhf_recv(c, &m) == 0) {
		uint64_t v;

		vhf_msg_close_fds(&m);
		switch (m.request) {
		case VHF_GET_FEATURES:
			v = VHF_BIT(VHF_F_VERSION_1) |
			    VHF_BIT(VHF_F_PROTOCOL_FEATURES);
			r = vhf_reply_u64(c, &m, v);
			break;
		case VHF_GET_PROTOCOL_FEATURES:
			r = misbehave(c, &m, mode);
			break;
		case VHF_GET_CONFIG:
			/* An empty reply: the back end's way to say no. */
			if (!strcmp(mode, "refuse-config"))
				r = vhf_reply(c, &m, NULL, 0, NULL, 0);
			else
				r = vhf_reply(c, &m, m.payload.bytes, m.size,
					      NULL, 0);
			break;
		default:
			r = 0;
			if (m.flags & VHF_FLAG_NEED_REPLY)
				r = vhf_reply_u64(c, &m, 0);
			break;
		}
		if (r != 0)
			break;
	}
	vhf_conn_free(c);
	unlink(argv[1]);
	return 0;
}
