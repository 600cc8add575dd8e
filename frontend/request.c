/* SPDX-License-Identifier: MIT */
/* The request/reply pattern every typed helper uses: replies owed by the
 * request itself, REPLY_ACK acknowledgements, and the negotiation a front
 * end does at connection time. */
#include <errno.h>

#include "internal.h"

int vhf_ack_to_errno(uint64_t ack)
{
	int64_t s = (int64_t)ack;

	if (ack == 0)
		return 0;
	/* The spec only says "non-zero"; take an errno either way round. */
	if (ack < 4096)
		return -(int)ack;
	if (s < 0 && s > -4096)
		return (int)s;
	return -EIO;
}

int vhf_wait_reply(struct vhf_conn *c, uint32_t request,
		   struct vhf_msg *reply)
{
	int r = vhf_recv(c, reply);

	if (r < 0)
		return r;
	if (reply->request != request || !(reply->flags & VHF_FLAG_REPLY)) {
		vhf_msg_close_fds(reply);
		return -EPROTO;
	}
	return 0;
}

static int wait_ack(struct vhf_conn *c, uint32_t request)
{
	struct vhf_msg reply;
	int r = vhf_wait_reply(c, request, &reply);

	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	if (reply.size != sizeof(uint64_t))
		return -EPROTO;
	return vhf_ack_to_errno(reply.payload.u64);
}

int vhf_request(struct vhf_conn *c, uint32_t request, const void *payload,
		uint32_t size, const int *fds, unsigned int nfds,
		struct vhf_msg *reply)
{
	bool ack = !reply && vhf_conn_reply_ack(c);
	int r;

	r = vhf_send(c, request, ack ? VHF_FLAG_NEED_REPLY : 0, payload, size,
		     fds, nfds);
	if (r < 0)
		return r;
	if (reply)
		return vhf_wait_reply(c, request, reply);
	return ack ? wait_ack(c, request) : 0;
}

int vhf_request_ack(struct vhf_conn *c, uint32_t request, const void *payload,
		    uint32_t size, const int *fds, unsigned int nfds)
{
	int r = vhf_send(c, request, VHF_FLAG_NEED_REPLY, payload, size, fds,
			 nfds);

	return r < 0 ? r : wait_ack(c, request);
}

/* A request whose reply is one u64. */
static int get_u64(struct vhf_conn *c, uint32_t request, uint64_t *value)
{
	struct vhf_msg reply;
	int r = vhf_request(c, request, NULL, 0, NULL, 0, &reply);

	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	if (reply.size != sizeof(uint64_t))
		return -EPROTO;
	*value = reply.payload.u64;
	return 0;
}

static int set_u64(struct vhf_conn *c, uint32_t request, uint64_t value)
{
	return vhf_request(c, request, &value, sizeof(value), NULL, 0, NULL);
}

int vhf_get_features(struct vhf_conn *c, uint64_t *features)
{
	return get_u64(c, VHF_GET_FEATURES, features);
}

int vhf_set_features(struct vhf_conn *c, uint64_t features)
{
	int r = set_u64(c, VHF_SET_FEATURES, features);

	/* Recorded even when refused: the ring layout follows what was
	 * said, and a test may want to see what happens then. */
	c->features = features;
	return r;
}

int vhf_get_protocol_features(struct vhf_conn *c, uint64_t *features)
{
	return get_u64(c, VHF_GET_PROTOCOL_FEATURES, features);
}

int vhf_set_protocol_features(struct vhf_conn *c, uint64_t features)
{
	/* The ack for this very message is owed only if REPLY_ACK was
	 * negotiated before it; what it negotiates applies afterwards. */
	int r = set_u64(c, VHF_SET_PROTOCOL_FEATURES, features);

	c->protocol_features = features;
	return r;
}

int vhf_set_owner(struct vhf_conn *c)
{
	return vhf_request(c, VHF_SET_OWNER, NULL, 0, NULL, 0, NULL);
}

int vhf_reset_owner(struct vhf_conn *c)
{
	return vhf_request(c, VHF_RESET_OWNER, NULL, 0, NULL, 0, NULL);
}

int vhf_reset_device(struct vhf_conn *c)
{
	return vhf_request(c, VHF_RESET_DEVICE, NULL, 0, NULL, 0, NULL);
}

int vhf_get_queue_num(struct vhf_conn *c, uint64_t *num)
{
	return get_u64(c, VHF_GET_QUEUE_NUM, num);
}

int vhf_get_max_mem_slots(struct vhf_conn *c, uint64_t *slots)
{
	return get_u64(c, VHF_GET_MAX_MEM_SLOTS, slots);
}

int vhf_set_status(struct vhf_conn *c, uint8_t status)
{
	return set_u64(c, VHF_SET_STATUS, status);
}

int vhf_get_status(struct vhf_conn *c, uint8_t *status)
{
	uint64_t v;
	int r = get_u64(c, VHF_GET_STATUS, &v);

	if (r == 0)
		*status = (uint8_t)v;
	return r;
}

int vhf_sync(struct vhf_conn *c)
{
	uint64_t f;

	return vhf_get_features(c, &f);
}

int vhf_negotiate(struct vhf_conn *c, uint64_t want, uint64_t want_protocol,
		  uint64_t *features, uint64_t *protocol)
{
	uint64_t offered, pf = 0;
	int r;

	r = vhf_get_features(c, &offered);
	if (r < 0)
		return r;
	if (offered & VHF_BIT(VHF_F_PROTOCOL_FEATURES)) {
		uint64_t poffered;

		r = vhf_get_protocol_features(c, &poffered);
		if (r < 0)
			return r;
		pf = poffered & want_protocol;
		r = vhf_set_protocol_features(c, pf);
		if (r < 0)
			return r;
	}
	r = vhf_set_owner(c);
	if (r < 0)
		return r;
	r = vhf_set_features(c, offered & want);
	if (r < 0)
		return r;
	if (features)
		*features = offered & want;
	if (protocol)
		*protocol = pf;
	return 0;
}
