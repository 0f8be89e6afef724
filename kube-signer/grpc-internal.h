/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by grpc-call.c (one gRPC call on an HTTP/2 stream) and grpc-conn.c
 * (connections, accept, shutdown). Nothing else includes this.
 */
#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include "buf.h"
#include "kube-signer.h"
#include "list.h"

#define GRPC_PREFIX 5
#define HEADER_LIST_MAX 8192 /* SETTINGS_MAX_HEADER_LIST_SIZE: kube sends a handful */
#define PATH_MAX_LEN 128
#define READ_CHUNK 16384
#define SHUTDOWN_GRACE_USEC (5 * 1000000ull) /* calls in flight get this long after GOAWAY */
/*
 * After our last frame (GOAWAY), the write side is shut and what the client
 * still sends is read and dropped for this long: closing at once would turn
 * its unread bytes into a reset that can overtake the GOAWAY, and a client
 * that sent a call just then would see "broken pipe" instead of a retry.
 */
#define LINGER_USEC (1000000ull)

typedef struct Conn Conn;

struct Call {
	ListNode node; /* in Conn.calls */
	Conn *conn;
	int32_t stream_id;
	char path[PATH_MAX_LEN + 1];
	bool path_too_long;
	bool post, grpc_content;
	int64_t timeout_usec; /* -1: none given */
	Buf body;
	bool oversized; /* the message outgrew max-message: discarded, answered once */
	bool answered;	/* the response is submitted */
	uint64_t upstream_id;
	sd_event_source *deadline;
	/* The response message, framed, sent by the data provider. */
	Buf reply;
	size_t reply_off;
};

struct Conn {
	ListNode node; /* in Server.conns */
	Server *server;
	int fd;
	nghttp2_session *h2;
	sd_event_source *io, *timer;
	bool got_settings;
	bool lingering; /* HTTP/2 is over: draining until EOF or LINGER_USEC */
	uint8_t *pending; /* bytes nghttp2 gave us that the socket did not take yet */
	size_t pending_len;
	ListNode calls;
	size_t n_calls;
	uid_t uid;
	pid_t pid;
};

struct Server {
	sd_event *event;
	const KsConfig *config;
	Upstream *upstream;
	int listen_fd;
	sd_event_source *listen_src, *grace;
	ListNode conns;
	size_t n_conns;
	bool shutting_down;
	void (*shut_done)(void *);
	void *shut_userdata;
	KeySetClock clock;
};

/* grpc-call.c */
void call_free(Call *call);
/* The callbacks that make a session speak gRPC. */
void grpc_set_callbacks(nghttp2_session_callbacks *cb);

/* grpc-conn.c: a response was submitted; write it from the loop. */
void conn_kick(Conn *c);
