/* SPDX-License-Identifier: MIT */
#include "key-config.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

static const char *const state_names[] = {
	[KEY_STATE_ACTIVE] = "active",
	[KEY_STATE_PUBLISHED] = "published",
	[KEY_STATE_RETIRED] = "retired",
};

static const char *const kid_format_names[] = {
	[KID_FORMAT_THUMBPRINT] = "thumbprint",
	[KID_FORMAT_SPKI_SHA256] = "spki-sha256",
};

const char *kid_format_to_string(KidFormat f)
{
	return (size_t)f < ELEMENTSOF(kid_format_names) ? kid_format_names[f] : NULL;
}

const char *key_state_to_string(KeyState st)
{
	return (size_t)st < ELEMENTSOF(state_names) ? state_names[st] : NULL;
}

int key_state_from_string(const char *s, KeyState *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(state_names); i++)
		if (strcmp(state_names[i], s) == 0)
			return *ret = (KeyState)i, 0;
	return -EINVAL;
}
