/* SPDX-License-Identifier: MIT */
/* Sharing the front end's guest memory with the back end: SET_MEM_TABLE,
 * ADD_MEM_REG and REM_MEM_REG. */
#include <errno.h>
#include <string.h>

#include "internal.h"

int vhf_set_mem_table_some(struct vhf_conn *c, const struct vhf_mem *m,
			   const unsigned int *idx, unsigned int count)
{
	struct vhf_mem_table_msg t;
	int fds[VHF_MEM_TABLE_MAX];
	int r;

	if (count > VHF_MEM_TABLE_MAX)
		return -E2BIG;
	memset(&t, 0, sizeof(t));
	t.nregions = count;
	for (unsigned int i = 0; i < count; i++) {
		r = vhf_mem_region_desc(m, idx[i], &t.regions[i]);
		if (r < 0)
			return r;
		fds[i] = vhf_mem_region(m, idx[i])->fd;
	}
	/* Like QEMU: the payload holds only the regions sent. */
	return vhf_request(c, VHF_SET_MEM_TABLE, &t,
			   8 + count * sizeof(t.regions[0]), fds, count, NULL);
}

int vhf_set_mem_table(struct vhf_conn *c, const struct vhf_mem *m)
{
	unsigned int idx[VHF_MEM_TABLE_MAX], n = 0;

	for (unsigned int i = 0; i < vhf_mem_count(m); i++) {
		if (!vhf_mem_region(m, i))
			continue;
		if (n == VHF_MEM_TABLE_MAX)
			return -E2BIG;
		idx[n++] = i;
	}
	return vhf_set_mem_table_some(c, m, idx, n);
}

static int one_region(struct vhf_conn *c, uint32_t request,
		      const struct vhf_mem *m, unsigned int idx, bool with_fd)
{
	struct vhf_single_region_msg s = { .padding = 0 };
	int r, fd;

	r = vhf_mem_region_desc(m, idx, &s.region);
	if (r < 0)
		return r;
	fd = vhf_mem_region(m, idx)->fd;
	return vhf_request(c, request, &s, sizeof(s), with_fd ? &fd : NULL,
			   with_fd ? 1 : 0, NULL);
}

int vhf_add_mem_reg(struct vhf_conn *c, const struct vhf_mem *m,
		    unsigned int idx)
{
	return one_region(c, VHF_ADD_MEM_REG, m, idx, true);
}

int vhf_rem_mem_reg(struct vhf_conn *c, const struct vhf_mem *m,
		    unsigned int idx)
{
	return one_region(c, VHF_REM_MEM_REG, m, idx, false);
}
