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

const char *audit_sync_to_string(AuditSync s)
{
	return name_table_get(sync_names, ELEMENTSOF(sync_names), (size_t)s);
}

int audit_sync_from_string(const char *s, AuditSync *ret)
{
	int i = name_table_find(sync_names, ELEMENTSOF(sync_names), s);

	if (i < 0)
		return i;
	*ret = (AuditSync)i;
	return 0;
}

void audit_config_defaults(AuditConfig *a)
{
	*a = (AuditConfig){ .journal = true, .sync = AUDIT_SYNC_ALWAYS };
}

void audit_config_done(AuditConfig *a)
{
	free(a->file);
	a->file = NULL;
}
