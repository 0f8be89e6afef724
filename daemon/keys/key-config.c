/* SPDX-License-Identifier: MIT */
#include "key-config.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "name-table.h"

static const char *const state_names[] = {
	[KEY_STATE_ACTIVE] = "active",
	[KEY_STATE_PUBLISHED] = "published",
	[KEY_STATE_RETIRED] = "retired",
};

static const char *const kid_format_names[] = {
	[KID_FORMAT_THUMBPRINT] = "thumbprint",
	[KID_FORMAT_SPKI_SHA256] = "spki-sha256",
};

NAME_TABLE_FUNCTIONS(key_state, KeyState, state_names)
NAME_TABLE_FUNCTIONS(kid_format, KidFormat, kid_format_names)
