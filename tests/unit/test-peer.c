/* SPDX-License-Identifier: MIT */
/* Peer identity from real sockets: ourselves, and a peer that is gone before accept. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "peer.h"
#include "tests.h"

static void ourselves(void)
{
	int sv[2];
	Peer p;
	char exe[4096];
	ssize_t k;
	gid_t groups[256];
	int n_groups = getgroups(256, groups);
	char *unit = NULL;

	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	check_int(peer_from_socket(sv[0], &p), 0);
	check_int(p.pid, getpid());
	check_int(p.uid, geteuid());
	check_int(p.gid, getegid());
	check(n_groups >= 0);
	check_int(p.n_groups, n_groups);
	for (int i = 0; i < n_groups; i++)
		check(peer_in_group(&p, groups[i]));
	check(peer_in_group(&p, getegid()));
	check(!peer_in_group(&p, 4242424));
	check(p.pidfd >= 0);
	fprintf(stderr, "pidfd from %s\n", p.pidfd_from_socket ? "SO_PEERPIDFD" : "pidfd_open()");
	k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	check(k > 0);
	exe[k] = '\0';
	check(p.exe && strcmp(p.exe, exe) == 0);
	check(strcmp(p.comm, "test-peer") == 0);
	/* The unit is whatever libsystemd says for our pid (none outside systemd). */
	if (sd_pid_get_unit(getpid(), &unit) >= 0)
		check(p.unit && strcmp(p.unit, unit) == 0);
	else
		check(p.unit == NULL);
	free(unit);
	peer_done(&p);
	check_int(p.pidfd, -EBADF);
	close(sv[0]);
	close(sv[1]);
}

/* A peer that connected and exited before accept: no unit, exe or comm can be vouched for. */
static void gone_before_accept(void)
{
	char dir[] = "/tmp/hsmjwt-test-peer-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, fd, status;
	pid_t child;
	Peer p;

	check(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(l >= 0);
	check(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(l, 1) == 0);
	child = fork();
	check(child >= 0);
	if (child == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);

		_exit(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : 1);
	}
	check(waitpid(child, &status, 0) == child);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	check(fd >= 0);
	check_int(peer_from_socket(fd, &p), 0);
	check_int(p.pid, child);
	check_int(p.uid, geteuid()); /* SO_PEERCRED stays exact */
	check(p.unit == NULL);
	check(p.exe == NULL);
	check_int(p.comm[0], '\0');
	peer_done(&p);
	close(fd);
	close(l);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	ourselves();
	gone_before_accept();
	return 0;
}
