/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Both programs that hold the PIN: no core dumps, no ptrace by same-uid
 * processes (PR_SET_DUMPABLE 0), so a crash or a debugger cannot lift the
 * PIN or request data from memory.
 */
int harden_process(void);
