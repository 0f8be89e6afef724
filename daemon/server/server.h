/* SPDX-License-Identifier: MIT */
#pragma once

#include "service.h"

/*
 * The I/O side: one sd-event loop, the listening socket (from socket
 * activation or bound by hand), connections and framing. Runs until SIGTERM
 * or SIGINT, then returns 0.
 */
int server_run(Service *service);
