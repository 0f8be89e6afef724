/* SPDX-License-Identifier: MIT */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define LISTEN_BACKLOG 512 /* as hsmjwtd.socket: bursts queue while the daemon is busy */

static int fill_address(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sa->sun_path))
		return log_error_errno(ENAMETOOLONG, "Socket path '%s' is empty or too long", path);
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	memcpy(sa->sun_path, path, n);
	return 0;
}

/* A socket file left by a dead daemon is removed; a live one is not stolen. */
static int remove_stale(const struct sockaddr_un *sa)
{
	_cleanup_close_ int probe = -EBADF;
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : log_error_errno(errno, "Cannot stat %s: %m", sa->sun_path);
	if (!S_ISSOCK(st.st_mode))
		return log_error_errno(EEXIST, "%s exists and is not a socket", sa->sun_path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return log_error_errno(errno, "socket(): %m");
	if (connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return log_error_errno(EADDRINUSE, "Another daemon is listening on %s", sa->sun_path);
	if (unlink(sa->sun_path) < 0)
		return log_error_errno(errno, "Cannot remove stale socket %s: %m", sa->sun_path);
	return 0;
}

static int bind_path(const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa;
	mode_t old;
	int r;

	r = fill_address(path, &sa);
	if (r < 0)
		return r;
	r = remove_stale(&sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(errno, "socket(): %m");
	/* The umask decides the mode at bind(): no window where others may connect. */
	old = umask(0117);
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return log_error_errno(errno, "Cannot bind %s: %m", path);
	if (listen(fd, LISTEN_BACKLOG) < 0)
		return log_error_errno(errno, "Cannot listen on %s: %m", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int listen_socket_open(const char *path, int *ret_fd, bool *ret_bound)
{
	int n, fd, r;

	n = sd_listen_fds(1);
	if (n < 0)
		return log_error_errno(n, "Failed to read passed file descriptors: %m");
	if (n > 1)
		return log_error_errno(EINVAL, "Got %d sockets from systemd; expected exactly one", n);
	if (n == 0) {
		r = bind_path(path, ret_fd);
		if (r < 0)
			return r;
		log_info("Listening on %s", path);
		*ret_bound = true;
		return 0;
	}
	fd = SD_LISTEN_FDS_START;
	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r < 0)
		return log_error_errno(r, "Cannot inspect the passed socket: %m");
	if (r == 0)
		return log_error_errno(EINVAL, "The passed fd is not a listening Unix stream socket");
	r = fcntl(fd, F_GETFL);
	if (r < 0 || fcntl(fd, F_SETFL, r | O_NONBLOCK) < 0)
		return log_error_errno(errno, "Cannot make the passed socket non-blocking: %m");
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return log_error_errno(errno, "Cannot set FD_CLOEXEC on the passed socket: %m");
	log_info("Listening on the socket passed by systemd");
	*ret_fd = fd;
	*ret_bound = false;
	return 0;
}
