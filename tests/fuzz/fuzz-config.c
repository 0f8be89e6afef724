/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Config *c = NULL;
	char *error = NULL;
	FILE *f;

	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (config_load_file(f, "fuzz.conf", &c, &error) >= 0) {
		/* A config that loads is complete: every key has a uri, kid and issuer. */
		for (size_t i = 0; i < c->n_keys; i++)
			if (!c->keys[i].uri || !c->keys[i].issuer)
				__builtin_trap();
		(void)config_default_key(c);
		config_free(c);
	} else if (!error) {
		__builtin_trap(); /* every refusal says why */
	}
	free(error);
	fclose(f);
	return 0;
}
