/* SPDX-License-Identifier: MIT */
/* The [audit] section of hsmjwtd.conf. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"

const char *audit_config_set(AuditConfig *a, const char *name, const char *value)
{
	static const char *const options[] = { "file", "journal", "sync", "verify" };
	static const char *const verify_names[] = {
		[AUDIT_VERIFY_ALL] = "all",
		[AUDIT_VERIFY_FAILURES] = "failures",
		[AUDIT_VERIFY_NONE] = "none",
	};
	unsigned bit = 0;

	for (size_t i = 0; i < ELEMENTSOF(options); i++)
		if (strcmp(name, options[i]) == 0)
			bit = 1u << i;
	if (!bit)
		return "unknown option in [audit] (known: file, journal, sync, verify)";
	if (a->seen & bit)
		return "option given twice in [audit]";
	a->seen |= bit;

	if (bit == 1u << 0) {
		/* Empty: no file sink (the journal must then be on). */
		if (*value && *value != '/')
			return "[audit] file must be an absolute path, or empty for none";
		if (*value && !(a->file = strdup(value)))
			return "out of memory";
		return NULL;
	}
	if (bit == 1u << 1)
		return config_parse_bool(value, &a->journal) < 0 ? "[audit] journal must be yes or no"
								  : NULL;
	if (bit == 1u << 3) {
		for (size_t i = 0; i < ELEMENTSOF(verify_names); i++)
			if (strcmp(value, verify_names[i]) == 0) {
				a->verify = (AuditVerify)i;
				return NULL;
			}
		return "[audit] verify must be all, failures or none";
	}
	if (audit_sync_from_string(value, &a->sync) < 0)
		return "[audit] sync must be always, batch or none";
	return NULL;
}
