/* SPDX-License-Identifier: MIT */
/* Typed helpers for the per-ring requests (SET_VRING_*, GET_VRING_BASE,
 * VRING_KICK). */
#include <errno.h>

#include "internal.h"

static int set_state(struct vhf_conn *c, uint32_t request, uint32_t index,
		     uint32_t num)
{
	struct vhf_vring_state s = { .index = index, .num = num };

	return vhf_request(c, request, &s, sizeof(s), NULL, 0, NULL);
}

int vhf_set_vring_num(struct vhf_conn *c, uint32_t index, uint32_t num)
{
	return set_state(c, VHF_SET_VRING_NUM, index, num);
}

int vhf_set_vring_addr(struct vhf_conn *c, const struct vhf_vring_addr *a)
{
	return vhf_request(c, VHF_SET_VRING_ADDR, a, sizeof(*a), NULL, 0,
			   NULL);
}

int vhf_set_vring_base(struct vhf_conn *c, uint32_t index, uint32_t base)
{
	return set_state(c, VHF_SET_VRING_BASE, index, base);
}

int vhf_get_vring_base(struct vhf_conn *c, uint32_t index, uint32_t *base)
{
	struct vhf_vring_state s = { .index = index, .num = 0 };
	struct vhf_msg reply;
	int r;

	r = vhf_request(c, VHF_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &reply);
	if (r < 0)
		return r;
	vhf_msg_close_fds(&reply);
	if (reply.size != sizeof(s) || reply.payload.state.index != index)
		return -EPROTO;
	if (base)
		*base = reply.payload.state.num;
	return 0;
}

static int set_fd(struct vhf_conn *c, uint32_t request, uint32_t index,
		  int fd)
{
	uint64_t v = index & 0xff;

	if (fd < 0)
		v |= VHF_VRING_NOFD;
	return vhf_request(c, request, &v, sizeof(v), fd < 0 ? NULL : &fd,
			   fd < 0 ? 0 : 1, NULL);
}

int vhf_set_vring_kick(struct vhf_conn *c, uint32_t index, int fd)
{
	return set_fd(c, VHF_SET_VRING_KICK, index, fd);
}

int vhf_set_vring_call(struct vhf_conn *c, uint32_t index, int fd)
{
	return set_fd(c, VHF_SET_VRING_CALL, index, fd);
}

int vhf_set_vring_err(struct vhf_conn *c, uint32_t index, int fd)
{
	return set_fd(c, VHF_SET_VRING_ERR, index, fd);
}

int vhf_set_vring_enable(struct vhf_conn *c, uint32_t index, bool enable)
{
	return set_state(c, VHF_SET_VRING_ENABLE, index, enable ? 1 : 0);
}

int vhf_set_vring_endian(struct vhf_conn *c, uint32_t index, uint32_t big)
{
	return set_state(c, VHF_SET_VRING_ENDIAN, index, big);
}

int vhf_vring_kick_inband(struct vhf_conn *c, uint32_t index)
{
	return set_state(c, VHF_VRING_KICK, index, 0);
}
