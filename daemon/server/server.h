/* SPDX-License-Identifier: MIT */
#pragma once

#include "service.h"

/*
 * The I/O side: one sd-event loop, the listening socket (from socket
 * activation or bound by hand), connections and framing. Runs until SIGTERM
 * or SIGINT, then returns 0.
 */
int server_run(Service *service);

/*
 * Blocks SIGTERM, SIGINT and SIGHUP, which the loop takes through signalfd.
 * main calls it before the token is opened: a module that starts threads
 * (tpm2-pkcs11 does) must not leave a thread where SIGHUP kills the daemon.
 */
int server_block_signals(void);
