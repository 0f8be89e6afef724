/* SPDX-License-Identifier: MIT */
#include "wipe-alloc.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static void *wiping_alloc(void *data, size_t size)
{
	(void)data;
	return malloc(size);
}

static void wiping_free(void *data, void *p)
{
	(void)data;
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

ProtobufCAllocator proto_wiping_allocator = { .alloc = wiping_alloc, .free = wiping_free };
