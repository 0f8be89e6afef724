/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "list.h"
#include "peer.h"
#include "service.h"
#include "workers.h"

typedef struct Hsmjwt__V1__Request Hsmjwt__V1__Request;

/*
 * A sign or verify request waiting for the token. The in-flight queue
 * (inflight.h) owns it: it hands p->job to the workers and keeps it in its
 * queue; its client (the connection) calls request_complete() (or
 * request_time_out() / request_abandon()) when the queue hands the answer
 * over, and the queue calls pending_free(), all on the loop thread.
 */
typedef struct Pending Pending;
struct Pending {
	Job job; /* first member: the workers see only this */
	ListNode link; /* the in-flight queue or its orphans (inflight.c) */
	ListNode wait; /* its uid's requests waiting for a thread (inflight.c) */
	struct InflightClient *client; /* who asked (inflight.c) */
	uint64_t submitted_usec;
	bool dispatched; /* handed to the threads */
	bool timed_out;
	/* Below: request.c's. */
	Service *service;
	const Peer *peer; /* the connection's; the server keeps it alive until pending_free() */
	Hsmjwt__V1__Request *req;
	uint64_t id;
	bool is_sign;
	SignInput in;
	ExtraClaim *extras;
	Span *items;
	SignWork sign;
	VerifyWork verify;
};

/*
 * The protocol layer: decodes one Request frame payload and dispatches with
 * one switch. Either it appends exactly one Response frame (header
 * included) to out, or, for a request the token must answer, it returns
 * the Pending in *ret_pending and appends nothing yet. scratch is reused
 * between requests to hold the JWT text.
 */
int request_handle(Service *s, const Peer *peer, const uint8_t *payload, size_t n, Buf *scratch,
		   Buf *out, Pending **ret_pending);
/* The token answered: records the outcome and appends the response. */
int request_complete(Pending *p, Buf *scratch, Buf *out);
/* The token did not answer in time: records it and appends an UNAVAILABLE error. */
int request_time_out(Pending *p, unsigned timeout_sec, Buf *out);
/* p is not going to the token after all (rule: why): records it, appends UNAVAILABLE (out NULL: no reply). */
int request_turn_away(Pending *p, const char *rule, const char *msg, Buf *out);
/* The client went away first: records that its JWT, if any, never left. */
void request_abandon(Pending *p);
/* The token call's -errno (0 when the token answered, valid or not). */
int request_token_result(const Pending *p);
void pending_free(Pending *p);
/* request-trim.c: frees m's unknown fields, nested messages' included (a is m's allocator). */
typedef struct ProtobufCMessage ProtobufCMessage;
typedef struct ProtobufCAllocator ProtobufCAllocator;
void request_drop_unknown_fields(ProtobufCMessage *m, ProtobufCAllocator *a);
static inline void pending_freep(Pending **p)
{
	pending_free(*p);
}

/* Appends the TOO_LARGE error frame sent before closing on an over-long frame. */
int request_reply_too_large(uint32_t announced, uint32_t max, Buf *out);

/*
 * The audit sync covering out[from..) failed: replaces every sign response
 * there with an UNAVAILABLE error carrying message (same id), so no JWT
 * leaves without its durable record; other responses stay as they are. The
 * replaced bytes are wiped.
 */
int request_withhold_jwts(Buf *out, size_t from, const char *message);
