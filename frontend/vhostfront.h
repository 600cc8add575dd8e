/* SPDX-License-Identifier: MIT */
/*
 * libvhostfront: a small vhost-user FRONT END (the side QEMU plays), used by
 * the protocol tests and by vhostdev-probe to drive any back end over its
 * real socket. Not installed, no stable ABI.
 *
 * It is deliberately thin and permissive: typed helpers for every request,
 * but also raw sends and raw access to every ring field, so that hostile
 * tests can say anything a broken or malicious front end could say.
 *
 * Not thread-safe: each object belongs to one thread at a time. Functions
 * return 0 (or a positive count) on success and a negative errno on
 * failure; every wait is bounded by the connection's timeout so a broken
 * back end cannot hang a test.
 */
#ifndef VHOSTFRONT_H
#define VHOSTFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire format --------------------------------------------------------- */

#define VHF_VERSION 0x1u
#define VHF_VERSION_MASK 0x3u
#define VHF_FLAG_REPLY (1u << 2)
#define VHF_FLAG_NEED_REPLY (1u << 3)
#define VHF_HEADER_SIZE 12u

#define VHF_MAX_FDS 32          /* fds we send or accept with one message */
#define VHF_MAX_PAYLOAD 4096    /* largest payload we accept in a reply */
#define VHF_MEM_TABLE_MAX 8     /* regions in one SET_MEM_TABLE */
#define VHF_CONFIG_MAX 256      /* config bytes in one GET/SET_CONFIG */
#define VHF_DEFAULT_TIMEOUT_MS 5000

/* SET_VRING_KICK/CALL/ERR payload: index in bits 0..7, bit 8 = no fd. */
#define VHF_VRING_NOFD (1ull << 8)
/* SET_VRING_ADDR flags. */
#define VHF_VRING_F_LOG 1u

enum vhf_request {
	VHF_GET_FEATURES = 1,
	VHF_SET_FEATURES = 2,
	VHF_SET_OWNER = 3,
	VHF_RESET_OWNER = 4,
	VHF_SET_MEM_TABLE = 5,
	VHF_SET_LOG_BASE = 6,
	VHF_SET_LOG_FD = 7,
	VHF_SET_VRING_NUM = 8,
	VHF_SET_VRING_ADDR = 9,
	VHF_SET_VRING_BASE = 10,
	VHF_GET_VRING_BASE = 11,
	VHF_SET_VRING_KICK = 12,
	VHF_SET_VRING_CALL = 13,
	VHF_SET_VRING_ERR = 14,
	VHF_GET_PROTOCOL_FEATURES = 15,
	VHF_SET_PROTOCOL_FEATURES = 16,
	VHF_GET_QUEUE_NUM = 17,
	VHF_SET_VRING_ENABLE = 18,
	VHF_SEND_RARP = 19,
	VHF_NET_SET_MTU = 20,
	VHF_SET_BACKEND_REQ_FD = 21,
	VHF_IOTLB_MSG = 22,
	VHF_SET_VRING_ENDIAN = 23,
	VHF_GET_CONFIG = 24,
	VHF_SET_CONFIG = 25,
	VHF_CREATE_CRYPTO_SESSION = 26,
	VHF_CLOSE_CRYPTO_SESSION = 27,
	VHF_POSTCOPY_ADVISE = 28,
	VHF_POSTCOPY_LISTEN = 29,
	VHF_POSTCOPY_END = 30,
	VHF_GET_INFLIGHT_FD = 31,
	VHF_SET_INFLIGHT_FD = 32,
	VHF_GPU_SET_SOCKET = 33,
	VHF_RESET_DEVICE = 34,
	VHF_VRING_KICK = 35,
	VHF_GET_MAX_MEM_SLOTS = 36,
	VHF_ADD_MEM_REG = 37,
	VHF_REM_MEM_REG = 38,
	VHF_SET_STATUS = 39,
	VHF_GET_STATUS = 40,
	VHF_GET_SHARED_OBJECT = 41,
	VHF_SET_DEVICE_STATE_FD = 42,
	VHF_CHECK_DEVICE_STATE = 43,
	VHF_REQUEST_MAX = 43
};

/* Requests a back end sends on the back-end channel. */
enum vhf_backend_request {
	VHF_BE_IOTLB_MSG = 1,
	VHF_BE_CONFIG_CHANGE_MSG = 2,
	VHF_BE_VRING_HOST_NOTIFIER_MSG = 3,
	VHF_BE_VRING_CALL = 4,
	VHF_BE_VRING_ERR = 5,
	VHF_BE_SHARED_OBJECT_ADD = 6,
	VHF_BE_SHARED_OBJECT_REMOVE = 7,
	VHF_BE_SHARED_OBJECT_LOOKUP = 8,
	VHF_BE_REQUEST_MAX = 8
};

/* Transport feature bits (virtio spec "Reserved Feature Bits", plus the
 * two vhost ones). */
enum vhf_feature {
	VHF_F_NOTIFY_ON_EMPTY = 24,
	VHF_F_ANY_LAYOUT = 27,
	VHF_F_LOG_ALL = 26,
	VHF_F_INDIRECT_DESC = 28,
	VHF_F_EVENT_IDX = 29,
	VHF_F_PROTOCOL_FEATURES = 30,
	VHF_F_VERSION_1 = 32,
	VHF_F_ACCESS_PLATFORM = 33,
	VHF_F_RING_PACKED = 34,
	VHF_F_IN_ORDER = 35,
	VHF_F_ORDER_PLATFORM = 36,
	VHF_F_SR_IOV = 37,
	VHF_F_NOTIFICATION_DATA = 38,
	VHF_F_NOTIF_CONFIG_DATA = 39,
	VHF_F_RING_RESET = 40,
	VHF_F_ADMIN_VQ = 41
};

enum vhf_protocol_feature {
	VHF_PF_MQ = 0,
	VHF_PF_LOG_SHMFD = 1,
	VHF_PF_RARP = 2,
	VHF_PF_REPLY_ACK = 3,
	VHF_PF_NET_MTU = 4,
	VHF_PF_BACKEND_REQ = 5,
	VHF_PF_CROSS_ENDIAN = 6,
	VHF_PF_CRYPTO_SESSION = 7,
	VHF_PF_PAGEFAULT = 8,
	VHF_PF_CONFIG = 9,
	VHF_PF_BACKEND_SEND_FD = 10,
	VHF_PF_HOST_NOTIFIER = 11,
	VHF_PF_INFLIGHT_SHMFD = 12,
	VHF_PF_RESET_DEVICE = 13,
	VHF_PF_INBAND_NOTIFICATIONS = 14,
	VHF_PF_CONFIGURE_MEM_SLOTS = 15,
	VHF_PF_STATUS = 16,
	VHF_PF_XEN_MMAP = 17,
	VHF_PF_SHARED_OBJECT = 18,
	VHF_PF_DEVICE_STATE = 19,
	VHF_PF_MAX = 19
};

#define VHF_BIT(b) (1ull << (b))

/* Payload layouts, native byte order. */
struct vhf_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vhf_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
} __attribute__((packed));

struct vhf_region_desc {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vhf_mem_table_msg {
	uint32_t nregions;
	uint32_t padding;
	struct vhf_region_desc regions[VHF_MEM_TABLE_MAX];
} __attribute__((packed));

struct vhf_single_region_msg {
	uint64_t padding;
	struct vhf_region_desc region;
} __attribute__((packed));

struct vhf_log_msg {
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

struct vhf_config_msg {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHF_CONFIG_MAX];
} __attribute__((packed));
#define VHF_CONFIG_HEADER 12u
#define VHF_CONFIG_F_WRITABLE 0u
#define VHF_CONFIG_F_MIGRATION 1u

/* Not packed on purpose: QEMU sends the natural (padded) sizes. */
struct vhf_inflight_msg {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

struct vhf_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
};

struct vhf_vring_area_msg {
	uint64_t u64;
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

struct vhf_device_state_msg {
	uint32_t direction;     /* 0 save, 1 load */
	uint32_t phase;         /* 0 stopped */
} __attribute__((packed));

struct vhf_shared_msg {
	uint8_t uuid[16];
} __attribute__((packed));

/* One message as received, with the fds that came with it (owned by
 * whoever holds the message: see vhf_msg_close_fds()). */
struct vhf_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct vhf_vring_state state;
		struct vhf_vring_addr addr;
		struct vhf_mem_table_msg mem;
		struct vhf_single_region_msg region;
		struct vhf_config_msg config;
		struct vhf_inflight_msg inflight;
		struct vhf_vring_area_msg area;
		struct vhf_shared_msg shared;
		uint8_t bytes[VHF_MAX_PAYLOAD];
	} payload;
	int fds[VHF_MAX_FDS];
	unsigned int nfds;
};

void vhf_msg_init(struct vhf_msg *msg);
void vhf_msg_close_fds(struct vhf_msg *msg);

/* ---- names (names.c) ----------------------------------------------------- */

/* "GET_FEATURES", ...; NULL when unknown. */
const char *vhf_request_name(uint32_t request);
const char *vhf_backend_request_name(uint32_t request);
/* Transport bits only ("VERSION_1", "RING_PACKED", ...); NULL otherwise. */
const char *vhf_feature_name(unsigned int bit);
const char *vhf_protocol_feature_name(unsigned int bit);

/* ---- connection (conn.c, conn-io.c) -------------------------------------- */

struct vhf_conn;

/* Connects to a back end listening on path, retrying ENOENT/ECONNREFUSED
 * for up to retry_ms (0: one attempt). */
int vhf_connect(const char *path, int retry_ms, struct vhf_conn **out);
/* Listens on path (an old socket file there is replaced) for a back end
 * in client mode; *listen_fd is the caller's to close. */
int vhf_listen(const char *path, int *listen_fd);
/* Waits up to timeout_ms for a back end to connect to listen_fd. */
int vhf_accept(int listen_fd, int timeout_ms, struct vhf_conn **out);
/* Adopts a connected stream socket (the conn owns it from then on). */
int vhf_conn_from_fd(int fd, struct vhf_conn **out);
/* Closes the socket and frees the connection; NULL is fine. */
void vhf_conn_free(struct vhf_conn *c);

int vhf_conn_get_fd(const struct vhf_conn *c);
/* Timeout of every wait on this connection (default 5 s). */
void vhf_conn_set_timeout(struct vhf_conn *c, int timeout_ms);
int vhf_conn_get_timeout(const struct vhf_conn *c);
/* What this side acknowledged (recorded by the SET helpers). */
uint64_t vhf_conn_get_features(const struct vhf_conn *c);
uint64_t vhf_conn_get_protocol_features(const struct vhf_conn *c);
/* Whether requests without a reply of their own ask for a REPLY_ACK once
 * REPLY_ACK is negotiated (default true). */
void vhf_conn_set_auto_ack(struct vhf_conn *c, bool on);
bool vhf_conn_reply_ack(const struct vhf_conn *c);

/* Sends one message: header (flags are ORed with VHF_VERSION), payload
 * and up to VHF_MAX_FDS fds. */
int vhf_send(struct vhf_conn *c, uint32_t request, uint32_t flags,
	     const void *payload, uint32_t size, const int *fds,
	     unsigned int nfds);
/* Sends bytes as they are (any header, any size), fds with the first
 * byte. For hostile tests. */
int vhf_send_raw(struct vhf_conn *c, const void *bytes, size_t len,
		 const int *fds, unsigned int nfds);
/* Receives one message within the timeout. -ETIMEDOUT, -ECONNRESET when
 * the peer closed, -EMSGSIZE when the payload is bigger than
 * VHF_MAX_PAYLOAD (read and dropped up to 1 MiB; beyond that the stream
 * is out of step and only good for closing), -EPROTO for a bad version. */
int vhf_recv(struct vhf_conn *c, struct vhf_msg *msg);
/* 1 when the peer has closed the connection (EOF pending), 0 if not
 * within timeout_ms. A message arriving instead is an error (-EPROTO). */
int vhf_wait_closed(struct vhf_conn *c, int timeout_ms);

/* Replies to msg (for the back-end channel): same request id, flags
 * VERSION | REPLY. */
int vhf_reply(struct vhf_conn *c, const struct vhf_msg *msg,
	      const void *payload, uint32_t size, const int *fds,
	      unsigned int nfds);
int vhf_reply_u64(struct vhf_conn *c, const struct vhf_msg *msg,
		  uint64_t value);

/* ---- requests (request.c and request-*.c) -------------------------------- */

/* The general form used by every typed helper. When reply is non-NULL the
 * request owes a reply: waits for it, checks its id and REPLY flag and
 * leaves it (and its fds) in *reply. When reply is NULL and REPLY_ACK is
 * negotiated (and auto-ack on), sets NEED_REPLY and waits for the ack: a
 * non-zero ack N is returned as -N (-EIO if N is not a small errno). */
int vhf_request(struct vhf_conn *c, uint32_t request, const void *payload,
		uint32_t size, const int *fds, unsigned int nfds,
		struct vhf_msg *reply);
/* Same as vhf_request(reply == NULL) but always sets NEED_REPLY and waits
 * for the ack, negotiated or not. */
int vhf_request_ack(struct vhf_conn *c, uint32_t request, const void *payload,
		    uint32_t size, const int *fds, unsigned int nfds);
/* Waits for the reply to request id `request` (after a vhf_send()). */
int vhf_wait_reply(struct vhf_conn *c, uint32_t request,
		   struct vhf_msg *reply);
/* Converts an ack value to 0 / -errno as vhf_request() does. */
int vhf_ack_to_errno(uint64_t ack);

int vhf_get_features(struct vhf_conn *c, uint64_t *features);
int vhf_set_features(struct vhf_conn *c, uint64_t features);
int vhf_get_protocol_features(struct vhf_conn *c, uint64_t *features);
int vhf_set_protocol_features(struct vhf_conn *c, uint64_t features);
int vhf_set_owner(struct vhf_conn *c);
int vhf_reset_owner(struct vhf_conn *c);
int vhf_reset_device(struct vhf_conn *c);
int vhf_get_queue_num(struct vhf_conn *c, uint64_t *num);
int vhf_get_max_mem_slots(struct vhf_conn *c, uint64_t *slots);
int vhf_set_status(struct vhf_conn *c, uint8_t status);
int vhf_get_status(struct vhf_conn *c, uint8_t *status);
/* A request that always has a reply, to know the back end has handled
 * everything sent before (GET_FEATURES). */
int vhf_sync(struct vhf_conn *c);

int vhf_set_vring_num(struct vhf_conn *c, uint32_t index, uint32_t num);
int vhf_set_vring_addr(struct vhf_conn *c, const struct vhf_vring_addr *a);
int vhf_set_vring_base(struct vhf_conn *c, uint32_t index, uint32_t base);
/* Stops the ring; *base is the back end's next avail index (packed: the
 * whole 32-bit value with wrap counters). */
int vhf_get_vring_base(struct vhf_conn *c, uint32_t index, uint32_t *base);
/* fd < 0 sends the "no fd" flag instead. */
int vhf_set_vring_kick(struct vhf_conn *c, uint32_t index, int fd);
int vhf_set_vring_call(struct vhf_conn *c, uint32_t index, int fd);
int vhf_set_vring_err(struct vhf_conn *c, uint32_t index, int fd);
int vhf_set_vring_enable(struct vhf_conn *c, uint32_t index, bool enable);
int vhf_set_vring_endian(struct vhf_conn *c, uint32_t index, uint32_t big);
/* In-band kick (INBAND_NOTIFICATIONS). */
int vhf_vring_kick_inband(struct vhf_conn *c, uint32_t index);

/* Config space. GET returns the number of bytes the back end sent back
 * (copied to buf, at most size); an empty reply (the back end's way of
 * saying no) is -EIO, a reply of another size -EPROTO. */
int vhf_get_config(struct vhf_conn *c, uint32_t offset, void *buf,
		   uint32_t size, uint32_t flags);
int vhf_set_config(struct vhf_conn *c, uint32_t offset, const void *buf,
		   uint32_t size, uint32_t flags);

int vhf_set_log_base(struct vhf_conn *c, int fd, uint64_t size,
		     uint64_t offset);
int vhf_set_log_fd(struct vhf_conn *c, int fd);
int vhf_send_rarp(struct vhf_conn *c, const uint8_t mac[6]);
int vhf_net_set_mtu(struct vhf_conn *c, uint64_t mtu);
int vhf_iotlb_msg(struct vhf_conn *c, const struct vhf_iotlb_msg *m);
int vhf_gpu_set_socket(struct vhf_conn *c, int fd);
/* Sends an fd for back-end requests (SET_BACKEND_REQ_FD). */
int vhf_set_backend_req_fd(struct vhf_conn *c, int fd);
/* *fd receives the back end's userfaultfd (caller closes it). */
int vhf_postcopy_advise(struct vhf_conn *c, int *fd);
int vhf_postcopy_listen(struct vhf_conn *c);
int vhf_postcopy_end(struct vhf_conn *c);
/* *fd is the back end's inflight buffer (caller closes it). */
int vhf_get_inflight_fd(struct vhf_conn *c, uint16_t num_queues,
			uint16_t queue_size, struct vhf_inflight_msg *out,
			int *fd);
int vhf_set_inflight_fd(struct vhf_conn *c, const struct vhf_inflight_msg *in,
			int fd);
/* *fd is the object's dmabuf fd or -1 when the back end sent none;
 * returns -ENOENT when none came. */
int vhf_get_shared_object(struct vhf_conn *c, const uint8_t uuid[16],
			  int *fd);
/* *reply_fd gets the back end's own channel end, or -1. */
int vhf_set_device_state_fd(struct vhf_conn *c, uint32_t direction,
			    uint32_t phase, int fd, int *reply_fd);
int vhf_check_device_state(struct vhf_conn *c);

/* Negotiates like a front end: GET_FEATURES, SET_FEATURES(offered & want),
 * and, when PROTOCOL_FEATURES is offered, GET/SET_PROTOCOL_FEATURES with
 * offered & want_protocol. *features / *protocol get what was acked
 * (either may be NULL). Then SET_OWNER. */
int vhf_negotiate(struct vhf_conn *c, uint64_t want, uint64_t want_protocol,
		  uint64_t *features, uint64_t *protocol);

/* ---- guest memory (mem.c) ------------------------------------------------ */

struct vhf_mem;

#define VHF_MEM_MAX_REGIONS 512

struct vhf_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;          /* our address of the first byte */
	uint64_t mmap_offset;  /* where the region starts in fd */
	int fd;                /* memfd, owned by the vhf_mem */
	void *host;            /* == uva */
};

int vhf_mem_new(struct vhf_mem **out);
/* Unmaps and closes every region; NULL is fine. */
void vhf_mem_free(struct vhf_mem *m);
/* Adds a memfd-backed region of size bytes at guest address gpa, starting
 * fd_offset bytes into its memfd (page multiple). Returns its index
 * (>= 0). Overlaps in gpa space are refused (-EEXIST); holes are fine. */
int vhf_mem_add(struct vhf_mem *m, uint64_t gpa, uint64_t size,
		uint64_t fd_offset);
/* Unmaps region idx locally (the back end is told separately). */
int vhf_mem_drop(struct vhf_mem *m, unsigned int idx);
/* Region idx (NULL when dropped or out of range). */
const struct vhf_region *vhf_mem_region(const struct vhf_mem *m,
					unsigned int idx);
unsigned int vhf_mem_count(const struct vhf_mem *m);
/* Pointer to [gpa, gpa + len) when it lies in one region, else NULL. */
void *vhf_mem_ptr(const struct vhf_mem *m, uint64_t gpa, uint64_t len);
/* Our address <-> guest address; 0 / -EFAULT when outside every region. */
int vhf_mem_gpa(const struct vhf_mem *m, const void *p, uint64_t *gpa);
uint64_t vhf_mem_uva(const struct vhf_mem *m, uint64_t gpa);
/* Bump allocator: size bytes aligned to align (power of two), zeroed,
 * from the first region with room (or only region idx when idx >= 0).
 * Returns 0 and *gpa, or -ENOMEM. */
int vhf_mem_alloc(struct vhf_mem *m, uint64_t size, uint64_t align,
		  int idx, uint64_t *gpa);

/* SET_MEM_TABLE with every present region (at most 8). */
int vhf_set_mem_table(struct vhf_conn *c, const struct vhf_mem *m);
/* SET_MEM_TABLE with exactly these region indices. */
int vhf_set_mem_table_some(struct vhf_conn *c, const struct vhf_mem *m,
			   const unsigned int *idx, unsigned int count);
int vhf_add_mem_reg(struct vhf_conn *c, const struct vhf_mem *m,
		    unsigned int idx);
int vhf_rem_mem_reg(struct vhf_conn *c, const struct vhf_mem *m,
		    unsigned int idx);
/* A region description for region idx (for raw messages). */
int vhf_mem_region_desc(const struct vhf_mem *m, unsigned int idx,
			struct vhf_region_desc *d);

/* ---- ring layouts (virtio 1.x, little-endian) ---------------------------- */

#define VHF_DESC_F_NEXT 1
#define VHF_DESC_F_WRITE 2
#define VHF_DESC_F_INDIRECT 4
#define VHF_PDESC_F_AVAIL (1u << 7)
#define VHF_PDESC_F_USED (1u << 15)
#define VHF_AVAIL_F_NO_INTERRUPT 1
#define VHF_USED_F_NO_NOTIFY 1
#define VHF_EVENT_F_ENABLE 0
#define VHF_EVENT_F_DISABLE 1
#define VHF_EVENT_F_DESC 2

struct vhf_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vhf_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];        /* size entries, then used_event */
};

struct vhf_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vhf_used {
	uint16_t flags;
	uint16_t idx;
	struct vhf_used_elem ring[]; /* size entries, then avail_event */
};

struct vhf_pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

struct vhf_pevent {
	uint16_t off_wrap;
	uint16_t flags;
};

/* The split ring's "has new_idx passed event since old_idx" test. */
static inline bool vhf_need_event(uint16_t event, uint16_t new_idx,
				  uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* ---- virtqueue driver (vq.c, vq-split.c, vq-packed.c) -------------------- */

struct vhf_vq;

enum vhf_vq_flags {
	VHF_VQ_PACKED = 1u << 0,     /* packed layout (RING_PACKED acked) */
	VHF_VQ_EVENT_IDX = 1u << 1,  /* EVENT_IDX acked */
	/* Kick and wait whatever the device says about notifications. */
	VHF_VQ_ALWAYS_KICK = 1u << 2
};

/* Layout flags for the acked features. */
unsigned int vhf_vq_flags_for(uint64_t features);

/* A buffer of a chain: guest address and length. */
struct vhf_buf {
	uint64_t gpa;
	uint32_t len;
};

/* Allocates the ring (split: desc/avail/used; packed: desc ring and the
 * two event areas) and indirect tables in m (region idx, or any when
 * idx < 0), and the kick and call eventfds. size must be a power of two
 * for split rings, <= 32768. */
int vhf_vq_new(struct vhf_mem *m, unsigned int index, unsigned int size,
	       unsigned int flags, int region, struct vhf_vq **out);
void vhf_vq_free(struct vhf_vq *vq);

/* Sends SET_VRING_NUM, _BASE, _ADDR, _KICK, _CALL for the ring's current
 * driver state (so a stopped ring restarts where it was). */
int vhf_vq_setup(struct vhf_conn *c, struct vhf_vq *vq);
int vhf_vq_enable(struct vhf_conn *c, struct vhf_vq *vq, bool enable);
/* GET_VRING_BASE; *base may be NULL. */
int vhf_vq_stop(struct vhf_conn *c, struct vhf_vq *vq, uint32_t *base);
/* The SET_VRING_BASE value the next vhf_vq_setup() sends: the start of
 * the ring, or what the last GET_VRING_BASE returned. */
uint32_t vhf_vq_base(const struct vhf_vq *vq);
void vhf_vq_set_base(struct vhf_vq *vq, uint32_t base);

/* Adds a chain: nout device-readable buffers then nin device-writable
 * ones; with indirect, one descriptor pointing at a table. Returns the
 * chain's id (split: head index, packed: buffer id), -ENOSPC when the ring
 * is full, -EINVAL for an empty or too long chain. Makes it available at
 * once (no kick). */
int vhf_vq_add(struct vhf_vq *vq, const struct vhf_buf *bufs,
	       unsigned int nout, unsigned int nin, bool indirect);
/* Kicks unless the device suppressed notifications (EVENT_IDX or flags),
 * or always with VHF_VQ_ALWAYS_KICK. 1 kicked, 0 suppressed. */
int vhf_vq_kick(struct vhf_vq *vq);
/* Waits up to timeout_ms for the call eventfd: 0 called, -ETIMEDOUT. */
int vhf_vq_wait_call(struct vhf_vq *vq, int timeout_ms);
/* 1 if the call eventfd was signalled (and clears it), 0 if not. */
int vhf_vq_test_call(struct vhf_vq *vq);
/* Takes one used entry: 1 and *id, *len set; 0 when none, -EPROTO when the
 * device returned an id that is not in flight. */
int vhf_vq_get_used(struct vhf_vq *vq, uint16_t *id, uint32_t *len);
/* Asks for interrupts (or not): flags, or the event index/area with
 * EVENT_IDX (enable = interrupt at the next used entry). */
void vhf_vq_set_interrupts(struct vhf_vq *vq, bool enable);
/* Chains added and not yet used. */
unsigned int vhf_vq_inflight(const struct vhf_vq *vq);

/* Raw access for hostile tests and for checks. */
unsigned int vhf_vq_size(const struct vhf_vq *vq);
unsigned int vhf_vq_index(const struct vhf_vq *vq);
bool vhf_vq_is_packed(const struct vhf_vq *vq);
int vhf_vq_kick_fd(const struct vhf_vq *vq);
int vhf_vq_call_fd(const struct vhf_vq *vq);
/* Split layout (NULL for packed). */
struct vhf_desc *vhf_vq_desc(struct vhf_vq *vq);
struct vhf_avail *vhf_vq_avail(struct vhf_vq *vq);
struct vhf_used *vhf_vq_used(struct vhf_vq *vq);
uint16_t *vhf_vq_used_event(struct vhf_vq *vq);   /* avail->ring[size] */
uint16_t *vhf_vq_avail_event(struct vhf_vq *vq);  /* used->ring[size] */
/* Packed layout (NULL for split). */
struct vhf_pdesc *vhf_vq_pdesc(struct vhf_vq *vq);
struct vhf_pevent *vhf_vq_driver_event(struct vhf_vq *vq);
struct vhf_pevent *vhf_vq_device_event(struct vhf_vq *vq);
/* Guest addresses of the three areas (desc, driver/avail, device/used). */
void vhf_vq_addrs(const struct vhf_vq *vq, uint64_t *desc, uint64_t *avail,
		  uint64_t *used);
/* Guest address of the indirect table chain id would use. */
uint64_t vhf_vq_indirect_gpa(const struct vhf_vq *vq, unsigned int id);
/* Publishes a head the caller wrote by hand (split: avail ring entry and
 * idx; packed: nothing to do beyond the descriptor flags). */
void vhf_vq_publish_raw(struct vhf_vq *vq, uint16_t head);

/* ---- back-end channel (backend-channel.c) -------------------------------- */

/* Creates a socketpair, sends one end with SET_BACKEND_REQ_FD and returns
 * our end as a connection on which back-end requests arrive. */
int vhf_backend_channel_open(struct vhf_conn *c, struct vhf_conn **chan);
/* Answers a back-end request that asked for a reply (NEED_REPLY); does
 * nothing and returns 0 for one that did not. */
int vhf_backend_ack(struct vhf_conn *chan, const struct vhf_msg *req,
		    uint64_t value);
/* Answers SHARED_OBJECT_LOOKUP: fd >= 0 sends it with a 0 result, fd < 0
 * sends result (non-zero) and no fd. */
int vhf_backend_lookup_reply(struct vhf_conn *chan, const struct vhf_msg *req,
			     int fd, uint64_t result);

#ifdef __cplusplus
}
#endif

#endif
