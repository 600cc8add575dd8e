/* SPDX-License-Identifier: MIT */
/*
 * The virtio block device's wire format (virtio spec, "Block Device",
 * device id 2): feature bits, request types and status values, the request
 * header and discard/write-zeroes segment, and the config space layout. All
 * fields are little-endian on the wire.
 */
#ifndef VHOSTDEV_BLK_VIRTIO_BLK_H
#define VHOSTDEV_BLK_VIRTIO_BLK_H

#include <stdint.h>

#define VIRTIO_BLK_DEVICE_ID 2

enum virtio_blk_feature {
	VIRTIO_BLK_F_SIZE_MAX = 1,
	VIRTIO_BLK_F_SEG_MAX = 2,
	VIRTIO_BLK_F_RO = 5,
	VIRTIO_BLK_F_BLK_SIZE = 6,
	VIRTIO_BLK_F_FLUSH = 9,
	VIRTIO_BLK_F_TOPOLOGY = 10,
	VIRTIO_BLK_F_CONFIG_WCE = 11,
	VIRTIO_BLK_F_MQ = 12,
	VIRTIO_BLK_F_DISCARD = 13,
	VIRTIO_BLK_F_WRITE_ZEROES = 14
};

enum virtio_blk_type {
	VIRTIO_BLK_T_IN = 0,
	VIRTIO_BLK_T_OUT = 1,
	VIRTIO_BLK_T_FLUSH = 4,
	VIRTIO_BLK_T_GET_ID = 8,
	VIRTIO_BLK_T_DISCARD = 11,
	VIRTIO_BLK_T_WRITE_ZEROES = 13
};

enum virtio_blk_status {
	VIRTIO_BLK_S_OK = 0,
	VIRTIO_BLK_S_IOERR = 1,
	VIRTIO_BLK_S_UNSUPP = 2
};

/* Sectors are always 512 bytes on the wire, whatever blk_size says. */
#define VIRTIO_BLK_SECTOR_SHIFT 9
#define VIRTIO_BLK_SECTOR_SIZE 512u
/* GET_ID answers with this many bytes, not NUL-terminated when full. */
#define VIRTIO_BLK_ID_BYTES 20
/* Discard/write-zeroes segment flag. */
#define VIRTIO_BLK_WZ_F_UNMAP 1u

struct virtio_blk_req_header {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
} __attribute__((packed));

struct virtio_blk_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

struct virtio_blk_config {
	uint64_t capacity;           /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors;
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_blk_req_header) == 16, "header");
_Static_assert(sizeof(struct virtio_blk_segment) == 16, "segment");
_Static_assert(__builtin_offsetof(struct virtio_blk_config, writeback) == 32,
	       "writeback offset");
_Static_assert(__builtin_offsetof(struct virtio_blk_config, num_queues) == 34,
	       "num_queues offset");
_Static_assert(__builtin_offsetof(struct virtio_blk_config,
				  max_discard_sectors) == 36, "discard offset");
_Static_assert(__builtin_offsetof(struct virtio_blk_config,
				  write_zeroes_may_unmap) == 56, "wz offset");

#endif
