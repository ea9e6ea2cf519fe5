// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the override parser (src/override_fmt.c), which
 * reads untrusted xattr values of layers: um_override_parse() on the
 * exact input bytes (not NUL-terminated, so a read past them is caught),
 * and what it accepts must format within UM_OVERRIDE_MAX and parse back
 * to the same override.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "override.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The types um_override_format() writes; any other is not kept. */
static bool known_type(mode_t type)
{
	return type == S_IFREG || type == S_IFDIR || type == S_IFLNK ||
	       type == S_IFIFO || type == S_IFSOCK || type == S_IFCHR ||
	       type == S_IFBLK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *val = malloc(size ? size : 1);
	struct um_override ov, back;
	char buf[UM_OVERRIDE_MAX];
	mode_t type;
	size_t n;

	if (!val)
		return 0;
	memcpy(val, data, size);
	if (!um_override_parse(val, size, &ov)) {
		free(val);
		return 0;
	}
	free(val);
	if (ov.mode & ~(mode_t)(S_IFMT | 07777))
		abort();
	n = um_override_format(&ov, buf);
	if (n >= UM_OVERRIDE_MAX || strlen(buf) != n)
		abort();
	if (!um_override_parse(buf, n, &back))
		abort();
	type = ov.mode & S_IFMT;
	if (!known_type(type))
		type = 0;
	if (back.uid != ov.uid || back.gid != ov.gid ||
	    back.mode != (type | (ov.mode & 07777)))
		abort();
	if ((S_ISCHR(type) || S_ISBLK(type)) && back.rdev != ov.rdev)
		abort();
	return 0;
}
