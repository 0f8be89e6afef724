/* SPDX-License-Identifier: MIT */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "cleanup.h"

/*
 * Debian 12's kernel headers (6.1) predate SO_PEERPIDFD (Linux 6.5). The
 * number is the asm-generic one; the architectures with their own socket.h
 * numbering simply fall back to pidfd_open().
 */
#if !defined(SO_PEERPIDFD) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
			       defined(__arm__) || defined(__riscv) || defined(__s390__) ||        \
			       defined(__powerpc__) || defined(__loongarch__))
#define SO_PEERPIDFD 77
#endif

static void take_groups(int fd, Peer *p)
{
	socklen_t len = 32 * sizeof(gid_t);
	gid_t *g = NULL;

	/* Two tries: the kernel says how much it needs when the first buffer is short. */
	for (int attempt = 0; attempt < 2; attempt++) {
		gid_t *n = realloc(g, len ? len : 1);

		if (!n)
			break;
		g = n;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			p->n_groups = len / sizeof(gid_t);
			if (p->n_groups > PEER_GROUPS_MAX) {
				p->n_groups = PEER_GROUPS_MAX;
				p->groups_truncated = true;
			}
			p->groups = g;
			return;
		}
		if (errno != ERANGE || len > 65536 * sizeof(gid_t))
			break;
	}
	free(g);
	/* Unknown supplementary groups: a group rule can then only match the primary gid. */
	p->groups_truncated = true;
}

static int take_pidfd(int fd, pid_t pid, bool *ret_from_socket)
{
	int pidfd = -EBADF;
#ifdef SO_PEERPIDFD
	socklen_t len = sizeof(pidfd);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
		*ret_from_socket = true;
		return pidfd;
	}
	/*
	 * Only a kernel without SO_PEERPIDFD earns the pid fallback. Any other
	 * failure (the peer is gone: ESRCH) leaves no pidfd, so the unit stays
	 * unknown instead of being read from whoever holds the pid by now.
	 */
	if (errno != ENOPROTOOPT) {
		*ret_from_socket = false;
		return -EBADF;
	}
#else
	(void)fd;
#endif
	*ret_from_socket = false;
	if (pid <= 0)
		return -EBADF;
	pidfd = pidfd_open(pid, 0);
	return pidfd < 0 ? -EBADF : pidfd;
}

static void read_comm(pid_t pid, char ret[static PEER_COMM_MAX])
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	k = read(fd, ret, PEER_COMM_MAX - 1);
	if (k <= 0)
		return;
	ret[k] = '\0';
	ret[strcspn(ret, "\n")] = '\0';
}

static char *read_exe(pid_t pid)
{
	char path[64], target[4096];
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	k = readlink(path, target, sizeof(target) - 1);
	if (k <= 0)
		return NULL;
	target[k] = '\0';
	return strdup(target);
}

/* The process the pidfd names has not exited: so its pid still meant it. */
static bool still_alive(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	/* A pidfd turns readable when its process exits. */
	return poll(&p, 1, 0) == 0;
}

int peer_from_socket(int fd, Peer *ret)
{
	Peer p = PEER_NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return negative_errno();
	p.pid = cred.pid;
	p.uid = cred.uid;
	p.gid = cred.gid;
	take_groups(fd, &p);
	/* pid 0: the peer lives in a pid namespace we cannot see. */
	if (p.pid > 0)
		p.pidfd = take_pidfd(fd, p.pid, &p.pidfd_from_socket);
	p.unit_unknown = true;
	if (p.pidfd >= 0) {
		/* libsystemd 252 has no sd_pidfd_get_unit(): read by pid, then check the pidfd. */
		r = sd_pid_get_unit(p.pid, &p.unit);
		if (r < 0)
			p.unit = NULL;
		/* -ENXIO, -ENODATA: the process is in no unit, which is a fact, not a gap. */
		p.unit_unknown = r < 0 && r != -ENXIO && r != -ENODATA;
		p.exe = read_exe(p.pid);
		read_comm(p.pid, p.comm);
		if (!still_alive(p.pidfd)) {
			free(p.unit);
			free(p.exe);
			p.unit = p.exe = NULL;
			p.comm[0] = '\0';
			p.unit_unknown = true;
		}
	}
	*ret = p;
	return 0;
}

void peer_done(Peer *p)
{
	if (!p)
		return;
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p->groups);
	free(p->unit);
	free(p->exe);
	*p = PEER_NULL;
}

bool peer_in_group(const Peer *p, gid_t gid)
{
	if (p->gid == gid)
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}
