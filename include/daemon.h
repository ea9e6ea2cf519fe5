/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Going to the background, and the exit status of the daemon.
 */
#ifndef UM_DAEMON_H
#define UM_DAEMON_H

struct um_daemon {
	int ready_fd; /* the pipe to the waiting parent, or -1 */
};

/*
 * Fork.  The parent never returns: it waits until the child reports
 * ready with um_daemon_ready() and exits 0, or until the child exits
 * first and exits with its status.  The child returns 0 in a new session,
 * still writing to the caller's stderr; -errno if fork() failed.
 */
int um_daemon_start(struct um_daemon *d);

/*
 * The mount is live: stdin, stdout and stderr go to /dev/null (a caller
 * that reads our stderr sees it end), the working directory becomes /,
 * and the parent is told to exit 0.  In the foreground (no
 * um_daemon_start()) only the working directory changes.
 */
void um_daemon_ready(struct um_daemon *d, int foreground);

/*
 * The exit status for what the session loop returned: 0 when the mount
 * went away (fusermount3 -u, umount) or a SIGTERM, SIGINT or SIGHUP asked
 * for a stop, 1 for an error.
 */
int um_daemon_exit_status(int loop_rc);

#endif
