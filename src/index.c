// SPDX-License-Identifier: GPL-2.0-or-later
/* The hard-link index: entry names, lookups and link counts (index.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "index.h"
#include "util.h"

/* f_fsid, handle type and the '-' between the three parts. */
#define FIXED_LEN (16 + 1 + 8 + 1)

static char *hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*out++ = digits[p[i] >> 4];
		*out++ = digits[p[i] & 15];
	}
	return out;
}

int um_index_name(int fd, char name[UM_INDEX_NAME_MAX])
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	unsigned char fsid[8], type[4];
	struct statfs sfs;
	int mount_id;
	char *p;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0)
		return errno == EOVERFLOW ? -ENAMETOOLONG
		       : errno == ENOSYS  ? -EOPNOTSUPP
					  : -errno;
	if (FIXED_LEN + 2 * h.fh.handle_bytes >= UM_INDEX_NAME_MAX)
		return -ENAMETOOLONG;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	/* Byte by byte, so the name does not depend on the host's endianness.
	 */
	for (int i = 0; i < 2; i++)
		for (int b = 0; b < 4; b++)
			fsid[4 * i + b] =
				(unsigned)sfs.f_fsid.__val[i] >> (8 * b);
	for (int b = 0; b < 4; b++)
		type[b] = (unsigned)h.fh.handle_type >> (8 * (3 - b));
	p = hex(name, fsid, sizeof(fsid));
	*p++ = '-';
	p = hex(p, type, sizeof(type));
	*p++ = '-';
	p = hex(p, h.fh.f_handle, h.fh.handle_bytes);
	*p = '\0';
	return 0;
}

bool um_index_is_entry_name(const char *name)
{
	size_t len = strlen(name);

	if (len <= FIXED_LEN || len >= UM_INDEX_NAME_MAX || len % 2)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 16 || i == 25;
		if (dash != (name[i] == '-'))
			return false;
		if (!dash && !strchr("0123456789abcdef", name[i]))
			return false;
	}
	return true;
}

int um_index_open(int workfd, bool create)
{
	int fd;

	if (create && mkdirat(workfd, UM_INDEX_DIR, 0700) < 0 &&
	    errno != EEXIST)
		return -errno;
	fd = openat(workfd, UM_INDEX_DIR,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int um_index_find(int indexfd, int lowerfd, struct stat *st)
{
	char name[UM_INDEX_NAME_MAX];
	int r = um_index_name(lowerfd, name);
	int fd;

	if (r < 0)
		return r;
	fd = openat(indexfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (st && fstat(fd, st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int um_index_foreach(int indexfd,
		     int (*fn)(int indexfd, const char *name,
			       const struct stat *st, void *arg),
		     void *arg)
{
	int fd = um_reopen(indexfd, O_RDONLY | O_DIRECTORY);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		if (!um_index_is_entry_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile */
			r = -errno;
			break;
		}
		r = fn(dirfd(d), de->d_name, &st, arg);
	}
	if (r == 0 && !de && errno)
		r = -errno;
	closedir(d);
	return r;
}

unsigned long um_index_nlink_parse(const char *buf, ssize_t len,
				   const struct stat *st)
{
	unsigned long fallback =
		st->st_nlink > 1 ? st->st_nlink - 1 : st->st_nlink;
	char val[24], *end;
	long n;

	if (len < 2 || len >= (ssize_t)sizeof(val) || st->st_nlink == 0)
		return st->st_nlink ? fallback : 0;
	memcpy(val, buf, len);
	val[len] = '\0';
	errno = 0;
	if (val[0] == 'U' && (val[1] == '+' || val[1] == '-')) {
		n = strtol(val + 1, &end, 10);
		if (errno || *end || (long)st->st_nlink + n <= 0)
			return fallback;
		return st->st_nlink + n;
	}
	if (val[0] == '=' && val[1] >= '0' && val[1] <= '9') {
		n = strtol(val + 1, &end, 10);
		if (errno || *end || n <= 0)
			return fallback;
		return n;
	}
	return fallback;
}

unsigned long um_index_nlink(int dirfd, const char *name, const struct stat *st)
{
	char buf[24];
	ssize_t len = um_marker_get(dirfd, name, UM_MARK_NLINK, UM_NS_TRUSTED,
				    buf, sizeof(buf));

	return um_index_nlink_parse(buf, len, st);
}

int um_index_set_nlink(int dirfd, const char *name, enum um_xattr_ns ns,
		       unsigned long nlink, const struct stat *st,
		       bool absolute)
{
	char buf[24];
	int len;

	if (absolute)
		len = snprintf(buf, sizeof(buf), "=%lu", nlink);
	else
		len = snprintf(buf, sizeof(buf), "U%+ld",
			       (long)nlink - (long)st->st_nlink);
	return um_setxattr_at(dirfd, name, um_marker_name(UM_MARK_NLINK, ns),
			      buf, len, 0);
}
