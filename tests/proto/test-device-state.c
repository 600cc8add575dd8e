/* SPDX-License-Identifier: MIT */
/* Device state transfer for migration: a source device's state saved
 * through the front end's pipe arrives intact at a destination device,
 * large states included (more than a pipe holds, so the library must
 * stream without blocking); streams from another kind of device, garbage
 * and truncated streams are refused by CHECK_DEVICE_STATE; a transfer
 * while rings run is refused; the device keeps serving throughout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WANT (T_ALL_FEATURES & ~VHF_BIT(VHF_F_RING_PACKED))
#define SAVE 0
#define LOAD 1

static struct tdev *td;
static struct tsession s;

/* What the save callback hands over, and what the load callback got. */
static uint8_t *saved;
static size_t saved_size;
static uint8_t *loaded;
static size_t loaded_size;
static int load_result;

static int save_cb(struct vhostdev *dev, void **blob, size_t *size,
		   void *userdata)
{
	void *copy = malloc(saved_size ? saved_size : 1);

	(void)dev;
	(void)userdata;
	if (!copy)
		return -ENOMEM;
	memcpy(copy, saved, saved_size);
	*blob = saved_size ? copy : NULL;
	if (!saved_size)
		free(copy);
	*size = saved_size;
	return 0;
}

static int load_cb(struct vhostdev *dev, const void *blob, size_t size,
		   void *userdata)
{
	(void)dev;
	(void)userdata;
	free(loaded);
	loaded = malloc(size);
	ck_assert_ptr_nonnull(loaded);
	memcpy(loaded, blob, size);
	loaded_size = size;
	return load_result;
}

static void install(struct tdev *t, void *arg)
{
	(void)arg;
	ck_assert_int_eq(vhostdev_set_state_save_fn(tdev_dev(t), save_cb), 0);
	ck_assert_int_eq(vhostdev_set_state_load_fn(tdev_dev(t), load_cb), 0);
}

static void open_device(uint32_t device_id)
{
	struct tdev_opts o = { .device_id = device_id };

	td = tdev_start(&o);
	tdev_call(td, install, NULL);
	ts_open(&s, td, WANT, T_ALL_PROTOCOL);
	ck_assert(s.protocol & VHF_BIT(VHF_PF_DEVICE_STATE));
}

static void close_device(void)
{
	ts_close(&s);
	tdev_stop(td);
}

/* Saves the current device's state into *out (the front end's side:
 * read the pipe until EOF, then check). */
static void save(uint8_t **out, size_t *size)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	int p[2], reply_fd;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(vhf_set_device_state_fd(s.c, SAVE, 0, p[1],
						 &reply_fd), 0);
	ck_assert_int_eq(reply_fd, -1);
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t r;

		ck_assert_int_eq(poll(&pfd, 1, T_TIMEOUT_MS), 1);
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = read(p[0], buf + n, cap - n);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	ck_assert_int_eq(vhf_check_device_state(s.c), 0);
	*out = buf;
	*size = n;
}

/* Loads bytes into the current device; returns CHECK_DEVICE_STATE's
 * verdict. The write side runs in a child so that a stream larger than
 * the pipe cannot deadlock the test against the device. */
static int load(const uint8_t *bytes, size_t size)
{
	int p[2], reply_fd, status;
	pid_t child;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(vhf_set_device_state_fd(s.c, LOAD, 0, p[0],
						 &reply_fd), 0);
	close(p[0]);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		size_t done = 0;

		while (done < size) {
			ssize_t r = write(p[1], bytes + done, size - done);

			if (r <= 0)
				_exit(1);
			done += (size_t)r;
		}
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return vhf_check_device_state(s.c);
}

static void fill(size_t size)
{
	free(saved);
	saved = malloc(size ? size : 1);
	ck_assert_ptr_nonnull(saved);
	for (size_t i = 0; i < size; i++)
		saved[i] = (uint8_t)(i * 7 + i / 251);
	saved_size = size;
}

/* Loop: 0 a small state, 1 no state, 2 a 3 MiB state (many pipefuls). */
START_TEST(state_moves_intact)
{
	static const size_t sizes[] = { 37, 0, 3u << 20 };
	uint8_t *stream;
	size_t stream_size;
	struct vhf_vq *vq;

	fill(sizes[_i]);
	open_device(4);
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 100, 1, 1, false);
	ck_assert_int_eq(vhf_vq_stop(s.c, vq, NULL), 0);
	save(&stream, &stream_size);
	ck_assert_uint_gt(stream_size, sizes[_i]);
	close_device();

	free(loaded);
	loaded = NULL;
	loaded_size = 0;
	load_result = 0;
	open_device(4);
	ck_assert_int_eq(load(stream, stream_size), 0);
	ck_assert_uint_eq(loaded_size, sizes[_i]);
	if (sizes[_i])
		ck_assert_int_eq(memcmp(loaded, saved, sizes[_i]), 0);
	/* And the device serves. */
	vq = ts_start_queue(&s, 0, 16);
	ts_echo(&s, vq, 100, 1, 1, false);
	close_device();
	free(stream);
}
END_TEST

START_TEST(bad_streams_are_refused)
{
	uint8_t *stream, garbage[100];
	size_t stream_size;

	fill(64);
	open_device(4);
	save(&stream, &stream_size);
	close_device();

	/* Another kind of device. */
	open_device(2);
	loaded_size = 0;
	ck_assert_int_lt(load(stream, stream_size), 0);
	ck_assert_uint_eq(loaded_size, 0);
	close_device();

	open_device(4);
	/* Truncated, garbage, empty. */
	ck_assert_int_lt(load(stream, stream_size - 1), 0);
	memset(garbage, 0x5a, sizeof(garbage));
	ck_assert_int_lt(load(garbage, sizeof(garbage)), 0);
	ck_assert_int_lt(load(garbage, 0), 0);
	/* The device refuses what it was given. */
	load_result = -EINVAL;
	ck_assert_int_lt(load(stream, stream_size), 0);
	load_result = 0;
	ck_assert_int_eq(load(stream, stream_size), 0);
	/* No transfer to check. */
	ck_assert_int_lt(vhf_check_device_state(s.c), 0);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close_device();
	free(stream);
}
END_TEST

START_TEST(transfer_refused_while_rings_run)
{
	int p[2], reply_fd;

	fill(8);
	open_device(4);
	ts_start_queue(&s, 0, 16);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_lt(vhf_set_device_state_fd(s.c, SAVE, 0, p[1],
						 &reply_fd), 0);
	ck_assert_int_lt(vhf_set_device_state_fd(s.c, 7, 0, p[1], &reply_fd),
			 0);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(vhf_sync(s.c), 0);
	close_device();
}
END_TEST

Suite *proto_suite(void)
{
	Suite *su = suite_create("device-state");
	TCase *tc = t_tcase(su, "transfer");

	tcase_add_loop_test(tc, state_moves_intact, 0, 3);
	tcase_add_test(tc, bad_streams_are_refused);
	tcase_add_test(tc, transfer_refused_while_rings_run);
	return su;
}
