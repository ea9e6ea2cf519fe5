// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "markers.h"
#include "nameset.h"

uint64_t um_name_hash(const char *name, size_t len)
{
	uint64_t h = XXH3_64bits(name, len);

	return h ? h : 1; /* 0 marks empty slots */
}

struct um_nameset *um_nameset_new(void)
{
	struct um_nameset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->mask = 15;
	s->slots = calloc(s->mask + 1, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

static void insert(uint64_t *slots, size_t mask, uint64_t h)
{
	size_t i = h & mask;

	while (slots[i] && slots[i] != h)
		i = (i + 1) & mask;
	slots[i] = h;
}

static int grow(struct um_nameset *s)
{
	size_t mask = 2 * (s->mask + 1) - 1;
	uint64_t *slots = calloc(mask + 1, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i <= s->mask; i++)
		if (s->slots[i])
			insert(slots, mask, s->slots[i]);
	free(s->slots);
	s->slots = slots;
	s->mask = mask;
	return 0;
}

int um_nameset_add(struct um_nameset *s, const char *name, size_t len)
{
	/* Keep the load at most one half: probes stay short. */
	if (2 * (s->n + 1) > s->mask + 1 && grow(s) < 0)
		return -ENOMEM;
	insert(s->slots, s->mask, um_name_hash(name, len));
	s->n++;
	if (len > UM_OCI_PREFIX_LEN && um_is_oci_reserved(name))
		s->oci = true;
	return 0;
}

bool um_nameset_maybe(const struct um_nameset *s, const char *name, size_t len)
{
	uint64_t h = um_name_hash(name, len);
	size_t i = h & s->mask;

	while (s->slots[i]) {
		if (s->slots[i] == h)
			return true;
		i = (i + 1) & s->mask;
	}
	return false;
}

void um_nameset_free(struct um_nameset *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s);
}

struct um_nameset *um_nameset_read(int fd)
{
	struct um_nameset *s = um_nameset_new();
	struct dirent *de;
	DIR *dp;

	dp = s ? fdopendir(fd) : NULL;
	if (!dp) {
		close(fd);
		um_nameset_free(s);
		return NULL;
	}
	while ((de = readdir(dp))) {
		if (um_nameset_add(s, de->d_name, strlen(de->d_name)) < 0) {
			closedir(dp);
			um_nameset_free(s);
			return NULL;
		}
	}
	closedir(dp);
	return s;
}
