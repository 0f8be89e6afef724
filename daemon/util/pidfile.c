/* SPDX-License-Identifier: MIT */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

/*
 * The pid the kernel names as holder of fd's flock(), from /proc/locks
 * ("1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"); -ESRCH if none.
 */
static int lock_holder(int fd, pid_t *ret_pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[256], kind[16];
	unsigned maj, min;
	unsigned long long ino;
	struct stat st;
	long pid;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	f = fopen("/proc/locks", "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %15s %*s %*s %ld %x:%x:%llu", kind, &pid, &maj, &min, &ino) != 5)
			continue;
		if (strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) && pid > 0) {
			*ret_pid = (pid_t)pid;
			return 0;
		}
	}
	return -ESRCH;
}

int pidfile_read_live(const char *path, pid_t *ret_pid)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[24] = {};
	ssize_t k;
	char *end;
	pid_t holder;
	long v;
	int r;

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
	/*
	 * Whoever can write the file could name any pid, and root would signal
	 * it (issue 16): only the process the kernel says holds the lock counts.
	 */
	r = lock_holder(fd, &holder);
	if (r < 0)
		return r;
	if (holder != (pid_t)v)
		return -EPERM;
	*ret_pid = (pid_t)v;
	return 0;
}
