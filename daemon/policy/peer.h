/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Supplementary groups kept per peer; a longer list is cut (see groups_truncated). */
#define PEER_GROUPS_MAX 1024u
/* TASK_COMM_LEN: the kernel's limit, NUL included. */
#define PEER_COMM_MAX 16

/*
 * Who is asking, taken at accept time before any byte is read, so later
 * requests on the connection cannot change it. What each field is worth:
 *
 * - pid, uid, gid (SO_PEERCRED) and groups (SO_PEERGROUPS): recorded by the
 *   kernel when the peer called connect(). Exact; no race. uid and gid are
 *   the effective ones; policy matches on uid, gid and groups only.
 * - pidfd: with SO_PEERPIDFD (Linux 6.5+) the kernel's own reference to the
 *   process that connected: exact. On older kernels it is pidfd_open(pid) at
 *   accept, which names the wrong process only if the peer exited and its
 *   pid was reused between connect() and accept() (pidfd_from_socket false).
 * - unit (sd_pid_get_unit: /proc/PID/cgroup) and exe/comm (/proc/PID): read
 *   by pid after accept, then kept only if the pidfd shows the process still
 *   alive, i.e. the pid was not recycled while we read. They describe the
 *   process at accept, not at connect: a root peer can move itself to any
 *   cgroup, and any peer may exec() another program after connecting or set
 *   its own comm. So unit is a sound policy criterion for non-root peers
 *   (moving between units needs write access to cgroup.procs), while exe and
 *   comm are for the audit trail only and never decide anything.
 *
 * Optional fields are NULL, "" or -EBADF when unknown (peer in another pid
 * namespace, /proc hidden, process gone).
 */
typedef struct Peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary, as SO_PEERGROUPS reports them */
	size_t n_groups;
	bool groups_truncated;
	int pidfd;		 /* owned; -EBADF when none */
	bool pidfd_from_socket;	 /* SO_PEERPIDFD, not pidfd_open() */
	char *unit;		 /* systemd unit, e.g. "payments.service" */
	/*
	 * The unit could not be established (no pidfd, the process exited or
	 * its pid was reused before we read it, /proc unreadable); unit is then
	 * NULL but does not mean "outside any unit" (ARCHITECTURE.md, Invariant 8).
	 */
	bool unit_unknown;
	char *exe;		 /* /proc/PID/exe target; needs ptrace access, so often NULL */
	char comm[PEER_COMM_MAX]; /* /proc/PID/comm; set by the process itself */
} Peer;

#define PEER_NULL ((Peer){ .pidfd = -EBADF })

/* Fills ret from a connected AF_UNIX socket; only SO_PEERCRED failing is an error. */
int peer_from_socket(int fd, Peer *ret);
void peer_done(Peer *p);

/* Primary or supplementary. */
bool peer_in_group(const Peer *p, gid_t gid);
