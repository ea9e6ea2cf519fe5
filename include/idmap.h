/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Owner mapping between what the layers store (host ids) and what the
 * mount shows (container ids), with fuse-overlayfs's option syntax:
 * uidmapping=C:H:N[:C:H:N...] maps container ids C..C+N-1 to host ids
 * H..H+N-1; squash_to_root / squash_to_uid= / squash_to_gid= show every
 * file as owned by one id.  Pure code, unit tested.
 */
#ifndef UM_IDMAP_H
#define UM_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

#define UM_IDMAP_MAX 64
#define UM_OVERFLOW_ID 65534 /* shown for a host id outside the map */

struct um_idmap {
	unsigned n; /* 0: identity */
	struct {
		uint32_t container, host, len;
	} e[UM_IDMAP_MAX];
};

/* Parse "C:H:N[:C:H:N...]".  0, or -1 on bad syntax or overflow. */
int um_idmap_parse(struct um_idmap *map, const char *s);
/* Host id stored in a layer to the id shown. */
uint32_t um_idmap_to_container(const struct um_idmap *map, uint32_t host);
/* Shown id to the host id to store; false if it has no host id. */
bool um_idmap_to_host(const struct um_idmap *map, uint32_t id, uint32_t *host);

#endif
