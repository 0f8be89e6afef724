/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * The listening socket: the one fd systemd passed (sd_listen_fds), or, when
 * started by hand, a socket bound at path (mode 0660). *ret_bound tells the
 * caller to unlink path at exit.
 */
int listen_socket_open(const char *path, int *ret_fd, bool *ret_bound);
