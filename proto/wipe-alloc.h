/* SPDX-License-Identifier: MIT */
#pragma once

#include <protobuf-c/protobuf-c.h>

/*
 * A protobuf-c allocator that wipes every block it frees: decoded requests
 * hold access tokens, decoded responses hold tokens. Both sides use it.
 */
extern ProtobufCAllocator proto_wiping_allocator;
