/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "audit-file.h"
#include "buf.h"

/*
 * A thread that writes and syncs the audit file while the event loop goes on
 * (sync = always). fdatasync() on this machine's ext4 takes 0.15-2 ms and
 * used to block the loop for more than half its time under load, and the
 * write(2) of the records costs about 1 us per record in the page cache: now
 * the loop hands over the lines of a group commit, keeps reading, deciding
 * and rendering the next records, and learns the result from an eventfd. One
 * commit runs at a time; the loop releases the replies it covered when the
 * result comes (DESIGN invariant 3: no token leaves before its record is
 * durable).
 *
 * While a commit runs the thread owns the file: nobody else writes, closes or
 * replaces it until the result was taken (or audit_syncer_wait() returned).
 */

typedef struct AuditSyncer AuditSyncer;

int audit_syncer_new(AuditSyncer **ret);
/* Waits for a running sync, then stops the thread. */
AuditSyncer *audit_syncer_free(AuditSyncer *s);

/* Readable when a sync finished: then audit_syncer_take(). */
int audit_syncer_fd(const AuditSyncer *s);

/*
 * Starts a commit: appends *lines to f (all or nothing), then fdatasync() and
 * the check that the file still has a name. Takes the lines, leaving *lines
 * empty (it keeps its allocation); false if a commit is running.
 */
bool audit_syncer_start(AuditSyncer *s, AuditFile *f, Buf *lines);
/* A sync was started and its result not taken yet. */
bool audit_syncer_busy(AuditSyncer *s);
/* Blocks until the running sync (if any) finished; its result stays for audit_syncer_take(). */
void audit_syncer_wait(AuditSyncer *s);
/*
 * The finished commit's result (0 or -errno) in *ret: 1; 0 while none
 * finished. Lines it could not write go back to the front of *unwritten, in
 * order, for the trail's recovery to write first.
 */
int audit_syncer_take(AuditSyncer *s, int *ret, Buf *unwritten);
