/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/*
 * A protobuf-c allocator that wipes every block it frees: decoded requests
 * hold access tokens, decoded responses hold JWTs. Both sides use it.
 */
extern ProtobufCAllocator proto_wiping_allocator;

/*
 * Decoding a sign request allocates about six blocks (the messages, each
 * string) and freeing it walks them all again. A ProtoArena hands out
 * pieces of one block its owner provides, and lends from
 * proto_wiping_allocator only when that is full; done, it wipes what it
 * handed out. Enough for a request with a few extra claims.
 */
#define PROTO_ARENA_SIZE 1024

typedef struct ProtoArena {
	ProtobufCAllocator allocator; /* what protobuf-c is given */
	size_t used;
	bool spilled; /* a block came from the heap: free_unpacked() must run */
	alignas(max_align_t) unsigned char space[PROTO_ARENA_SIZE];
} ProtoArena;

void proto_arena_init(ProtoArena *a);
/*
 * Wipes what the arena handed out. A message with heap blocks (spilled) is
 * freed with free_unpacked() and a->allocator first; without, it need not be.
 */
void proto_arena_done(ProtoArena *a);
