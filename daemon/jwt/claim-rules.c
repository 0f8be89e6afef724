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

NAME_TABLE_FUNCTIONS(profile, Profile, profile_names)

void claim_limits_init(ClaimLimits *l)
{
	*l = (ClaimLimits){
		.max_extra = CLAIMS_DEFAULT_MAX_EXTRA,
		.max_name = CLAIMS_DEFAULT_MAX_NAME,
		.max_value = CLAIMS_DEFAULT_MAX_VALUE,
		.max_payload = CLAIMS_DEFAULT_MAX_PAYLOAD,
	};
}
