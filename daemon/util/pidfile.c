/* SPDX-License-Identifier: MIT */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "cleanup.h"

int pidfile_acquire(const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[24];
	int n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
	if (fd < 0)
		return negative_errno();
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

void pidfile_release(const char *path, int fd)
{
	if (fd < 0)
		return;
	if (path)
		(void)unlink(path);
	close(fd);
}

int pidfile_read_live(const char *path, pid_t *ret_pid)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[24] = {};
	ssize_t k;
	char *end;
	long v;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : negative_errno();
	/* Getting the lock means nobody holds it: no daemon behind this file. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return -ESRCH;
	if (errno != EWOULDBLOCK)
		return negative_errno();
	k = read(fd, buf, sizeof(buf) - 1);
	if (k < 0)
		return negative_errno();
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v <= 1 || v != (pid_t)v)
		return -EBADMSG;
	*ret_pid = (pid_t)v;
	return 0;
}
