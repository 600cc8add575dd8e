/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-blk's request parser and executor (examples/blk/request.c) fed
 * by a fake guest. The input chooses the disk's options (read-only, 512 or
 * 4096-byte blocks, discard and write-zeroes acked or not, reads and writes
 * done at once or through io_uring; or a null disk), then describes
 * requests one at a time: header type and sector, data lengths, discard/write-zeroes
 * segments, how the bytes are cut into descriptors and where the buffers
 * lie in guest memory (some straddle two regions). The disk is a 64 KiB
 * memfd.
 *
 * A model of the virtio-blk rules, written here apart from request.c,
 * predicts each status byte and every byte of the disk. Whatever the input:
 * each request comes back with the predicted status and used length; reads
 * return the disk's bytes and GET_ID the serial; the disk changes only
 * where an accepted write, discard or write-zeroes says, and never grows;
 * guest memory changes only in the request's device-writable buffers and
 * the used ring; nothing stays in flight.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "fuzz-common.h"
#include "fuzz-guest.h"
#include "queue.h"

/* Guest layout: the ring at the start of A, then buffers running from A
 * into B, which follows A directly. */
#define REGION_A 0x100000ull
#define REGION_A_SIZE 0x40000ull
#define REGION_B (REGION_A + REGION_A_SIZE)
#define REGION_B_SIZE 0x10000ull
#define DATA_START (REGION_A + 0x4000)
#define DATA_END (REGION_B + REGION_B_SIZE)
#define RING_SIZE 16u

#define DISK_SIZE 0x10000u
#define DISK_SECTORS (DISK_SIZE / VIRTIO_BLK_SECTOR_SIZE)
#define MAX_REQUESTS 64
#define MAX_PIECES 4
#define MAX_OUT (sizeof(struct virtio_blk_req_header) + 17000)
#define MAX_IN 17000

static const char serial[VIRTIO_BLK_ID_BYTES] = "vhostdev-fuzz-serial";

/* A piece of a request's buffers: one descriptor. */
struct piece {
	uint64_t gpa;
	uint32_t len;
};

struct request {
	uint8_t out[MAX_OUT];
	size_t out_size;
	size_t in_size;
	struct piece pieces[2 * MAX_PIECES];
	unsigned int nout, nin;
	/* The model's prediction. */
	bool has_status;
	uint8_t status;
	uint32_t used_len;
};

struct harness {
	struct vhostdev *dev;
	struct vhostdev_queue *vq;
	struct fuzz_guest g;
	struct fuzz_input in;
	int call_fd;
	int disk_fd;
	uint8_t disk[DISK_SIZE];       /* what the disk must hold */
	uint8_t *before[2];            /* guest memory before a request */
	struct blk_device blk;
	struct blk_worker *worker;
	struct blk_queue queue;
	bool queue_ready;
	uint16_t avail_idx;
	uint64_t next_gpa;
	struct request req;
	uint8_t scratch[DISK_SIZE];
};
_Static_assert(DISK_SIZE >= MAX_IN, "scratch holds a request's buffers");

/* One worker, with its io_uring, for every run: setting a ring up costs
 * more than a run. */
static struct blk_worker worker;

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	seed |= 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)xorshift(&seed);
}

/* Copies between plain memory and guest memory that may span A and B. */
static void guest_copy(struct harness *h, uint64_t gpa, void *buf, size_t len,
		       bool to_guest)
{
	for (unsigned int i = 0; i < h->g.count; i++) {
		struct fuzz_region *r = &h->g.r[i];
		uint64_t lo = gpa > r->gpa ? gpa : r->gpa;
		uint64_t hi = gpa + len < r->gpa + r->size ? gpa + len :
							     r->gpa + r->size;
		uint8_t *mem = r->view + (lo - r->gpa);
		uint8_t *b = (uint8_t *)buf + (lo - gpa);

		if (lo >= hi)
			continue;
		if (to_guest)
			memcpy(mem, b, hi - lo);
		else
			memcpy(b, mem, hi - lo);
	}
}

/* ---- setup -------------------------------------------------------------- */

static int setup(struct harness *h)
{
	static const uint64_t where[3] = {
		REGION_A, REGION_A + 0x1000, REGION_A + 0x2000
	};
	uint8_t cfg = fuzz_u8(&h->in);
	uint64_t features = 1ull << VHOSTDEV_F_VERSION_1;
	struct backing *b = &h->blk.backing;
	int r;

	if (!worker.ring_ready) {
		r = io_uring_queue_init(64, &worker.ring, 0);
		fuzz_check(r == 0);
		worker.ring_ready = true;
	}
	h->worker = &worker;
	worker.blk = &h->blk;
	h->disk_fd = memfd_create("vhostdev-fuzz-disk", MFD_CLOEXEC);
	if (h->disk_fd < 0)
		return -errno;
	fill(h->disk, DISK_SIZE, fuzz_u32(&h->in));
	if (pwrite(h->disk_fd, h->disk, DISK_SIZE, 0) != DISK_SIZE)
		return -EIO;

	/* A null disk ("null:SIZE") accepts the same requests and never
	 * touches the memfd. */
	b->kind = cfg & 128 ? BACKING_NULL : BACKING_FILE;
	b->fd = b->fd_buffered = cfg & 128 ? -1 : h->disk_fd;
	b->read_only = cfg & 1;
	b->logical_block = cfg & 2 ? 4096 : 512;
	b->physical_block = b->logical_block;
	b->in_memory = cfg & 16;
	b->size = DISK_SIZE;
	h->blk.capacity = DISK_SIZE;
	h->blk.writeback = (cfg & 32) != 0;
	if (cfg & 4)
		h->blk.acked_features |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (cfg & 8)
		h->blk.acked_features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	memcpy(h->blk.serial, serial, sizeof(serial));
	if (cfg & 64)
		features |= 1ull << VHOSTDEV_F_RING_EVENT_IDX;

	r = vhostdev_new(1, 1, &h->dev);
	if (r < 0)
		return r;
	vhostdev_set_log_fn(h->dev, fuzz_quiet_log, h);
	fuzz_guest_init(&h->g, h->dev);
	r = fuzz_guest_add(&h->g, REGION_A, REGION_A_SIZE);
	if (r == 0)
		r = fuzz_guest_add(&h->g, REGION_B, REGION_B_SIZE);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < 2; i++) {
		h->before[i] = malloc(h->g.r[i].size);
		if (!h->before[i])
			return -ENOMEM;
	}
	h->vq = fuzz_queue_prepare(h->dev, features, RING_SIZE, where,
				   &h->call_fd);
	if (!h->vq)
		return -errno;
	fuzz_check(vhd_queue_start(h->vq) == 0);

	h->queue.blk = &h->blk;
	h->queue.worker = h->worker;
	h->queue.vq = h->vq;
	r = blk_queue_alloc(&h->queue, RING_SIZE);
	if (r < 0)
		return r;
	h->queue_ready = true;
	h->next_gpa = DATA_START;
	return 0;
}

static void teardown(struct harness *h)
{
	if (h->queue_ready)
		blk_queue_free(&h->queue);
	if (h->dev)
		vhostdev_unref(h->dev);
	fuzz_guest_fini(&h->g);
	for (unsigned int i = 0; i < 2; i++)
		free(h->before[i]);
	if (h->call_fd >= 0)
		close(h->call_fd);
	if (h->disk_fd >= 0)
		close(h->disk_fd);
}

/* ---- the request the input describes ----------------------------------- */

/* Sectors near the interesting places: the start, the end, past the end,
 * and anywhere. */
static uint64_t pick_sector(struct harness *h)
{
	uint8_t sel = fuzz_u8(&h->in);
	uint8_t small = fuzz_u8(&h->in);

	switch (sel % 5) {
	case 0:
		return small % DISK_SECTORS;
	case 1:
		return DISK_SECTORS - small % 16;
	case 2:
		return DISK_SECTORS + small;
	case 3:
		return fuzz_u64(&h->in);
	default:
		return (uint64_t)small * 8 % DISK_SECTORS;
	}
}

/* Data lengths: whole sectors mostly, anything sometimes. */
static uint32_t pick_len(struct harness *h)
{
	uint8_t sel = fuzz_u8(&h->in);

	switch (sel % 4) {
	case 0:
	case 1:
		return (sel >> 2) % 33 * VIRTIO_BLK_SECTOR_SIZE;
	case 2:
		return fuzz_u16(&h->in) % (MAX_IN - 1);
	default:
		return (sel >> 2) % 4 * 4096;
	}
}

static uint32_t pick_num_sectors(struct harness *h)
{
	uint8_t sel = fuzz_u8(&h->in);

	switch (sel % 6) {
	case 0:
		return 0;
	case 1:
		return (sel >> 3) % 32 + 1;
	case 2:
		return ((sel >> 3) % 16 + 1) * 8;
	case 3:
		return 1u << 22;
	case 4:
		return (1u << 22) + 8;
	default:
		return fuzz_u32(&h->in);
	}
}

static void add_segments(struct harness *h, struct request *rq)
{
	uint8_t sel = fuzz_u8(&h->in);
	unsigned int n = sel & 1 ? sel % 36 : sel % 4;

	for (unsigned int i = 0; i < n; i++) {
		struct virtio_blk_segment seg;
		uint8_t f = fuzz_u8(&h->in);

		seg.sector = htole64(pick_sector(h));
		seg.num_sectors = htole32(pick_num_sectors(h));
		seg.flags = htole32(f % 4 == 1 ? VIRTIO_BLK_WZ_F_UNMAP :
				    f % 4 == 2 ? fuzz_u32(&h->in) : 0);
		memcpy(rq->out + rq->out_size, &seg, sizeof(seg));
		rq->out_size += sizeof(seg);
	}
	/* A tail that is not a whole segment. */
	if (fuzz_u8(&h->in) % 8 == 0)
		rq->out_size += fuzz_u8(&h->in) % 15 + 1;
}

/* Cuts total bytes into up to MAX_PIECES descriptors (device-writable or
 * not), each at its own place in guest memory. */
static void cut(struct harness *h, struct request *rq, size_t total,
		bool writable)
{
	unsigned int n = fuzz_u8(&h->in) % MAX_PIECES + 1;
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < total; i++) {
		size_t len = i + 1 == n ? total - done :
				  fuzz_u16(&h->in) % (total - done + 1);
		struct piece *p = &rq->pieces[rq->nout + rq->nin];
		uint8_t gap = fuzz_u8(&h->in);

		if (len == 0)
			continue;
		/* Now and then a buffer that runs from A into B (pieces
		 * never go backwards, so they never overlap). */
		if (gap == 0xff && len > 1 && h->next_gpa < REGION_B - len / 2)
			h->next_gpa = REGION_B - len / 2;
		else
			h->next_gpa += gap % 64;
		if (h->next_gpa + len > DATA_END)
			h->next_gpa = DATA_START;
		p->gpa = h->next_gpa;
		p->len = (uint32_t)len;
		h->next_gpa += len;
		done += len;
		if (writable)
			rq->nin++;
		else
			rq->nout++;
	}
}

static void describe(struct harness *h, struct request *rq)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
		VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
		VIRTIO_BLK_T_WRITE_ZEROES,
	};
	uint8_t sel = fuzz_u8(&h->in), shape = fuzz_u8(&h->in);
	struct virtio_blk_req_header hdr;
	uint32_t type = sel < 240 ? types[sel % 6] : fuzz_u32(&h->in);

	hdr.type = htole32(type);
	hdr.ioprio = htole32(fuzz_u8(&h->in));
	hdr.sector = htole64(pick_sector(h));
	memcpy(rq->out, &hdr, sizeof(hdr));
	rq->out_size = sizeof(hdr);
	rq->in_size = 1;
	switch (type) {
	case VIRTIO_BLK_T_OUT:
		rq->out_size += pick_len(h);
		fill(rq->out + sizeof(hdr), rq->out_size - sizeof(hdr),
		     fuzz_u32(&h->in));
		break;
	case VIRTIO_BLK_T_IN:
		rq->in_size += pick_len(h);
		break;
	case VIRTIO_BLK_T_GET_ID:
		rq->in_size += shape & 1 ? VIRTIO_BLK_ID_BYTES :
					   fuzz_u8(&h->in) % 40;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		add_segments(h, rq);
		break;
	}
	/* Broken shapes: a short header, no room for a status byte. */
	if (shape % 16 == 1)
		rq->out_size = fuzz_u8(&h->in) % sizeof(hdr);
	if (shape % 16 == 2)
		rq->in_size = 0;
	rq->nout = rq->nin = 0;
	cut(h, rq, rq->out_size, false);
	cut(h, rq, rq->in_size, true);
}

/* ---- the model ---------------------------------------------------------- */

static bool in_disk(uint64_t sector, uint64_t bytes)
{
	return sector <= DISK_SECTORS &&
	       bytes <= (DISK_SECTORS - sector) * VIRTIO_BLK_SECTOR_SIZE;
}

/* The status one discard or write-zeroes segment earns. */
static uint8_t segment_status(struct harness *h, bool discard,
			      const struct virtio_blk_segment *seg)
{
	uint32_t flags = le32toh(seg->flags);
	uint32_t num = le32toh(seg->num_sectors);
	uint64_t sector = le64toh(seg->sector);
	uint32_t align = h->blk.backing.logical_block / VIRTIO_BLK_SECTOR_SIZE;

	if ((flags & ~VIRTIO_BLK_WZ_F_UNMAP) ||
	    (discard && (flags & VIRTIO_BLK_WZ_F_UNMAP)))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > (discard ? BLK_MAX_DISCARD_SECTORS :
			     BLK_MAX_WRITE_ZEROES_SECTORS))
		return VIRTIO_BLK_S_IOERR;
	if (sector % align || num % align ||
	    !in_disk(sector, (uint64_t)num * VIRTIO_BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* Discard and write-zeroes: every segment is checked before any is done;
 * the disk reads back zeroes where they were (both become hole punches on
 * a memfd). */
static uint8_t predict_segments(struct harness *h, struct request *rq,
				bool discard)
{
	size_t bytes = rq->out_size - sizeof(struct virtio_blk_req_header);
	const struct virtio_blk_segment *segs =
		(const void *)(rq->out + sizeof(struct virtio_blk_req_header));
	size_t n = bytes / sizeof(*segs);
	uint64_t acked = h->blk.acked_features;

	if (!(acked & (1ull << (discard ? VIRTIO_BLK_F_DISCARD :
					  VIRTIO_BLK_F_WRITE_ZEROES))))
		return VIRTIO_BLK_S_UNSUPP;
	if (h->blk.backing.read_only)
		return VIRTIO_BLK_S_IOERR;
	if (bytes == 0 || bytes % sizeof(*segs))
		return VIRTIO_BLK_S_IOERR;
	if (n > (discard ? BLK_MAX_DISCARD_SEG : BLK_MAX_WRITE_ZEROES_SEG))
		return VIRTIO_BLK_S_UNSUPP;
	for (size_t i = 0; i < n; i++) {
		struct virtio_blk_segment seg;
		uint8_t status;

		memcpy(&seg, &segs[i], sizeof(seg));
		status = segment_status(h, discard, &seg);
		if (status != VIRTIO_BLK_S_OK)
			return status;
	}
	for (size_t i = 0; i < n && h->blk.backing.kind != BACKING_NULL; i++) {
		struct virtio_blk_segment seg;

		memcpy(&seg, &segs[i], sizeof(seg));
		memset(h->disk + le64toh(seg.sector) * VIRTIO_BLK_SECTOR_SIZE, 0,
		       (size_t)le32toh(seg.num_sectors) *
			       VIRTIO_BLK_SECTOR_SIZE);
	}
	return VIRTIO_BLK_S_OK;
}

/* Fills in what the device must answer, and applies the request to the
 * model disk. */
static void predict(struct harness *h, struct request *rq)
{
	struct virtio_blk_req_header hdr;
	size_t data;
	uint64_t sector;

	rq->has_status = rq->in_size > 0;
	rq->used_len = rq->has_status;
	rq->status = VIRTIO_BLK_S_IOERR;
	if (!rq->has_status || rq->out_size < sizeof(hdr))
		return;
	memcpy(&hdr, rq->out, sizeof(hdr));
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		data = rq->in_size - 1;
		if (data % VIRTIO_BLK_SECTOR_SIZE || !in_disk(sector, data))
			return;
		rq->status = VIRTIO_BLK_S_OK;
		rq->used_len = (uint32_t)data + 1;
		return;
	case VIRTIO_BLK_T_OUT:
		data = rq->out_size - sizeof(hdr);
		if (h->blk.backing.read_only ||
		    data % VIRTIO_BLK_SECTOR_SIZE || !in_disk(sector, data))
			return;
		if (h->blk.backing.kind != BACKING_NULL)
			memcpy(h->disk + sector * VIRTIO_BLK_SECTOR_SIZE,
			       rq->out + sizeof(hdr), data);
		rq->status = VIRTIO_BLK_S_OK;
		return;
	case VIRTIO_BLK_T_FLUSH:
		rq->status = VIRTIO_BLK_S_OK;
		return;
	case VIRTIO_BLK_T_GET_ID:
		data = rq->in_size - 1;
		if (data > VIRTIO_BLK_ID_BYTES)
			data = VIRTIO_BLK_ID_BYTES;
		rq->status = VIRTIO_BLK_S_OK;
		rq->used_len = (uint32_t)data + 1;
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		rq->status = predict_segments(h, rq, le32toh(hdr.type) ==
						     VIRTIO_BLK_T_DISCARD);
		return;
	default:
		rq->status = VIRTIO_BLK_S_UNSUPP;
		return;
	}
}

/* ---- one request through the device ------------------------------------ */

/* Writes the chain into the descriptor table, starting at a slot the input
 * picks, and makes it available. Returns the head. */
static uint16_t publish(struct harness *h, struct request *rq)
{
	uint16_t first = fuzz_u8(&h->in) % RING_SIZE;
	unsigned int n = rq->nout + rq->nin;
	size_t off = 0;
	struct vring_avail *avail;

	for (unsigned int i = 0; i < n; i++) {
		struct piece *p = &rq->pieces[i];
		uint16_t slot = (first + i) % RING_SIZE;
		struct vring_desc d = {
			.addr = htole64(p->gpa),
			.len = htole32(p->len),
			.flags = htole16((i < rq->nout ? 0 : VRING_DESC_F_WRITE) |
					 (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = htole16((slot + 1) % RING_SIZE),
		};

		guest_copy(h, REGION_A + 16ull * slot, &d, sizeof(d), true);
		/* The guest's bytes go out; its in buffers hold junk. */
		if (i < rq->nout) {
			guest_copy(h, p->gpa, rq->out + off, p->len, true);
			off += p->len;
		} else {
			memset(h->scratch, 0x5a, p->len);
			guest_copy(h, p->gpa, h->scratch, p->len, true);
		}
	}
	avail = fuzz_guest_va(&h->g, REGION_A + 0x1000, 4 + 2 * RING_SIZE);
	avail->ring[h->avail_idx % RING_SIZE] = htole16(first);
	h->avail_idx++;
	__atomic_store_n(&avail->idx, htole16(h->avail_idx), __ATOMIC_RELEASE);
	return first;
}

/* Reads [offset, offset + len) of the request's device-writable bytes. */
static void read_in(struct harness *h, struct request *rq, size_t offset,
		    void *buf, size_t len)
{
	uint8_t *b = buf;

	for (unsigned int i = rq->nout; i < rq->nout + rq->nin && len; i++) {
		struct piece *p = &rq->pieces[i];
		size_t n;

		if (offset >= p->len) {
			offset -= p->len;
			continue;
		}
		n = p->len - offset < len ? p->len - offset : len;
		guest_copy(h, p->gpa + offset, b, n, false);
		b += n;
		len -= n;
		offset = 0;
	}
	fuzz_check(len == 0);
}

/* Guest memory is as before except in the request's device-writable
 * buffers and the used ring (and the avail event after it). */
static void check_guest_writes(struct harness *h, struct request *rq)
{
	for (unsigned int i = rq->nout; i < rq->nout + rq->nin; i++) {
		uint8_t *keep = h->scratch;
		struct piece *p = &rq->pieces[i];

		/* Copy the allowed bytes into the "before" image. */
		guest_copy(h, p->gpa, keep, p->len, false);
		for (unsigned int r = 0; r < 2; r++) {
			struct fuzz_region *g = &h->g.r[r];
			uint64_t lo = p->gpa > g->gpa ? p->gpa : g->gpa;
			uint64_t hi = p->gpa + p->len < g->gpa + g->size ?
					      p->gpa + p->len :
					      g->gpa + g->size;

			if (lo < hi)
				memcpy(h->before[r] + (lo - g->gpa),
				       keep + (lo - p->gpa), hi - lo);
		}
	}
	memcpy(h->before[0] + 0x2000, h->g.r[0].view + 0x2000,
	       6 + 8 * RING_SIZE);
	for (unsigned int r = 0; r < 2; r++)
		fuzz_check(!memcmp(h->before[r], h->g.r[r].view,
				   h->g.r[r].size));
}

static void check_disk(struct harness *h)
{
	struct stat st;

	fuzz_check(fstat(h->disk_fd, &st) == 0 && st.st_size == DISK_SIZE);
	fuzz_check(pread(h->disk_fd, h->scratch, DISK_SIZE, 0) == DISK_SIZE);
	fuzz_check(!memcmp(h->scratch, h->disk, DISK_SIZE));
}

static void run_request(struct harness *h)
{
	struct request *rq = &h->req;
	struct vring_used *used;
	uint16_t head;
	uint8_t status;

	describe(h, rq);
	if (rq->nout + rq->nin == 0)
		return;
	head = publish(h, rq);
	for (unsigned int r = 0; r < 2; r++)
		memcpy(h->before[r], h->g.r[r].view, h->g.r[r].size);
	predict(h, rq);

	fuzz_check(blk_queue_serve(&h->queue) == 1);
	blk_worker_drain(h->worker);

	/* Back on the used ring, with the length the status implies. */
	used = fuzz_guest_va(&h->g, REGION_A + 0x2000, 4 + 8 * RING_SIZE);
	fuzz_check(le16toh(used->idx) == h->avail_idx);
	fuzz_check(le32toh(used->ring[(h->avail_idx - 1) % RING_SIZE].id) ==
		   head);
	fuzz_check(le32toh(used->ring[(h->avail_idx - 1) % RING_SIZE].len) ==
		   rq->used_len);
	fuzz_check(h->worker->inflight == 0);
	fuzz_check(h->queue.nfree == h->queue.nslots);
	fuzz_check(vhostdev_queue_get_inflight(h->vq) == 0);
	if (rq->has_status) {
		read_in(h, rq, rq->in_size - 1, &status, 1);
		fuzz_check(status == rq->status);
	}
	if (rq->status == VIRTIO_BLK_S_OK && rq->used_len > 1) {
		struct virtio_blk_req_header hdr;
		size_t n = rq->used_len - 1;

		memcpy(&hdr, rq->out, sizeof(hdr));
		read_in(h, rq, 0, h->scratch, n);
		if (le32toh(hdr.type) == VIRTIO_BLK_T_GET_ID)
			fuzz_check(!memcmp(h->scratch, serial, n));
		else if (h->blk.backing.kind != BACKING_NULL)
			fuzz_check(!memcmp(h->scratch, h->disk +
					   le64toh(hdr.sector) *
						   VIRTIO_BLK_SECTOR_SIZE, n));
	}
	check_guest_writes(h, rq);
	check_disk(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = calloc(1, sizeof(*h));

	if (!h)
		return 0;
	h->call_fd = h->disk_fd = -1;
	fuzz_input_init(&h->in, data, size);
	if (setup(h) == 0)
		for (unsigned int i = 0; i < MAX_REQUESTS && !fuzz_done(&h->in);
		     i++)
			run_request(h);
	teardown(h);
	free(h);
	return 0;
}
