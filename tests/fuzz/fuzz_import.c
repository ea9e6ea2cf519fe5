// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the tarball reader of unionmount-layer import
 * (src/layer/untar.c).  Random bytes rarely make a tar header (it has a
 * checksum), so the input describes entries, one per line,
 * "T NAME[\tTARGET]" with T one of f (file, TARGET its data), d, l
 * (symlink), h (hard link), c (char device), p (fifo), w (raw: the rest
 * of the input is the tarball itself); libarchive writes them as a PAX
 * tarball in memory.  It is unpacked into an empty directory d inside a
 * private scratch directory and must leave nothing beside d: an entry
 * that escaped (a "..", a symlink followed, a hard link made outside)
 * aborts the run.  Messages go to stderr; run with -close_fd_mask=2.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "layer/import.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int scratch = -1;
static char scratch_path[] = "/tmp/um-fuzz-import.XXXXXX";

static void remove_scratch(void)
{
	um_rmtree_at(scratch, "d");
	rmdir(scratch_path);
}

static void check_only_d(void)
{
	int fd = dup(scratch);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!dir)
		abort();
	rewinddir(dir);
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "d")) {
			fprintf(stderr, "escaped: %s\n", de->d_name);
			abort();
		}
	closedir(dir);
}

#define TAR_MAX (1 << 20)

/* The tarball the input describes, in buf; its length, or 0. */
static size_t build_tar(const char *in, size_t size, char *buf)
{
	struct archive *w = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;
	const char *p = in, *end = in + size;

	if (!w || !e)
		abort();
	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_per_block(w, 0);
	if (archive_write_open_memory(w, buf, TAR_MAX, &used) != ARCHIVE_OK)
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = strndup(p, len), *name, *tab;
		char t;

		p += len + 1;
		if (!line)
			abort();
		/* A NUL inside the line ends it. */
		len = strlen(line);
		t = len ? line[0] : 0;
		name = len > 2 ? line + 2 : line + len;
		tab = strchr(name, '\t');
		if (tab)
			*tab++ = '\0';
		archive_entry_clear(e);
		archive_entry_set_pathname(e, name);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_mtime(e, 1, 0);
		switch (t) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, tab ? strlen(tab) : 0);
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, tab ? tab : "");
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, tab ? tab : "");
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, 0x0103);
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		default:
			free(line);
			continue;
		}
		if (archive_write_header(w, e) == ARCHIVE_OK && t == 'f' && tab)
			archive_write_data(w, tab, strlen(tab));
		free(line);
	}
	archive_write_close(w);
	archive_write_free(w);
	archive_entry_free(e);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *buf;
	const void *tar = data;
	struct archive *a;
	int fd;

	if (!buf && !(buf = malloc(TAR_MAX)))
		abort();
	/* "w" first: the rest is a tarball as it is. */
	if (size && data[0] == 'w') {
		tar = data + 1;
		size--;
	} else {
		size = build_tar((const char *)data, size, buf);
		tar = buf;
	}

	if (scratch < 0) {
		if (!mkdtemp(scratch_path))
			abort();
		scratch =
			open(scratch_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (scratch < 0)
			abort();
		atexit(remove_scratch);
	}
	if (mkdirat(scratch, "d", 0700) < 0)
		abort();
	fd = openat(scratch, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	a = archive_read_new();
	if (fd < 0 || !a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar, size) == ARCHIVE_OK)
		layer_import(a, fd, size & 1 ? LAYER_WH_OCI : LAYER_WH_AUTO);
	archive_read_free(a);
	close(fd);
	check_only_d();
	if (um_rmtree_at(scratch, "d") < 0)
		abort();
	return 0;
}
