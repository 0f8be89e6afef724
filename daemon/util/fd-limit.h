/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Raises the soft RLIMIT_NOFILE towards n (never past the hard limit). The
 * daemon uses epoll, never select(), so a soft limit over 1024 is safe; a
 * failure is logged and the daemon goes on with what it has.
 */
void fd_limit_ensure(unsigned n);
