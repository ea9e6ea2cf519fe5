// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The exclusive lock of a writable mount on its work directory and upper
 * layer.
 *
 * Two mounts sharing a work directory would break each other: each empties
 * the work directory's "unionmount" subdirectory at start (that is how
 * crash leftovers go), under the feet of a copy-up of the other.  Two
 * mounts sharing an upper change it behind each other's caches.  So, like
 * kernel overlayfs, a second mount is refused.
 *
 * The lock is flock() on an fd of each directory, kept open by the process
 * that serves the mount.  flock() locks belong to the open file, so the
 * kernel lets them go when the last fd is closed, which happens however
 * the daemon ends (SIGKILL included): no stale lock to clean up.  It is
 * taken before the work directory is touched, so only its holder clears
 * leftovers.  The fds are O_CLOEXEC: fusermount3, which libfuse may exec
 * and which may outlive us (auto_unmount), must not keep the lock.
 *
 * To name the holder in a refusal, it writes its pid and mount point into
 * UM_LOCK_RECORD in the work directory; the pid is also found in
 * /proc/locks, which is all there is when only the upper is shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"

#define RECORD_TMP UM_LOCK_RECORD ".new"
#define RECORD_MAX 65536
/*
 * How long to wait for a lock whose holder is not mounted, in steps of
 * 50 ms: 20 s for a work directory whose holder's record says where it
 * mounts (a busy machine may take that long to end a daemon), 5 s for an
 * upper layer, whose holder cannot be told from a live mount elsewhere.
 */
#define LOCK_WAIT_STEPS_RECORD 400
#define LOCK_WAIT_STEPS 100
#define LOCK_WAIT_STEP_NS 50000000L

void um_lock_init(struct um_lock *lk)
{
	lk->work_fd = -1;
	lk->upper_fd = -1;
}

/* The process holding a flock() on the directory open at fd, or 0. */
static pid_t holder_pid(int fd)
{
	FILE *f = fopen("/proc/locks", "re");
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	pid_t found = 0;

	if (!f)
		return 0;
	if (fstat(fd, &st) < 0) {
		fclose(f);
		return 0;
	}
	/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters say "->"
	 */
	while (!found && getline(&line, &cap, f) >= 0) {
		char type[16], mode[16];
		unsigned int maj, min;
		unsigned long ino;
		int pid;

		if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%lu", type, mode,
			   &pid, &maj, &min, &ino) == 6 &&
		    !strcmp(type, "FLOCK") && maj == major(st.st_dev) &&
		    min == minor(st.st_dev) && ino == st.st_ino && pid > 0)
			found = pid;
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Read the holder's record from the work directory at dirfd.  Returns its
 * pid (0 if there is no usable record) and its mount point in *mnt
 * (malloc'ed).
 */
static pid_t read_record(int dirfd, char **mnt)
{
	char *buf = malloc(RECORD_MAX + 1);
	char *nl, *end;
	ssize_t n;
	long pid;
	int fd;

	*mnt = NULL;
	if (!buf)
		return 0;
	fd = openat(dirfd, UM_LOCK_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return 0;
	}
	n = read(fd, buf, RECORD_MAX);
	close(fd);
	if (n <= 0) {
		free(buf);
		return 0;
	}
	buf[n] = '\0';
	pid = strtol(buf, &nl, 10);
	end = buf + n - 1;
	if (pid <= 0 || *nl != '\n' || end <= nl || *end != '\n') {
		free(buf);
		return 0;
	}
	*end = '\0';
	*mnt = strdup(nl + 1);
	free(buf);
	return (pid_t)pid;
}

/* path as /proc/self/mountinfo writes it: ' ', '\t', '\n', '\\' octal. */
static char *mountinfo_escape(const char *path)
{
	char *out = malloc(4 * strlen(path) + 1);
	char *q = out;

	if (!out)
		return NULL;
	for (const char *p = path; *p; p++) {
		if (strchr(" \t\n\\", *p))
			q += sprintf(q, "\\%03o", (unsigned char)*p);
		else
			*q++ = *p;
	}
	*q = '\0';
	return out;
}

/* Is a union mounted on path in our mount namespace? */
static bool union_mounted_on(const char *path)
{
	char *want = mountinfo_escape(path);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	/* "36 35 98:0 / /mnt rw,noatime - fuse.unionmount src rw,..." */
	while (want && f && !found && getline(&line, &cap, f) >= 0) {
		char *save = NULL, *tok, *mnt = NULL;
		bool sep = false;
		int i = 0;

		for (tok = strtok_r(line, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save), i++) {
			if (i == 4)
				mnt = tok;
			else if (sep)
				break;
			else if (i > 4 && !strcmp(tok, "-"))
				sep = true;
		}
		found = tok && mnt && !strcmp(tok, "fuse.unionmount") &&
			!strcmp(mnt, want);
	}
	free(line);
	if (f)
		fclose(f);
	free(want);
	return found;
}

/*
 * Is the holder of the work directory at fd a live mount, rather than one
 * that is starting or going away?  Its record names its mount point.
 */
static bool holder_mounted(int fd)
{
	char *mnt = NULL;
	bool yes = read_record(fd, &mnt) && mnt && union_mounted_on(mnt);

	free(mnt);
	return yes;
}

/*
 * The lock at fd is taken: wait for it while the holder is not a live
 * mount.  A union that was just unmounted ends its threads before it lets
 * the lock go, and the command that unmounted it has returned by then: a
 * mount right after must wait for that, not fail.  A holder in another
 * mount namespace cannot be seen mounted, so waiting is bounded.
 * Returns 0 with the lock taken, -EWOULDBLOCK if it stayed taken.
 */
static int wait_for_lock(int fd, bool record)
{
	struct timespec step = {.tv_nsec = LOCK_WAIT_STEP_NS};
	int steps = record ? LOCK_WAIT_STEPS_RECORD : LOCK_WAIT_STEPS;

	for (int i = 0; i < steps; i++) {
		if (record && holder_mounted(fd))
			return -EWOULDBLOCK;
		nanosleep(&step, NULL);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
	}
	return -EWOULDBLOCK;
}

/*
 * The one line that refuses a mount because the directory path (what
 * names it: "workdir", "upper directory"), open at fd, is locked.
 * record: it is a work directory, with the holder's record in it.
 */
static int refuse(const struct um_config *cfg, const char *what,
		  const char *path, int fd, bool record, char *err,
		  size_t errlen)
{
	pid_t pid = holder_pid(fd);
	pid_t rpid = 0;
	char *mnt = NULL;

	if (record)
		rpid = read_record(fd, &mnt);
	/* A record left by a crash names a process that is gone. */
	if (rpid && (!pid || pid == rpid)) {
		pid = rpid;
	} else {
		free(mnt);
		mnt = NULL;
	}
	if (mnt && !strcmp(mnt, cfg->mountpoint) && union_mounted_on(mnt))
		um_errorf(err, errlen,
			  "%s is already a unionmount mount of upper "
			  "directory %s (pid %d)",
			  mnt, cfg->upper, (int)pid);
	else if (mnt)
		um_errorf(err, errlen,
			  "%s %s is in use by the unionmount mount on %s "
			  "(pid %d)",
			  what, path, mnt, (int)pid);
	else if (pid)
		um_errorf(err, errlen,
			  "%s %s is in use by another unionmount (pid %d)",
			  what, path, (int)pid);
	else
		um_errorf(err, errlen, "%s %s is in use by another mount", what,
			  path);
	free(mnt);
	return -EBUSY;
}

/*
 * Lock the directory path into *fdp.  record as for refuse().  A file
 * system without flock() (some network ones) gets a warning: the mount
 * goes ahead, unprotected, as it always did.
 */
static int lock_dir(const struct um_config *cfg, const char *what,
		    const char *path, int *fdp, bool record, char *err,
		    size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		rc = -errno;
		um_errorf(err, errlen, "cannot lock %s %s: %s", what, path,
			  strerror(errno));
		return rc;
	}
	rc = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : -errno;
	if (rc == -EWOULDBLOCK)
		rc = wait_for_lock(fd, record);
	if (rc == 0) {
		*fdp = fd;
		return 0;
	}
	if (rc == -EWOULDBLOCK) {
		rc = refuse(cfg, what, path, fd, record, err, errlen);
		close(fd);
		return rc;
	}
	fprintf(stderr,
		"unionmount: warning: cannot lock %s %s (%s): a second mount "
		"of it would not be refused\n",
		what, path, strerror(-rc));
	close(fd);
	return 0;
}

/*
 * Write the record, 0600: nothing in the work directory is for other users
 * (who may reach it, if its mode lets them).  It only serves the message that
 * refuses a second mount, which without it names the pid alone: a failure (a
 * full disk) is no reason to refuse this mount, so it is not reported.
 */
static void write_record(int dirfd, const char *mountpoint)
{
	int fd = openat(dirfd, RECORD_TMP,
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			0600);
	bool ok;

	if (fd < 0)
		return;
	ok = dprintf(fd, "%d\n%s\n", (int)getpid(), mountpoint) > 0;
	ok = close(fd) == 0 && ok;
	/* Readers see the old record or the new one, never half of one. */
	if (!ok || renameat(dirfd, RECORD_TMP, dirfd, UM_LOCK_RECORD) < 0)
		unlinkat(dirfd, RECORD_TMP, 0);
}

int um_lock_take(struct um_lock *lk, const struct um_config *cfg, char *err,
		 size_t errlen)
{
	int rc;

	/* A read-only union writes neither the upper nor the work dir. */
	if (!cfg->upper || cfg->ro)
		return 0;
	/* The work directory first: its holder's record names the holder. */
	rc = lock_dir(cfg, "workdir", cfg->work, &lk->work_fd, true, err,
		      errlen);
	if (rc < 0)
		return rc;
	rc = lock_dir(cfg, "upper directory", cfg->upper, &lk->upper_fd, false,
		      err, errlen);
	if (rc < 0) {
		um_lock_release(lk);
		return rc;
	}
	if (lk->work_fd >= 0)
		write_record(lk->work_fd, cfg->mountpoint);
	return 0;
}

void um_lock_release(struct um_lock *lk)
{
	/* Still ours: the lock is held until the close below. */
	if (lk->work_fd >= 0)
		unlinkat(lk->work_fd, UM_LOCK_RECORD, 0);
	if (lk->upper_fd >= 0)
		close(lk->upper_fd);
	if (lk->work_fd >= 0)
		close(lk->work_fd);
	um_lock_init(lk);
}
