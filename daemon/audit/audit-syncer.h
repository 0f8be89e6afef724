/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * A thread that makes the audit file durable while the event loop goes on
 * (sync = always). fdatasync() on this machine's ext4 takes 0.15-2 ms and
 * used to block the loop for more than half its time under load: now the
 * loop writes each iteration's records (one write(2)), asks for a sync, and
 * keeps reading, deciding and writing the next records while it runs; the
 * result comes back through an eventfd. One sync runs at a time; the loop
 * releases the replies it covered when the result comes (ARCHITECTURE.md,
 * Invariant 3: no JWT leaves before its record is durable).
 *
 * The write(2)s stay on the loop, overlapping the running sync, rather than
 * moving here: that keeps them off the commit's critical path (replies wait
 * for write + sync of their batch otherwise).
 *
 * The file descriptor must stay open while a sync runs: whoever closes or
 * replaces the file calls audit_syncer_wait() first.
 */

typedef struct AuditSyncer AuditSyncer;

int audit_syncer_new(AuditSyncer **ret);
/* Waits for a running sync, then stops the thread. */
AuditSyncer *audit_syncer_free(AuditSyncer *s);

/* Readable when a sync finished: then audit_syncer_take(). */
int audit_syncer_fd(const AuditSyncer *s);

/* Starts fdatasync(fd) plus the check that the file still has a name; false if one is running. */
bool audit_syncer_start(AuditSyncer *s, int fd);
/* Blocks until the running sync (if any) finished; its result stays for audit_syncer_take(). */
void audit_syncer_wait(AuditSyncer *s);
/* The finished sync's result (0 or -errno) in *ret: 1; 0 while none finished. */
int audit_syncer_take(AuditSyncer *s, int *ret);
