/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

/*
 * [server] pid-file: how "hsmjwtctl reopen-audit" finds a daemon that systemd
 * does not manage. The daemon holds an exclusive lock on the file while it
 * runs, so a stale file (a crash, a reused pid) is recognised as such.
 */

/* Creates path, locks it and writes our pid; -EBUSY if another live daemon holds it. */
int pidfile_acquire(const char *path, int *ret_fd);
/* Removes the file and drops the lock; accepts fd < 0. */
void pidfile_release(const char *path, int fd);

/*
 * The pid of the daemon holding path; -ESRCH when none does (stale or
 * unlocked file); -EPERM when the file names a pid other than the lock's
 * holder (/proc/locks), so a written pid file cannot aim a signal.
 */
int pidfile_read_live(const char *path, pid_t *ret_pid);
