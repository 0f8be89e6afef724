/* SPDX-License-Identifier: MIT */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/*
 * protobuf-c hands string fields over as NUL-terminated C strings, so a
 * U+0000 inside one would silently cut the string short. This walks the
 * wire bytes of an already successfully unpacked message, guided by its
 * descriptor, and returns -EILSEQ (with the field's name) when any string
 * field, at any depth, holds a NUL byte; 0 otherwise.
 */
int proto_find_nul_in_strings(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t n,
			      const char **ret_field);
