/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "peer.h"
#include "service.h"

/*
 * The protocol layer: decodes one Request frame payload, dispatches with one
 * switch, and appends exactly one Response frame (header included) to out.
 * scratch is reused between requests to hold the token text.
 */
int request_handle(Service *s, const Peer *peer, const uint8_t *payload, size_t n, Buf *scratch,
		   Buf *out);

/* Appends the TOO_LARGE error frame sent before closing on an over-long frame. */
int request_reply_too_large(uint32_t announced, uint32_t max, Buf *out);

/*
 * The audit sync covering out[from..) failed: replaces every sign response
 * there with an UNAVAILABLE error carrying message (same id), so no token
 * leaves without its durable record; other responses stay as they are. The
 * replaced bytes are wiped.
 */
int request_withhold_tokens(Buf *out, size_t from, const char *message);
