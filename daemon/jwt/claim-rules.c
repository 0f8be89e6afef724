/* SPDX-License-Identifier: MIT */
#include "claim-rules.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

static const char *const profile_names[] = {
	[PROFILE_ZUMO_V2] = "zumo-v2",
	[PROFILE_STANDARD] = "standard",
};

const char *profile_to_string(Profile p)
{
	return (size_t)p < ELEMENTSOF(profile_names) ? profile_names[p] : NULL;
}

int profile_from_string(const char *s, Profile *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(profile_names); i++)
		if (strcmp(profile_names[i], s) == 0)
			return *ret = (Profile)i, 0;
	return -EINVAL;
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
