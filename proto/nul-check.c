/* SPDX-License-Identifier: MIT */
#include "nul-check.h"

#include <errno.h>
#include <string.h>

/* Protobuf nests at most this deep here; deeper input is refused, not recursed into. */
#define MAX_DEPTH 8

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static int walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
		unsigned depth, const char **ret_field)
{
	if (depth > MAX_DEPTH)
		return -EBADMSG;
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, len;
		int r;

		r = read_varint(&p, end, &key);
		if (r < 0)
			return r;
		switch (key & 7) {
		case 0: /* varint */
			r = read_varint(&p, end, &len);
			if (r < 0)
				return r;
			continue;
		case 1: /* 64-bit */
			if (end - p < 8)
				return -EBADMSG;
			p += 8;
			continue;
		case 5: /* 32-bit */
			if (end - p < 4)
				return -EBADMSG;
			p += 4;
			continue;
		case 2:
			break;
		default:
			return -EBADMSG;
		}
		r = read_varint(&p, end, &len);
		if (r < 0 || len > (uint64_t)(end - p))
			return -EBADMSG;
		f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
		if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, '\0', len)) {
			*ret_field = f->name;
			return -EILSEQ;
		}
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
			r = walk(f->descriptor, p, p + len, depth + 1, ret_field);
			if (r < 0)
				return r;
		}
		p += len;
	}
	return 0;
}

int proto_find_nul_in_strings(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t n,
			      const char **ret_field)
{
	return walk(d, data, data + n, 0, ret_field);
}
