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

const char *key_state_to_string(KeyState st)
{
	return name_table_get(state_names, ELEMENTSOF(state_names), (size_t)st);
}

int key_state_from_string(const char *s, KeyState *ret)
{
	int i = name_table_find(state_names, ELEMENTSOF(state_names), s);

	if (i < 0)
		return i;
	*ret = (KeyState)i;
	return 0;
}
