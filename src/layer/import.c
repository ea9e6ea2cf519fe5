// SPDX-License-Identifier: GPL-2.0-or-later
/* import: an OCI layer tarball unpacked into an empty directory. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/cmd.h"
#include "layer/import.h"
#include "layer/walk.h"

static int dir_is_empty(int fd)
{
	char **names;
	size_t n;
	int r = lw_readdir(fd, &names, &n);

	if (r < 0)
		return r;
	lw_free_names(names);
	return n == 0;
}

static const char import_help[] =
	"Unpack an OCI layer tarball (plain, gzip, zstd, ...) into DIR (made\n"
	"if missing, else it must be empty) as a layer unionmount and kernel\n"
	"overlayfs mount.  Absolute names, \"..\", names over NAME_MAX, "
	"entries\n"
	"through a symlink and hard links leaving DIR are refused (exit 2);\n"
	"devices and owners that cannot be made are recorded in\n"
	"user.containers.override_stat; of a name given twice the last "
	"wins.\n\n"
	"  --whiteout auto|chardev|oci  whiteouts as char 0:0 and opaque\n"
	"                      directories as overlay.opaque=y (chardev), or\n"
	"                      kept as .wh. files (oci); auto: chardev if\n"
	"                      mknod works, else oci (default)\n";

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{"whiteout", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	enum layer_whiteout wh = LAYER_WH_AUTO;
	struct archive *a;
	const char *file, *dir;
	int c, r = 0, empty, rootfd;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (!strcmp(optarg, "auto"))
				wh = LAYER_WH_AUTO;
			else if (!strcmp(optarg, "chardev"))
				wh = LAYER_WH_CHARDEV;
			else if (!strcmp(optarg, "oci"))
				wh = LAYER_WH_OCI;
			else
				layer_usage_error("import",
						  "bad --whiteout \"%s\"",
						  optarg);
			break;
		case 'h':
			layer_help("import", import_help);
			return 0;
		default:
			layer_usage_error("import", "bad option \"%s\"",
					  argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		layer_usage_error("import", "expected FILE and DIR");
	file = argv[optind];
	dir = argv[optind + 1];
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return layer_error("import", "%s: %s", dir, strerror(errno));
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		layer_usage_error("import", "%s: %s", dir, strerror(errno));
	empty = dir_is_empty(rootfd);
	if (empty < 0)
		return layer_error("import", "%s: %s", dir, strerror(-empty));
	if (!empty)
		layer_usage_error("import", "%s is not empty", dir);
	a = archive_read_new();
	if (!a)
		return layer_error("import", "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if ((!strcmp(file, "-") ? archive_read_open_fd(a, STDIN_FILENO, 1 << 16)
				: archive_read_open_filename(
					  a, file, 1 << 16)) != ARCHIVE_OK) {
		fprintf(stderr, "unionmount-layer import: %s: %s\n", file,
			archive_error_string(a));
		archive_read_free(a);
		close(rootfd);
		return LAYER_EXIT_USAGE;
	}
	r = layer_import(a, rootfd, wh);
	archive_read_free(a);
	close(rootfd);
	if (r == -EINVAL)
		return LAYER_EXIT_USAGE;
	return r < 0 ? LAYER_EXIT_FAIL : 0;
}
