// SPDX-License-Identifier: GPL-2.0-or-later
/* The text of an owner/mode/type override (see include/override.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "override.h"

static const struct {
	const char *name;
	mode_t type;
} plain_types[] = {
	{"file", S_IFREG}, {"dir", S_IFDIR},	 {"symlink", S_IFLNK},
	{"pipe", S_IFIFO}, {"socket", S_IFSOCK},
};

/* A decimal or octal number up to 32 bits; *p moves past it. */
static bool parse_num(const char **p, const char *end, int base,
		      unsigned long *out)
{
	unsigned long v = 0;
	const char *s = *p;

	if (s == end || !((*s >= '0' && *s <= '9')))
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (base == 8 && *s > '7')
			return false;
		v = v * base + (unsigned long)(*s - '0');
		if (v > 0xffffffffUL)
			return false;
	}
	*p = s;
	*out = v;
	return true;
}

static bool parse_sep(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return false;
	(*p)++;
	return true;
}

static bool parse_type(const char *s, const char *end, struct um_override *ov)
{
	size_t len = (size_t)(end - s);
	unsigned long maj, min;
	mode_t type = 0;

	for (size_t i = 0; i < sizeof(plain_types) / sizeof(*plain_types); i++)
		if (strlen(plain_types[i].name) == len &&
		    !memcmp(s, plain_types[i].name, len))
			type = plain_types[i].type;
	if (!type) {
		if (len > 6 && !memcmp(s, "block-", 6)) {
			type = S_IFBLK;
			s += 6;
		} else if (len > 5 && !memcmp(s, "char-", 5)) {
			type = S_IFCHR;
			s += 5;
		} else {
			return false;
		}
		if (!parse_num(&s, end, 10, &maj) || !parse_sep(&s, end, '-') ||
		    !parse_num(&s, end, 10, &min) || s != end)
			return false;
		ov->rdev = makedev(maj, min);
	}
	ov->mode = (ov->mode & 07777) | type;
	return true;
}

bool um_override_parse(const char *val, size_t len, struct um_override *ov)
{
	const char *p = val, *end = val + len;
	unsigned long uid, gid, mode;

	/* Some writers end the value with a NUL. */
	if (len && end[-1] == '\0')
		end--;
	if (!parse_num(&p, end, 10, &uid) || !parse_sep(&p, end, ':') ||
	    !parse_num(&p, end, 10, &gid) || !parse_sep(&p, end, ':') ||
	    !parse_num(&p, end, 8, &mode))
		return false;
	if (mode > 0177777)
		return false;
	/* Older writers may put the type in the mode's high bits. */
	*ov = (struct um_override){.uid = uid, .gid = gid, .mode = mode};
	if (p == end)
		return true;
	/* An unknown type keeps the real one: newer writers stay readable. */
	if (parse_sep(&p, end, ':'))
		parse_type(p, end, ov);
	else
		return false;
	return true;
}

size_t um_override_format(const struct um_override *ov,
			  char buf[UM_OVERRIDE_MAX])
{
	const char *type = NULL;
	int n;

	for (size_t i = 0; i < sizeof(plain_types) / sizeof(*plain_types); i++)
		if ((ov->mode & S_IFMT) == plain_types[i].type)
			type = plain_types[i].name;
	if (S_ISCHR(ov->mode) || S_ISBLK(ov->mode))
		n = snprintf(buf, UM_OVERRIDE_MAX, "%u:%u:0%o:%s-%u-%u",
			     (unsigned)ov->uid, (unsigned)ov->gid,
			     (unsigned)(ov->mode & 07777),
			     S_ISCHR(ov->mode) ? "char" : "block",
			     major(ov->rdev), minor(ov->rdev));
	else if (type)
		n = snprintf(buf, UM_OVERRIDE_MAX, "%u:%u:0%o:%s",
			     (unsigned)ov->uid, (unsigned)ov->gid,
			     (unsigned)(ov->mode & 07777), type);
	else
		n = snprintf(buf, UM_OVERRIDE_MAX, "%u:%u:0%o",
			     (unsigned)ov->uid, (unsigned)ov->gid,
			     (unsigned)(ov->mode & 07777));
	return (size_t)n;
}
