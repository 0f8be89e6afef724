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

NAME_TABLE_FUNCTIONS(key_state, KeyState, state_names)
