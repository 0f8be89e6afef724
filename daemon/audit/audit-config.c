/* SPDX-License-Identifier: MIT */
#include "audit-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static const char *const sync_names[] = {
	[AUDIT_SYNC_ALWAYS] = "always",
	[AUDIT_SYNC_BATCH] = "batch",
	[AUDIT_SYNC_NONE] = "none",
};

const char *audit_sync_to_string(AuditSync s)
{
	return (size_t)s < ELEMENTSOF(sync_names) ? sync_names[s] : NULL;
}

int audit_sync_from_string(const char *s, AuditSync *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(sync_names); i++)
		if (strcmp(s, sync_names[i]) == 0)
			return *ret = (AuditSync)i, 0;
	return -EINVAL;
}

void audit_config_defaults(AuditConfig *a)
{
	*a = (AuditConfig){ .journal = true, .sync = AUDIT_SYNC_ALWAYS };
}

void audit_config_done(AuditConfig *a)
{
	free(a->file);
	a->file = NULL;
	free(a->head_file);
	a->head_file = NULL;
}
