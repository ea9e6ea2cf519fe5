// SPDX-License-Identifier: GPL-2.0-or-later
/* The hard-link index as the layer tools read it (see hlindex.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layer/hlindex.h"
#include "util.h"

#ifdef LAYER_HAVE_INDEX
#include "index.h"

/* Does the index hold at least one entry?  Most uppers have none. */
static bool has_entries(int indexfd)
{
	int fd = openat(indexfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	bool any = false;
	DIR *d;

	if (fd < 0)
		return true; /* cannot tell: look */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return true;
	}
	while (!any && (de = readdir(d)))
		any = um_index_is_entry_name(de->d_name);
	closedir(d);
	return any;
}

int layer_index_open(const char *workdir, const char *upper)
{
	_cleanup_free_ char *deflt = NULL;
	_cleanup_close_ int wfd = -1;
	int ifd;

	if (!workdir) {
		_cleanup_free_ char *d = strdup(upper), *b = strdup(upper);

		if (!d || !b ||
		    asprintf(&deflt, "%s/.%s.unionmount-work", dirname(d),
			     basename(b)) < 0)
			return -ENOMEM;
		workdir = deflt;
	}
	wfd = open(workdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (wfd < 0)
		return errno == ENOENT ? -1 : -errno;
	ifd = um_index_open(wfd, false);
	if (ifd == -ENOENT)
		return -1;
	if (ifd < 0)
		return ifd;
	/* O_PATH from um_index_open: readdir and *at calls need a real fd. */
	{
		int rfd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(ifd);
		if (rfd < 0)
			return -errno;
		if (!has_entries(rfd)) {
			close(rfd);
			return -1;
		}
		return rfd;
	}
}

int layer_index_lookup(int indexfd, int dirfd, const char *name,
		       const struct stat *st, char entry[LAYER_INDEX_NAME_MAX],
		       struct stat *est)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = um_index_name(fd, entry);
	if (r == -EOPNOTSUPP || r == -ENAMETOOLONG)
		return 0;
	if (r < 0)
		return r;
	if (fstatat(indexfd, entry, est, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Like the union: an entry of another type is not a copy of it. */
	return (est->st_mode & S_IFMT) == (st->st_mode & S_IFMT);
}

#else /* no index in this tree yet */

int layer_index_open(const char *workdir, const char *upper)
{
	return -1;
}

int layer_index_lookup(int indexfd, int dirfd, const char *name,
		       const struct stat *st, char entry[LAYER_INDEX_NAME_MAX],
		       struct stat *est)
{
	return 0;
}

#endif
