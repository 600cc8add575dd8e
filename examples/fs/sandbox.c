/* SPDX-License-Identifier: MIT */
/*
 * vhostdev-fs's sandbox: a second wall behind the per-request checks. In
 * "namespace" mode the daemon gets its own mount namespace whose root is
 * the shared directory (pivot_root, the old root detached); in "chroot"
 * mode it chroots there. Then, when running as root, it keeps only the
 * capabilities a passthrough server uses and sets no_new_privs.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"

/* What the requests need: owners and modes of new files (CHOWN, FOWNER,
 * FSETID), the caller's ids (SETUID, SETGID for setfsuid), access to
 * every file whatever its mode (DAC_OVERRIDE, DAC_READ_SEARCH, the latter
 * also for linkat AT_EMPTY_PATH), MKNOD and SETFCAP. */
static const int kept_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
	CAP_FSETID, CAP_SETGID, CAP_SETUID, CAP_MKNOD, CAP_SETFCAP,
};

static int drop_capabilities(const char *program)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	uint64_t keep = 0;

	for (size_t i = 0; i < sizeof(kept_caps) / sizeof(kept_caps[0]); i++)
		keep |= 1ull << kept_caps[i];
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "%s: no_new_privs: %s\n", program,
			strerror(errno));
		return -errno;
	}
	if (geteuid() != 0)
		return 0;
	/* The bounding set ends where the kernel says EINVAL. */
	for (int cap = 0; cap < 64; cap++) {
		if (keep & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			if (errno == EPERM)
				continue; /* no CAP_SETPCAP: keep going */
		}
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0) {
		fprintf(stderr, "%s: dropping capabilities: %s\n", program,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int fail(const char *program, const char *what, const char *dir)
{
	int r = -errno;

	fprintf(stderr, "%s: sandbox: %s %s: %s\n", program, what, dir,
		strerror(-r));
	return r;
}

static int enter_namespace(const char *dir, const char *program)
{
	if (unshare(CLONE_NEWNS) < 0)
		return fail(program, "unshare(CLONE_NEWNS) for", dir);
	/* Nothing done here may leak back into the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return fail(program, "making mounts private for", dir);
	/* pivot_root wants a mount point. */
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(program, "bind-mounting", dir);
	if (chdir(dir) < 0)
		return fail(program, "chdir to", dir);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(program, "pivot_root into", dir);
	/* The old root now sits on top of the new one: detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return fail(program, "detaching the old root from", dir);
	if (chdir("/") < 0)
		return fail(program, "chdir / in", dir);
	return 0;
}

int fs_sandbox_enter(enum fs_sandbox mode, const char *dir,
		     const char *program)
{
	int r = 0;

	switch (mode) {
	case FS_SANDBOX_NAMESPACE:
		r = enter_namespace(dir, program);
		break;
	case FS_SANDBOX_CHROOT:
		if (chroot(dir) < 0)
			return fail(program, "chroot to", dir);
		if (chdir("/") < 0)
			return fail(program, "chdir / in", dir);
		break;
	case FS_SANDBOX_NONE:
		return 0;
	}
	if (r < 0)
		return r;
	return drop_capabilities(program);
}
