// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CAP_FSETID dropped around one real-file call of a thread (see caps.h).
 * The raw system calls act on the calling thread only; libc has no
 * wrapper and libcap would be a dependency for two calls.
 */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

static int caps_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

int um_fsetid_drop(struct um_fsetid *saved)
{
	struct __user_cap_data_struct data[2];
	int r;

	saved->dropped = false;
	r = caps_get(data);
	if (r < 0)
		return r;
	if (!(data[CAP_TO_INDEX(CAP_FSETID)].effective &
	      CAP_TO_MASK(CAP_FSETID)))
		return 0; /* nothing to drop */
	saved->effective[0] = data[0].effective;
	saved->effective[1] = data[1].effective;
	data[CAP_TO_INDEX(CAP_FSETID)].effective &= ~CAP_TO_MASK(CAP_FSETID);
	r = caps_set(data);
	if (r == 0)
		saved->dropped = true;
	return r;
}

void um_fsetid_restore(struct um_fsetid *saved)
{
	struct __user_cap_data_struct data[2];

	if (!saved->dropped || caps_get(data) < 0)
		return;
	data[0].effective = saved->effective[0];
	data[1].effective = saved->effective[1];
	/*
	 * Raising an effective capability that is still permitted cannot
	 * fail; if it did, this thread would only clear more set-ID bits.
	 */
	caps_set(data);
	saved->dropped = false;
}
