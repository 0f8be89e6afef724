/* SPDX-License-Identifier: MIT */
/*
 * Unknown protobuf fields in a request that waits for the token are dropped
 * first. protobuf-c keeps them (a newer client's fields, or padding), and a
 * queued request would hold them: measured on main before this (issue 16),
 * 100 connections x 64 requests with ~60 KiB of unknown fields each took
 * the daemon from 11 MB to 370 MB. Dropped, not refused: an older daemon
 * must keep serving a newer client (hsmjwt.proto: new fields only).
 */
#include "request.h"

#include <protobuf-c/protobuf-c.h>

static void drop_unknown(ProtobufCMessage *m, ProtobufCAllocator *a, unsigned depth);

static void drop_in_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			  ProtobufCAllocator *a, unsigned depth)
{
	char *base = (char *)m;

	if (f->type != PROTOBUF_C_TYPE_MESSAGE)
		return;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(size_t *)(base + f->quantifier_offset);
		ProtobufCMessage **v = *(ProtobufCMessage ***)(base + f->offset);

		for (size_t i = 0; v && i < n; i++)
			drop_unknown(v[i], a, depth + 1);
		return;
	}
	/* A oneof member's pointer means something only when its case is set. */
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(uint32_t *)(base + f->quantifier_offset) != f->id)
		return;
	drop_unknown(*(ProtobufCMessage **)(base + f->offset), a, depth + 1);
}

static void drop_unknown(ProtobufCMessage *m, ProtobufCAllocator *a, unsigned depth)
{
	/* The request's messages nest three deep; protobuf-c bounds recursion too. */
	if (!m || depth > 16)
		return;
	for (size_t i = 0; i < m->n_unknown_fields; i++)
		a->free(a->allocator_data, m->unknown_fields[i].data);
	if (m->unknown_fields)
		a->free(a->allocator_data, m->unknown_fields);
	m->unknown_fields = NULL;
	m->n_unknown_fields = 0;
	for (unsigned i = 0; i < m->descriptor->n_fields; i++)
		drop_in_field(m, &m->descriptor->fields[i], a, depth);
}

void request_drop_unknown_fields(ProtobufCMessage *m, ProtobufCAllocator *a)
{
	drop_unknown(m, a, 0);
}
