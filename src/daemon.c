// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Going to the background.
 *
 * libfuse's fuse_daemonize() forks after the mount is made, so the process
 * that serves the mount is a child of the one that set it up.  We fork
 * before anything else instead: the child takes the work directory lock
 * (lock.c), opens the layers and mounts, so the process that holds the
 * lock and serves the mount is the one that lives on, and /proc/locks
 * names it.  The parent waits: it exits 0 once the child reports the mount
 * live, or with the child's own status (2 for a union in use, 1 for a
 * failed mount) if the child ends first, having said why on the caller's
 * stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

int um_daemon_start(struct um_daemon *d)
{
	int pfd[2];
	pid_t pid;
	ssize_t n;
	char c;
	int st;

	d->ready_fd = -1;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		close(pfd[0]);
		d->ready_fd = pfd[1];
		/* No terminal: its hangup must not stop the mount. */
		setsid();
		return 0;
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	/* The child ended before the mount was live. */
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

void um_daemon_ready(struct um_daemon *d, int foreground)
{
	int fd;

	/* Do not keep the directory we were started in busy. */
	if (chdir("/") < 0)
		fprintf(stderr, "unionmount: warning: cannot chdir to /: %s\n",
			strerror(errno));
	if (foreground || d->ready_fd < 0)
		return;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	while (write(d->ready_fd, "", 1) < 0 && errno == EINTR)
		;
	close(d->ready_fd);
	d->ready_fd = -1;
}

int um_daemon_exit_status(int loop_rc)
{
	/*
	 * libfuse's signal handler stores the signal's number as the
	 * session's error, and the loop returns it: a stop that was asked
	 * for, not a failure.  An unmount ends the loop with 0.
	 */
	if (loop_rc == 0 || loop_rc == SIGTERM || loop_rc == SIGINT ||
	    loop_rc == SIGHUP)
		return 0;
	return 1;
}
