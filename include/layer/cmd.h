/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The commands of unionmount-layer (one file each, like git's builtin/)
 * and the few helpers they share for their command lines.
 */
#ifndef UM_LAYER_CMD_H
#define UM_LAYER_CMD_H

#include <stdbool.h>

/* Exit statuses: like the file system, bad input is 2. */
#define LAYER_EXIT_FAIL 1
#define LAYER_EXIT_USAGE 2

struct layer_cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the name */
	const char *usage;		   /* one line: the arguments */
};

int cmd_diff(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_squash(int argc, char **argv);
int cmd_image(int argc, char **argv);

/* The usage line of a command, for --help and errors. */
const char *layer_cmd_usage(const char *name);

/* Print "unionmount-layer CMD: MSG" and exit 2. */
__attribute__((format(printf, 2, 3), noreturn)) void
layer_usage_error(const char *cmd, const char *fmt, ...);
/* "unionmount-layer CMD: MSG" on stderr; returns LAYER_EXIT_FAIL. */
__attribute__((format(printf, 2, 3))) int layer_error(const char *cmd,
						      const char *fmt, ...);

/* Print the full help of cmd (usage and the text) on stdout. */
void layer_help(const char *cmd, const char *text);

/*
 * Split a --lowers list; a usage error (exit 2) if it is empty or a
 * layer is not a directory.
 */
char **layer_lowers_arg(const char *cmd, const char *list, int *n);
/*
 * Is path (or, if it does not exist yet, its parent) dir or inside it?
 * Outputs must never land in a layer being read.
 */
bool layer_inside(const char *path, const char *dir);
/* Check that path is a directory; a usage error if not. */
void layer_need_dir(const char *cmd, const char *what, const char *path);

#endif
