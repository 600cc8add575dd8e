/* SPDX-License-Identifier: MIT */
/* vhost-user wire format (qemu docs/interop/vhost-user.rst): request ids,
 * header flags and payload layouts. Native byte order, packed. Internal
 * only: the public header exposes no protocol structs. */
#ifndef VHD_PROTOCOL_H
#define VHD_PROTOCOL_H

#include <stdint.h>

enum vhd_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SEND_RARP = 19,
	VHU_NET_SET_MTU = 20,
	VHU_SET_BACKEND_REQ_FD = 21,
	VHU_IOTLB_MSG = 22,
	VHU_SET_VRING_ENDIAN = 23,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
	VHU_CREATE_CRYPTO_SESSION = 26,
	VHU_CLOSE_CRYPTO_SESSION = 27,
	VHU_POSTCOPY_ADVISE = 28,
	VHU_POSTCOPY_LISTEN = 29,
	VHU_POSTCOPY_END = 30,
	VHU_GET_INFLIGHT_FD = 31,
	VHU_SET_INFLIGHT_FD = 32,
	VHU_GPU_SET_SOCKET = 33,
	VHU_RESET_DEVICE = 34,
	VHU_VRING_KICK = 35,
	VHU_GET_MAX_MEM_SLOTS = 36,
	VHU_ADD_MEM_REG = 37,
	VHU_REM_MEM_REG = 38,
	VHU_SET_STATUS = 39,
	VHU_GET_STATUS = 40,
	VHU_GET_SHARED_OBJECT = 41,
	VHU_SET_DEVICE_STATE_FD = 42,
	VHU_CHECK_DEVICE_STATE = 43,
	VHU_REQUEST_MAX = 43
};

/* Requests the back end sends on the back-end channel. */
enum vhd_backend_request {
	VHU_BACKEND_IOTLB_MSG = 1,
	VHU_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHU_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	VHU_BACKEND_VRING_CALL = 4,
	VHU_BACKEND_VRING_ERR = 5,
	VHU_BACKEND_SHARED_OBJECT_ADD = 6,
	VHU_BACKEND_SHARED_OBJECT_REMOVE = 7,
	VHU_BACKEND_SHARED_OBJECT_LOOKUP = 8
};

#define VHU_VERSION 0x1u
#define VHU_VERSION_MASK 0x3u
#define VHU_FLAG_REPLY (1u << 2)
#define VHU_FLAG_NEED_REPLY (1u << 3)

/* SET_VRING_KICK/CALL/ERR u64: ring index and "no fd" flag. */
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD (1u << 8)

/* SET_VRING_ADDR flags: log used-ring writes. */
#define VHU_VRING_F_LOG 1u

#define VHU_MEM_TABLE_MAX 8     /* regions in one SET_MEM_TABLE */
#define VHU_CONFIG_MAX 256      /* bytes of config space in one message */
#define VHU_MAX_FDS 16          /* fds accepted with one message */
/* Largest payload we accept; anything bigger is read and thrown away. */
#define VHU_PAYLOAD_MAX 4096

struct vhu_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
} __attribute__((packed));

struct vhu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vhu_mem_table {
	uint32_t count;
	uint32_t padding;
	struct vhu_region regions[VHU_MEM_TABLE_MAX];
} __attribute__((packed));

struct vhu_single_region {
	uint64_t padding;
	struct vhu_region region;
} __attribute__((packed));

struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHU_CONFIG_MAX];
} __attribute__((packed));
#define VHU_CONFIG_HEADER 12

struct vhu_shared_object {
	uint8_t uuid[16];
} __attribute__((packed));

/* IOTLB_MSG and the back-end IOTLB_MSG (struct vhost_iotlb_msg). */
struct vhu_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t padding[6];
} __attribute__((packed));

/* SET_DEVICE_STATE_FD. */
struct vhu_device_state {
	uint32_t direction;   /* 0: save (we write), 1: load (we read) */
	uint32_t phase;       /* 0: stopped, the only one defined */
} __attribute__((packed));
#define VHU_STATE_SAVE 0
#define VHU_STATE_LOAD 1
/* Reply bit: no fd of ours comes back, use the one you sent. */
#define VHU_STATE_NO_FD (1ull << 8)

/* SET_LOG_BASE. */
struct vhu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
} __attribute__((packed));

/* GET_INFLIGHT_FD / SET_INFLIGHT_FD. */
struct vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint8_t padding[4];
} __attribute__((packed));

#endif
