// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xattrs.  Reads go to the topmost object; changes copy up first.  Names in
 * our private namespaces (overlay markers, origin) are neither listed nor
 * readable nor writable through the mount, as with the kernel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copyup.h"
#include "inode.h"
#include "util.h"
#include "whiteout.h"
#include "xattr.h"

/* The kernel asks for it before every write to see if it must drop it. */
#define CAPS_XATTR "security.capability"

static void forget_caps(struct um_inode *inode, const char *name)
{
	if (!strcmp(name, CAPS_XATTR))
		__atomic_store_n(&inode->no_caps, false, __ATOMIC_RELAXED);
}

/*
 * The object itself, held by an O_PATH fd while the call runs (no inode
 * lock held across it): a rename may move the object meanwhile, and the
 * fd is the pinned one of a hard link whose recorded name may be gone.
 */
struct objpath {
	struct um_path p;
	int fd; /* to close after use, or -1 */
};

static void objpath_release(struct objpath *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

static int object_path(struct um_fs *fs, struct um_inode *inode,
		       struct objpath *o)
{
	int layer;

	o->fd = um_inode_path(fs, inode, &layer);
	if (o->fd < 0)
		return o->fd;
	o->p = UM_PATH(layer, o->fd, "");
	return 0;
}

ssize_t um_xattr_get(struct um_fs *fs, struct um_inode *inode, const char *name,
		     void *buf, size_t size)
{
	bool caps = !strcmp(name, CAPS_XATTR);
	struct objpath o;
	ssize_t r;

	if (um_is_private_xattr(name))
		return -EOPNOTSUPP;
	if (caps && __atomic_load_n(&inode->no_caps, __ATOMIC_RELAXED))
		return -ENODATA;
	r = object_path(fs, inode, &o);
	if (r == 0)
		r = um_path_getxattr(&o.p, name, buf, size);
	objpath_release(&o);
	/* Only we change the layers, and set/remove forget this. */
	if (caps && r == -ENODATA)
		__atomic_store_n(&inode->no_caps, true, __ATOMIC_RELAXED);
	return r;
}

static ssize_t list_filtered(const struct um_path *p, char *buf, size_t size)
{
	_cleanup_free_ char *all = NULL;
	ssize_t len, out = 0;

	for (;;) {
		len = um_path_listxattr(p, NULL, 0);
		if (len <= 0)
			return len;
		free(all);
		all = malloc(len);
		if (!all)
			return -ENOMEM;
		len = um_path_listxattr(p, all, len);
		if (len >= 0)
			break;
		if (len != -ERANGE)
			return len;
	}
	for (char *n = all; n < all + len; n += strlen(n) + 1) {
		size_t l = strlen(n) + 1;
		if (um_is_private_xattr(n))
			continue;
		if (size) {
			if ((size_t)out + l > size)
				return -ERANGE;
			memcpy(buf + out, n, l);
		}
		out += l;
	}
	return out;
}

ssize_t um_xattr_list(struct um_fs *fs, struct um_inode *inode, char *buf,
		      size_t size)
{
	struct objpath o;
	ssize_t r;

	r = object_path(fs, inode, &o);
	if (r == 0)
		r = list_filtered(&o.p, buf, size);
	objpath_release(&o);
	return r;
}

/* Copy up for a change of xattr name and find the object.  0 or -errno. */
static int prepare_change(struct um_fs *fs, struct um_inode *inode,
			  const char *name, struct objpath *o)
{
	int r = um_copyup(fs, inode, UM_COPYUP_META);

	o->fd = -1;
	if (r < 0)
		return r;
	forget_caps(inode, name);
	return object_path(fs, inode, o);
}

int um_xattr_set(struct um_fs *fs, struct um_inode *inode, const char *name,
		 const void *val, size_t size, int flags)
{
	struct objpath o;
	int r;

	if (um_is_private_xattr(name))
		return -EOPNOTSUPP;
	if (!fs->upper)
		return -EROFS;
	r = prepare_change(fs, inode, name, &o);
	if (r == 0)
		r = um_path_setxattr(&o.p, name, val, size, flags);
	objpath_release(&o);
	return r;
}

int um_xattr_remove(struct um_fs *fs, struct um_inode *inode, const char *name)
{
	struct objpath o;
	int r;

	if (um_is_private_xattr(name))
		return -EOPNOTSUPP;
	if (!fs->upper)
		return -EROFS;
	/* Removing what is not there changes nothing: no copy-up. */
	if (um_inode_real(inode).layer != 0) {
		r = um_xattr_get(fs, inode, name, NULL, 0);
		if (r < 0)
			return r;
	}
	r = prepare_change(fs, inode, name, &o);
	if (r == 0)
		r = um_path_removexattr(&o.p, name);
	objpath_release(&o);
	return r;
}
