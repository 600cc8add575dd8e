/* SPDX-License-Identifier: MIT */
/* Front-end sessions for the adversarial suite: connect and negotiate,
 * guest memory fenced with canary pages inside its memfds, queue 0, and
 * the raw ring writes and waits the hostile cases are made of. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adversarial.h"

#define PAGE 4096ull
#define CANARY 0xc5

static int timeout_ms(void)
{
	const char *s = getenv("ADVERSARIAL_TIMEOUT_MS");

	/* Longer under valgrind (make check-valgrind sets it). */
	return s && atoi(s) > 0 ? atoi(s) : 3000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A region a page into its memfd, with a canary page on both sides. */
static int add_fenced(struct adv_session *s, uint64_t gpa, uint64_t size)
{
	uint8_t page[PAGE];
	const struct vhf_region *r;
	int idx = vhf_mem_add(s->m, gpa, size, PAGE);

	if (idx < 0)
		return idx;
	r = vhf_mem_region(s->m, (unsigned int)idx);
	memset(page, CANARY, sizeof(page));
	if (ftruncate(r->fd, (off_t)(PAGE + size + PAGE)) < 0 ||
	    pwrite(r->fd, page, PAGE, 0) != (ssize_t)PAGE ||
	    pwrite(r->fd, page, PAGE, (off_t)(PAGE + size)) != (ssize_t)PAGE)
		return -errno;
	return idx;
}

static bool canaries_intact(struct adv_session *s, int idx)
{
	const struct vhf_region *r = vhf_mem_region(s->m, (unsigned int)idx);
	uint8_t page[PAGE];

	if (!r)
		return true;
	for (int side = 0; side < 2; side++) {
		off_t at = side ? (off_t)(PAGE + r->size) : 0;

		if (pread(r->fd, page, PAGE, at) != (ssize_t)PAGE)
			return false;
		for (size_t i = 0; i < PAGE; i++)
			if (page[i] != CANARY)
				return false;
	}
	return true;
}

/* The connection of a session a case opened and did not close (it
 * failed a check and returned early): hung up by adv_close_leftover(),
 * or the daemon would keep serving it and refuse the next front end.
 * Only the connection: the session itself was on the case's stack. */
static struct vhf_conn *leftover;

void adv_close_leftover(void)
{
	vhf_conn_free(leftover);
	leftover = NULL;
}

int adv_open(struct adv_session *s, const struct adv_kind *kind,
	     struct adv_daemon *d, unsigned int how)
{
	uint64_t want = VHF_BIT(VHF_F_VERSION_1) | VHF_BIT(VHF_F_INDIRECT_DESC) |
			VHF_BIT(VHF_F_PROTOCOL_FEATURES);
	uint64_t want_pf = VHF_BIT(VHF_PF_REPLY_ACK) | VHF_BIT(VHF_PF_STATUS) |
			   VHF_BIT(VHF_PF_CONFIGURE_MEM_SLOTS) |
			   VHF_BIT(VHF_PF_MQ);
	int r;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->daemon = d;
	s->packed = how & ADV_PACKED;
	if (s->packed)
		want |= VHF_BIT(VHF_F_RING_PACKED);
	r = vhf_connect(adv_daemon_socket(d), timeout_ms(), &s->c);
	if (r < 0) {
		adv_note("connect: %s", strerror(-r));
		return r;
	}
	leftover = s->c;
	vhf_conn_set_timeout(s->c, timeout_ms());
	r = vhf_negotiate(s->c, want, want_pf, &s->features, &s->protocol);
	if (r < 0) {
		adv_note("negotiate: %s", strerror(-r));
		return r;
	}
	if (s->packed && !(s->features & VHF_BIT(VHF_F_RING_PACKED)))
		return -ENOTSUP;
	if (!(how & (ADV_MEMORY | ADV_RING)))
		return 0;
	r = vhf_mem_new(&s->m);
	if (r == 0)
		r = s->ra = add_fenced(s, ADV_A, ADV_A_SIZE);
	if (r >= 0)
		r = s->rb = add_fenced(s, ADV_B, ADV_BC_SIZE);
	if (r >= 0)
		r = s->rc = add_fenced(s, ADV_C, ADV_BC_SIZE);
	if (r >= 0)
		r = vhf_set_mem_table(s->c, s->m);
	if (r < 0) {
		adv_note("memory: %s", strerror(-r));
		return r;
	}
	if (!(how & ADV_RING))
		return 0;
	r = vhf_vq_new(s->m, 0, ADV_QUEUE_SIZE,
		       (s->packed ? VHF_VQ_PACKED : 0) | VHF_VQ_ALWAYS_KICK,
		       s->ra, &s->vq);
	if (r == 0)
		r = vhf_vq_setup(s->c, s->vq);
	if (r == 0)
		r = vhf_vq_enable(s->c, s->vq, true);
	if (r < 0)
		adv_note("queue 0: %s", strerror(-r));
	return r;
}

int adv_close(struct adv_session *s)
{
	bool ok = true;

	if (leftover == s->c)
		leftover = NULL;
	/* Hang up first: the daemon unmaps, then the canaries are final. */
	vhf_conn_free(s->c);
	s->c = NULL;
	if (s->m) {
		ok = canaries_intact(s, s->ra) && canaries_intact(s, s->rb) &&
		     canaries_intact(s, s->rc);
		if (!ok)
			adv_note("the daemon wrote outside the guest memory it was given");
	}
	vhf_vq_free(s->vq);
	vhf_mem_free(s->m);
	for (int i = 0; i < 3; i++)
		free(s->snapshot[i]);
	memset(s, 0, sizeof(*s));
	return ok ? 0 : -1;
}

void *adv_ptr(struct adv_session *s, uint64_t gpa, uint64_t len)
{
	return vhf_mem_ptr(s->m, gpa, len);
}

/* Byte by byte: buffers are small and may straddle regions whose
 * mappings are not contiguous on our side. */
bool adv_read(struct adv_session *s, uint64_t gpa, void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		const uint8_t *p = vhf_mem_ptr(s->m, gpa + i, 1);

		if (!p)
			return false;
		((uint8_t *)buf)[i] = *p;
	}
	return true;
}

bool adv_fill(struct adv_session *s, uint64_t gpa, uint8_t byte, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t *p = vhf_mem_ptr(s->m, gpa + i, 1);

		if (!p)
			return false;
		*p = byte;
	}
	return true;
}

void adv_snapshot(struct adv_session *s)
{
	const int idx[3] = { s->ra, s->rb, s->rc };

	for (int i = 0; i < 3; i++) {
		const struct vhf_region *r = vhf_mem_region(s->m, idx[i]);

		free(s->snapshot[i]);
		s->snapshot[i] = malloc(r->size);
		if (s->snapshot[i])
			memcpy(s->snapshot[i], r->host, r->size);
	}
}

bool adv_unchanged_except(struct adv_session *s, uint64_t lo, uint64_t hi)
{
	const int idx[3] = { s->ra, s->rb, s->rc };

	for (int i = 0; i < 3; i++) {
		const struct vhf_region *r = vhf_mem_region(s->m, idx[i]);
		const uint8_t *now = r->host;

		if (!s->snapshot[i])
			return false;
		for (uint64_t off = 0; off < r->size; off++) {
			uint64_t gpa = r->gpa + off;

			if (gpa >= lo && gpa < hi)
				continue;
			if (now[off] != s->snapshot[i][off]) {
				adv_note("guest byte at 0x%llx changed",
					 (unsigned long long)gpa);
				return false;
			}
		}
	}
	return true;
}

void adv_device_area(struct adv_session *s, uint64_t *lo, uint64_t *hi)
{
	uint64_t desc, avail, used, n = vhf_vq_size(s->vq);

	vhf_vq_addrs(s->vq, &desc, &avail, &used);
	if (!s->packed) {
		*lo = used;
		*hi = used + 6 + 8 * n;
		return;
	}
	/* Used descriptors go back into the ring; the device event area is
	 * the device's too. */
	*lo = desc < used ? desc : used;
	*hi = desc + 16 * n > used + 4 ? desc + 16 * n : used + 4;
}

bool adv_wait_needs_reset(struct adv_session *s)
{
	for (int waited = 0; waited < timeout_ms(); waited += 20) {
		uint8_t status = 0;

		if (vhf_get_status(s->c, &status) < 0)
			return false;
		if (status & 64)
			return true;
		sleep_ms(20);
	}
	return false;
}

int adv_wait_used(struct adv_session *s, int ms, uint16_t *id,
		  uint32_t *len)
{
	for (int waited = 0;; waited += 20) {
		int r = vhf_vq_get_used(s->vq, id, len);

		if (r != 0 || waited >= ms)
			return r;
		vhf_vq_wait_call(s->vq, 20);
	}
}

void adv_split_desc(struct adv_session *s, uint16_t i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	if (s->packed) {
		struct vhf_pdesc *d = &vhf_vq_pdesc(s->vq)[i];

		d->addr = addr;
		d->len = len;
		d->id = next;
		/* A fresh ring: the driver's first lap. */
		__atomic_store_n(&d->flags,
				 (uint16_t)(flags | VHF_PDESC_F_AVAIL),
				 __ATOMIC_RELEASE);
		return;
	}
	vhf_vq_desc(s->vq)[i] = (struct vhf_desc){
		.addr = addr, .len = len, .flags = flags, .next = next,
	};
}

void adv_publish(struct adv_session *s, uint16_t head)
{
	if (!s->packed)
		vhf_vq_publish_raw(s->vq, head);
}

int adv_good_request(struct adv_session *s)
{
	uint64_t gpa;

	/* Aligned to its size (sectors for a disk). */
	if (vhf_mem_alloc(s->m, s->kind->data_len, s->kind->data_len, s->ra,
			  &gpa) < 0) {
		adv_note("no room left in region A");
		return -1;
	}
	return s->kind->request(s, gpa);
}

void adv_note(const char *format, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, format);
	vprintf(format, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}
