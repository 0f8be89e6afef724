/* SPDX-License-Identifier: MIT */
#include "jansson-wipe.h"

#include <jansson.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void wiping_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

void jansson_use_wiping_allocator(void)
{
	static bool done;

	if (!done) {
		json_set_alloc_funcs(malloc, wiping_free);
		done = true;
	}
}
