/* SPDX-License-Identifier: MIT */
#include "wipe-alloc.h"

#include <malloc.h>
#include <stdint.h>
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

static bool in_arena(const ProtoArena *a, const void *p)
{
	uintptr_t start = (uintptr_t)a->space;

	return (uintptr_t)p >= start && (uintptr_t)p < start + sizeof(a->space);
}

static void *arena_alloc(void *data, size_t size)
{
	ProtoArena *a = data;
	size_t left = sizeof(a->space) - a->used;
	/* Every piece aligned as malloc's are: protobuf-c puts any type in it. */
	size_t piece = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	void *p;

	if (size > left || piece > left) {
		a->spilled = true;
		return wiping_alloc(NULL, size);
	}
	p = a->space + a->used;
	a->used += piece;
	return p;
}

static void arena_free(void *data, void *p)
{
	if (!in_arena(data, p))
		wiping_free(NULL, p);
}

void proto_arena_init(ProtoArena *a)
{
	a->allocator = (ProtobufCAllocator){
		.alloc = arena_alloc,
		.free = arena_free,
		.allocator_data = a,
	};
	a->used = 0;
	a->spilled = false;
}

void proto_arena_done(ProtoArena *a)
{
	explicit_bzero(a->space, a->used);
	a->used = 0;
}
