/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "audit-file.h"

/*
 * Where the audit chain ended, kept outside the audit file so that a start
 * on an empty file continues the chain instead of starting a new one.
 * Measured under a real systemd: with exit-idle, logrotate's "create" made
 * an empty audit.jsonl while the daemon was not running; the next start
 * began a new chain and "audit verify" across the rotated files reported
 * the break. The file is one line, "SEQ HASH PATH\n", replaced atomically
 * (rename(2)) at each lifecycle record and at exit. The audit file stays
 * the authority whenever it has records; the head file only bridges an
 * empty one, and only for the same audit file path.
 */

#define AUDIT_STATE_NAME "audit-head"

/*
 * The head file's path: [audit] head-file, or else $STATE_DIRECTORY/audit-head
 * (systemd's StateDirectory=), or else none (*ret NULL). -ENOMEM only.
 */
int audit_state_path(const char *configured, char **ret);

/*
 * Reads the head recorded for audit_path. 0 and *ret_head set: found;
 * -ENOENT: no head file, or one for another audit file; -EBADMSG: not one of ours.
 */
int audit_state_load(const char *state_path, const char *audit_path, AuditHead *ret_head);

/* Replaces the head file (write, fdatasync when sync, rename). */
int audit_state_save(const char *state_path, const char *audit_path, const AuditHead *head,
		     bool sync);
