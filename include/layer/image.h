/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The image command: an OCI image layout from layers, bottom first. */
#ifndef UM_LAYER_IMAGE_H
#define UM_LAYER_IMAGE_H

/* Returns the exit status: 0, 1 (failure), 2 (usage error). */
int cmd_image(int argc, char **argv);

#endif
