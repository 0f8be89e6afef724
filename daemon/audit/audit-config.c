/* SPDX-License-Identifier: MIT */
#include "audit-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "name-table.h"

static const char *const sync_names[] = {
	[AUDIT_SYNC_ALWAYS] = "always",
	[AUDIT_SYNC_BATCH] = "batch",
	[AUDIT_SYNC_NONE] = "none",
};

NAME_TABLE_FUNCTIONS(audit_sync, AuditSync, sync_names)

void audit_config_defaults(AuditConfig *a)
{
	*a = (AuditConfig){ .journal = true, .sync = AUDIT_SYNC_ALWAYS };
}

void audit_config_done(AuditConfig *a)
{
	free(a->file);
	a->file = NULL;
}
