/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The server and its connections. Each concern has one owner:
 * - server.c: the loop, signals, the listening socket, status, idle exit,
 *   heap trim, and the list of open connections;
 * - connection.c: one client's socket, frames, replies and timeouts;
 * - audit-gate.c: replies held until their audit records are durable;
 * - inflight.c (and recovery.c): requests at the token, the signing
 *   threads, request timeouts, reopening a failed token.
 * Nothing outside this folder includes this.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "audit-gate.h"
#include "buf.h"
#include "inflight.h"
#include "list.h"
#include "peer-table.h"
#include "peer.h"
#include "service.h"

/* Read in chunks of this size; a frame may span several reads. */
#define READ_CHUNK (16u * 1024u)
/*
 * A connection with nothing pending gives back buffers bigger than this (a
 * burst of pipelined requests or replies); smaller ones stay for its next
 * request, so an unpipelined client allocates nothing per request.
 */
#define CONNECTION_BUF_KEEP 4096u
/*
 * Replies waiting for a client that does not read: past this, the connection
 * stops being read (back-pressure) until the client catches up.
 */
#define OUTPUT_HIGH_WATER (256u * 1024u)
/* Sent replies are dropped from the front of the buffer once they are this many bytes (or more). */
#define OUTPUT_COMPACT_MIN (16u * 1024u)
/* Requests one connection may have waiting for the token; then it is not read (back-pressure). */
#define INFLIGHT_PER_CONNECTION 64u

/* What the connections share; server.c sets it up and tears it down. */
typedef struct Server {
	sd_event *event;
	Service *service;
	ListNode connections; /* Connection.link: all open ones, to free them at exit */
	unsigned n_connections;
	uint32_t max_frame;
	uint64_t read_timeout_usec, write_timeout_usec, idle_timeout_usec;
	uint64_t last_activity_usec; /* a connection opened or closed (loop's cached clock) */
	uint64_t n_requests;	     /* frames answered or handed on, for the heap trim */
	Buf scratch;		     /* the token text of the request being answered */
	AuditGate gate;
	Inflight inflight;
	PeerTable peers; /* what each uid holds (peer-table.h) */
} Server;

typedef struct Connection {
	ListNode link; /* on Server.connections */
	Server *server;
	int fd;
	sd_event_source *source;
	Peer peer;
	PeerSlot *slot; /* its uid's, in Server.peers */
	Buf in;
	Buf out;
	size_t out_sent;
	AuditHold hold;	       /* how much of out may leave (audit-gate.h) */
	InflightClient client; /* its requests at the token (inflight.h) */
	bool eof;    /* the peer sent all it will: answer what came, then close */
	bool broken; /* a bad frame or a failure: flush what is queued, then close */
	bool dead;   /* closed while requests were in flight: freed when they end */
	uint64_t last_progress_usec; /* a byte read or sent (loop's cached clock) */
	uint64_t frame_started_usec; /* an incomplete frame is buffered since; 0: none */
} Connection;

/* connection.c */
/* Takes fd and peer, and counts itself in slot; on failure both are closed. */
int connection_new(Server *s, int fd, const Peer *peer, PeerSlot *slot);
Connection *connection_free(Connection *c);
/* Closes c if it broke one of its time limits (read-, write-, idle-timeout). */
void connection_sweep(Connection *c, uint64_t now);
/* The audit gate let c's replies go (ok < 0: it could not withhold them; c goes). */
void connection_released(AuditHold *h, int ok);
