/* SPDX-License-Identifier: MIT */
#include "claim-rules.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "name-table.h"

static const char *const profile_names[] = {
	[PROFILE_ZUMO_V2] = "zumo-v2",
	[PROFILE_STANDARD] = "standard",
};

const char *profile_to_string(Profile p)
{
	return name_table_get(profile_names, ELEMENTSOF(profile_names), (size_t)p);
}

int profile_from_string(const char *s, Profile *ret)
{
	int i = name_table_find(profile_names, ELEMENTSOF(profile_names), s);

	if (i < 0)
		return i;
	*ret = (Profile)i;
	return 0;
}

void claim_limits_init(ClaimLimits *l)
{
	*l = (ClaimLimits){
		.max_extra = CLAIMS_DEFAULT_MAX_EXTRA,
		.max_name = CLAIMS_DEFAULT_MAX_NAME,
		.max_value = CLAIMS_DEFAULT_MAX_VALUE,
		.max_payload = CLAIMS_DEFAULT_MAX_PAYLOAD,
	};
}
