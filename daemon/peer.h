/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

/* Who is asking, taken with SO_PEERCRED at accept time, before any byte is read. */
typedef struct Peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
} Peer;
