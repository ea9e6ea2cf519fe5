// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unionmount-layer: container image layers from and to union layers.
 * A command table in the manner of git's builtin/: one file per command.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "layer/cmd.h"
#include "layer/walk.h"
#include "util.h"

static const struct layer_cmd commands[] = {
	{"diff", cmd_diff,
	 "diff [--json] [--lowers L1:L2:... [--workdir WORK]] UPPER"},
	{"export", cmd_export,
	 "export [--lowers L1:L2:...] [-o FILE|-] [--compress none|gzip|zstd] "
	 "[--mtime SECONDS] [--progress|--no-progress] [--workdir WORK] UPPER"},
	{"import", cmd_import,
	 "import [--whiteout auto|chardev|oci] FILE|- DIR"},
	{"commit", cmd_commit,
	 "commit --lowers L1:L2:... [--workdir WORK] UPPER NEWLAYER"},
	{"squash", cmd_squash, "squash L1:L2:...:Ln OUT"},
	{"image", cmd_image,
	 "image -o DIR [--tag NAME] [--config FILE] [--compress "
	 "none|gzip|zstd] [--mtime SECONDS] [--json] LAYER..."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(*commands))

static void usage(FILE *f)
{
	fprintf(f, "Usage: unionmount-layer COMMAND [ARGS]\n"
		   "       unionmount-layer COMMAND --help\n"
		   "       unionmount-layer --version\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\nSee unionmount-layer(1).\n");
}

const char *layer_cmd_usage(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].usage;
	return name;
}

void layer_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unionmount-layer %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (usage: unionmount-layer %s)\n",
		layer_cmd_usage(cmd));
	exit(LAYER_EXIT_USAGE);
}

int layer_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unionmount-layer %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return LAYER_EXIT_FAIL;
}

void layer_help(const char *cmd, const char *text)
{
	printf("Usage: unionmount-layer %s\n\n%s", layer_cmd_usage(cmd), text);
}

void layer_need_dir(const char *cmd, const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		layer_usage_error(cmd, "%s %s: %s", what, path,
				  strerror(errno));
	if (!S_ISDIR(st.st_mode))
		layer_usage_error(cmd, "%s %s: not a directory", what, path);
}

bool layer_inside(const char *path, const char *dir)
{
	_cleanup_free_ char *rp = NULL, *rd = realpath(dir, NULL);
	_cleanup_free_ char *copy = strdup(path);
	size_t n;

	if (!rd || !copy)
		return false;
	rp = realpath(path, NULL);
	if (!rp) {
		/* Not there yet: its parent decides. */
		char *slash = strrchr(copy, '/');

		if (slash == copy)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		else
			strcpy(copy, ".");
		rp = realpath(copy, NULL);
		if (!rp)
			return false;
	}
	n = strlen(rd);
	return !strncmp(rp, rd, n) &&
	       (rp[n] == '/' || rp[n] == '\0' || !strcmp(rd, "/"));
}

char **layer_lowers_arg(const char *cmd, const char *list, int *n)
{
	char **v = layer_split_list(list, n);

	if (!v) {
		fprintf(stderr, "unionmount-layer %s: out of memory\n", cmd);
		exit(LAYER_EXIT_FAIL);
	}
	for (int i = 0; i < *n; i++) {
		if (!*v[i])
			layer_usage_error(cmd, "empty layer in list \"%s\"",
					  list);
		layer_need_dir(cmd, "layer", v[i]);
	}
	return v;
}

/*
 * The walkers hold a directory fd per layer per level of depth: allow as
 * many as the hard limit lets a deep tree need.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	raise_fd_limit();
	if (argc < 2) {
		fprintf(stderr, "unionmount-layer: no command (try "
				"unionmount-layer --help)\n");
		return LAYER_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("unionmount-layer " UM_VERSION "\n");
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, argv[1]))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr,
		"unionmount-layer: unknown command \"%s\" (try "
		"unionmount-layer --help)\n",
		argv[1]);
	return LAYER_EXIT_USAGE;
}
