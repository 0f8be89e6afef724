/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What server.c (the loop, signals, status), connection.c (sockets, frames,
 * timeouts, the audit hold) and inflight.c (requests waiting for the token,
 * the signing threads, token recovery) share. Nothing else includes this.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "audit.h"
#include "buf.h"
#include "peer.h"
#include "request.h"
#include "service.h"
#include "workers.h"

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

/*
 * Group commit of the audit trail (sync = always): a token may leave only
 * once its audit record is durable, and one fdatasync() should cover as many
 * records as possible. So:
 * - request handlers write their records at once (write(2), cheap) and
 *   append their replies to the connection's out buffer as before;
 * - while the audit has records no sync covered yet, the bytes appended are
 *   held back: only out[0..out_ready) is sent, and the connection is marked
 *   held;
 * - a post event source, which sd-event dispatches after the other sources
 *   that were pending in this loop iteration, marks how far each held
 *   connection's replies go (out_durable = out.len: their records are all
 *   written) and hands the sync to the audit's thread (audit_commit_start);
 * - the loop goes on meanwhile: more requests are read, decided, signed and
 *   recorded, and their replies are appended behind the mark;
 * - when the sync ends, on_audit_committed() moves each held connection's
 *   out_ready to its mark, and the post source starts the next sync for what
 *   was written since. If the sync failed, each held sign response is first
 *   replaced by an UNAVAILABLE "audit trail" error with the same id
 *   (request_withhold_tokens), all of them, marked or not, so the tokens
 *   never leave.
 * Without a sync thread (or when a lifecycle record's own sync covered
 * everything) the post source commits synchronously and releases all. With
 * sync = batch or none nothing is ever held.
 */

typedef struct Server {
	sd_event *event;
	Service *service;
	int listen_fd;
	unsigned n_connections;
	unsigned max_connections;
	uint32_t max_frame;
	Buf scratch;
	struct Connection *connections; /* all open ones, to free them at exit */
	Audit *audit;
	struct Connection *held; /* connections whose replies wait for the audit commit */
	unsigned n_held;
	sd_event_source *listen_source;
	uint64_t exit_idle_usec;      /* 0: never exit for idleness */
	uint64_t last_activity_usec; /* CLOCK_MONOTONIC, from the loop's cached clock */
	char last_status[256];
	/* Requests waiting for the token, oldest first: they share one timeout. */
	Workers *workers;
	sd_event_source *workers_source, *timeout_source;
	Pending *inflight_head, *inflight_tail;
	Pending *orphans; /* timed out, still with a worker; linked by next */
	uint64_t request_timeout_usec;
	sd_event_source *recover_source; /* reopens a failed token, with backoff */
	uint64_t read_timeout_usec, write_timeout_usec, idle_timeout_usec;
	uint64_t recover_backoff_usec;
	unsigned n_sessions;
	uint64_t n_requests; /* frames answered or handed on, for trim_heap_when_quiet() */
	uint64_t requests_at_last_tick;
	unsigned quiet_ticks;
	bool heap_trimmed;
} Server;

typedef struct Connection {
	struct Connection *prev, *next;
	Server *server;
	int fd;
	sd_event_source *source;
	Peer peer;
	Buf in;
	Buf out;
	size_t out_sent;
	size_t out_ready; /* out[0..out_ready) may leave; the rest waits for the audit commit */
	size_t out_durable; /* held: out[..out_durable) is covered by the running sync */
	bool held;
	struct Connection *held_prev, *held_next;
	bool eof;    /* the peer sent all it will: answer what came, then close */
	bool broken; /* a bad frame or a failure: flush what is queued, then close */
	unsigned inflight; /* requests of this connection waiting for the token */
	uint64_t last_progress_usec; /* a byte read or sent (loop's cached clock) */
	uint64_t frame_started_usec; /* an incomplete frame is buffered since; 0: none */
	bool dead;	   /* closed while requests were in flight: freed when they end */
	struct Connection *touched_next; /* completions to serve, see on_workers_done() */
	bool touched;
} Connection;

/* Housekeeping ticks (seconds) without a request before the heap is trimmed. */
#define TRIM_AFTER_QUIET_TICKS 5u

#define RECOVER_FIRST_USEC (100ull * 1000ull)
#define RECOVER_MAX_USEC (5ull * 1000000ull)

/* connection.c */
Connection *connection_free(Connection *c);
void connection_serve(Connection *c);
int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata);
int on_audit_commit(sd_event_source *src, void *userdata);
void on_audit_committed(void *userdata, int r);
void sweep_connections(Server *s, uint64_t now);

/* inflight.c */
void submit(Server *s, Connection *c, Pending *p);
void schedule_recovery(Server *s, uint64_t delay_usec);
int start_workers(Server *s);
void stop_workers(Server *s);
int on_recover(sd_event_source *src, uint64_t usec, void *userdata);
void drop_all_pending(Server *s);
int on_workers_done(sd_event_source *src, int fd, uint32_t revents, void *userdata);
int on_request_timeout(sd_event_source *src, uint64_t usec, void *userdata);

/* server.c */
void update_status(Server *s);
