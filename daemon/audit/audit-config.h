/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* [audit]: where records go and how durable they are before the reply leaves. */
typedef enum AuditSync {
	AUDIT_SYNC_ALWAYS, /* fdatasync() before any JWT of the batch leaves */
	AUDIT_SYNC_BATCH,  /* fdatasync() about once per AUDIT_BATCH_INTERVAL_USEC */
	AUDIT_SYNC_NONE,   /* write(2) only; the kernel writes back when it likes */
} AuditSync;

#define CONFIG_DEFAULT_AUDIT_FILE "/var/log/hsmjwt/audit.jsonl"

/* Which verify decisions are recorded; deprecation events always are. */
typedef enum AuditVerify {
	AUDIT_VERIFY_ALL,
	AUDIT_VERIFY_FAILURES, /* invalid JWTs and failed checks only */
	AUDIT_VERIFY_NONE,
} AuditVerify;

typedef struct AuditConfig {
	char *file;   /* NULL: no file sink */
	bool journal; /* records also go to the systemd journal */
	AuditSync sync;
	AuditVerify verify;
	bool preallocate; /* zero-filled room ahead of the records: syncs flush data only */
	unsigned seen; /* bit per option, to refuse repeats */
} AuditConfig;

const char *audit_sync_to_string(AuditSync s);
/* -EINVAL for a name that is no mode. */
int audit_sync_from_string(const char *s, AuditSync *ret);
void audit_config_defaults(AuditConfig *a);
void audit_config_done(AuditConfig *a);
