/* SPDX-License-Identifier: MIT */
/* The adversarial suite: hostile front-end sessions against a real
 * daemon over its socket (see main.c). What the daemon process, the
 * sessions and the case tables share. */
#ifndef ADVERSARIAL_H
#define ADVERSARIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vhostfront.h"

/* ---- the daemon under test (daemon.c) ----------------------------------- */

struct adv_daemon;
struct adv_session;

/* A daemon the suite knows: its program (relative to the build tree) and
 * how a well-behaved request looks on its queue 0. */
struct adv_kind {
	const char *name;
	const char *program;
	/* Posts one good request on s->vq whose data buffer (data_len
	 * bytes) is at guest address gpa, and checks the answer. */
	int (*request)(struct adv_session *s, uint64_t gpa);
	uint32_t data_len;
	/* When set: a file of image_size bytes of ADV_IMAGE_BYTE is made
	 * in the daemon's directory and passed as this option (e.g.
	 * "--blk-file"). */
	const char *image_option;
	uint64_t image_size;
	/* When set: an empty directory is made in the daemon's directory
	 * and passed as this option (e.g. "--shared-dir"). */
	const char *dir_option;
	/* One more option the daemon needs, or NULL. */
	const char *extra_option;
};

#define ADV_IMAGE_BYTE 0x5a

/* Starts the program listening on a socket in a fresh directory, under
 * the words of ADVERSARIAL_WRAPPER (e.g. valgrind) when set. */
int adv_daemon_start(const struct adv_kind *kind, struct adv_daemon **out);
/* SIGTERM, then the exit status: 0 when it exited 0. */
int adv_daemon_stop(struct adv_daemon *d);
const char *adv_daemon_socket(const struct adv_daemon *d);
bool adv_daemon_alive(struct adv_daemon *d);
/* Open fds of the daemon process, -1 if unknown. */
int adv_daemon_fds(const struct adv_daemon *d);
/* VmRSS in KiB, -1 if unknown. */
long adv_daemon_rss_kb(const struct adv_daemon *d);

/* ---- a front-end session (session.c) ------------------------------------ */

/* Guest memory: A holds the ring and buffers, then a hole, then B and C
 * back to back. Each region starts a page into its memfd and is followed
 * by another page; both pages hold canaries the daemon must not touch. */
#define ADV_A 0x100000ull
#define ADV_A_SIZE 0x40000ull
#define ADV_HOLE (ADV_A + ADV_A_SIZE)
#define ADV_B 0x200000ull
#define ADV_C 0x210000ull
#define ADV_BC_SIZE 0x10000ull
#define ADV_QUEUE_SIZE 16

struct adv_session {
	const struct adv_kind *kind;
	struct adv_daemon *daemon;
	struct vhf_conn *c;
	struct vhf_mem *m;
	struct vhf_vq *vq;
	int ra, rb, rc;          /* region indices */
	uint64_t features, protocol;
	bool packed;
	uint8_t *snapshot[3];    /* copies of A, B, C (adv_snapshot) */
};

enum adv_open {
	ADV_CONNECT = 0,         /* connect and negotiate only */
	ADV_MEMORY = 1,          /* and send the memory table */
	ADV_RING = 2,            /* and set up and enable queue 0 */
	ADV_PACKED = 4           /* the ring is packed */
};

int adv_open(struct adv_session *s, const struct adv_kind *kind,
	     struct adv_daemon *d, unsigned int how);
/* Checks the canaries, closes the connection and frees everything:
 * 0, or -1 when a canary changed. */
int adv_close(struct adv_session *s);
/* Closes the session a failed case left open, if any. */
void adv_close_leftover(void);

/* The guest's pointer to gpa (NULL unless [gpa, gpa + len) lies in one
 * region). */
void *adv_ptr(struct adv_session *s, uint64_t gpa, uint64_t len);
/* Copies guest bytes out / sets them, across region borders; false when
 * a byte is not guest memory. */
bool adv_read(struct adv_session *s, uint64_t gpa, void *buf, size_t len);
bool adv_fill(struct adv_session *s, uint64_t gpa, uint8_t byte, size_t len);
/* Copies guest memory aside / checks that nothing but [lo, hi) changed. */
void adv_snapshot(struct adv_session *s);
bool adv_unchanged_except(struct adv_session *s, uint64_t lo, uint64_t hi);
/* Guest range of the ring area the device writes (used ring / packed
 * descriptor ring). */
void adv_device_area(struct adv_session *s, uint64_t *lo, uint64_t *hi);

/* Waits (up to 3 s) for GET_STATUS to show DEVICE_NEEDS_RESET. */
bool adv_wait_needs_reset(struct adv_session *s);
/* 1 when a used entry arrives within ms, 0 if none. */
int adv_wait_used(struct adv_session *s, int ms, uint16_t *id,
		  uint32_t *len);
/* Writes a split descriptor / packed descriptor (flags get the AVAIL
 * bits for the current lap) and publishes head. */
void adv_split_desc(struct adv_session *s, uint16_t i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next);
void adv_publish(struct adv_session *s, uint16_t head);

/* The kind's good request with its data in freshly allocated memory. */
int adv_good_request(struct adv_session *s);

/* ---- reporting ---------------------------------------------------------- */

void adv_note(const char *format, ...) __attribute__((format(printf, 1, 2)));
#define ADV_CHECK(cond, ...)                                                  \
	do {                                                                  \
		if (!(cond)) {                                                \
			adv_note("%s:%d: %s", __FILE__, __LINE__, #cond);     \
			adv_note(__VA_ARGS__);                                \
			return -1;                                            \
		}                                                             \
	} while (0)

/* ---- the cases (cases-*.c) ---------------------------------------------- */

struct adv_case {
	const char *name;
	/* What the documented answer is, for the log. */
	const char *expect;
	int (*run)(const struct adv_kind *kind, struct adv_daemon *d);
};

extern const struct adv_case adv_ring_cases[];
extern const struct adv_case adv_message_cases[];

#endif
