/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Both programs that hold the PIN: no core dumps, no ptrace by same-uid
 * processes (PR_SET_DUMPABLE 0), so a crash or a debugger cannot lift the
 * PIN or request data from memory. SIGPIPE is ignored: a remote token's
 * socket closing is an error to handle, not a reason to die.
 */
int harden_process(void);
