// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

static int parse_u32(const char **s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (**s < '0' || **s > '9')
		return -1;
	errno = 0;
	v = strtoul(*s, &end, 10);
	if (errno || v > UINT32_MAX)
		return -1;
	*out = v;
	*s = end;
	return 0;
}

int um_idmap_parse(struct um_idmap *map, const char *s)
{
	memset(map, 0, sizeof(*map));
	if (!s || !*s)
		return -1;
	for (;;) {
		uint32_t c, h, n;

		if (map->n == UM_IDMAP_MAX || parse_u32(&s, &c) ||
		    *s++ != ':' || parse_u32(&s, &h) || *s++ != ':' ||
		    parse_u32(&s, &n) || n == 0 ||
		    (uint64_t)c + n - 1 > UINT32_MAX ||
		    (uint64_t)h + n - 1 > UINT32_MAX)
			return -1;
		map->e[map->n].container = c;
		map->e[map->n].host = h;
		map->e[map->n].len = n;
		map->n++;
		if (*s == '\0')
			return 0;
		if (*s++ != ':')
			return -1;
	}
}

uint32_t um_idmap_to_container(const struct um_idmap *map, uint32_t host)
{
	if (map->n == 0)
		return host;
	for (unsigned i = 0; i < map->n; i++)
		if (host >= map->e[i].host &&
		    host - map->e[i].host < map->e[i].len)
			return map->e[i].container + (host - map->e[i].host);
	return UM_OVERFLOW_ID;
}

bool um_idmap_to_host(const struct um_idmap *map, uint32_t id, uint32_t *host)
{
	if (map->n == 0) {
		*host = id;
		return true;
	}
	for (unsigned i = 0; i < map->n; i++)
		if (id >= map->e[i].container &&
		    id - map->e[i].container < map->e[i].len) {
			*host = map->e[i].host + (id - map->e[i].container);
			return true;
		}
	return false;
}
