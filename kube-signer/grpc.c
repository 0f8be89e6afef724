/* SPDX-License-Identifier: MIT */
/*
 * gRPC over HTTP/2, server side, unary calls only: what kube-apiserver's
 * grpc-go client needs and nothing more. nghttp2 does HTTP/2 (framing,
 * HPACK, flow control, stream states, its own flood protections); this file
 * does gRPC's part (grpc/doc/PROTOCOL-HTTP2.md): the 5-byte message prefix,
 * :path routing, grpc-timeout, responses of headers, one message and
 * trailers, errors as Trailers-Only, GOAWAY when shutting down.
 *
 * Why nghttp2 and not gRPC C++: kube needs three unary methods; gRPC C++
 * would bring a C++ runtime, its own threads and event engine, Abseil and
 * protobuf C++ into a process that is meant to stay small enough to read.
 * nghttp2 is C, event-loop agnostic, in every distribution, and fuzzed.
 *
 * Every input is bounded: connections (max-connections), streams per
 * connection (max-streams, advertised in SETTINGS and enforced), bytes per
 * message (max-message), header list size, time to the first SETTINGS
 * (handshake-timeout), time per call (grpc-timeout or request-timeout) and
 * time idle (idle-timeout).
 */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "kube-signer.h"
#include "list.h"
#include "log.h"

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

const KsConfig *server_config(const Server *s)
{
	return s->config;
}

Upstream *server_upstream(Server *s)
{
	return s->upstream;
}

KeySetClock *server_key_clock(Server *s)
{
	return &s->clock;
}

uint32_t call_stream_id(const Call *call)
{
	return (uint32_t)call->stream_id;
}

void call_set_waiting(Call *call, uint64_t upstream_id)
{
	call->upstream_id = upstream_id;
}

static void conn_free(Conn *c);
static void conn_kick(Conn *c);

/* The daemon's answer, when it comes, is dropped; the method's context is freed now. */
static void cancel_upstream(Call *call)
{
	uint64_t id = call->upstream_id;

	call->upstream_id = 0;
	if (id)
		upstream_cancel(call->conn->server->upstream, id);
}

static void call_free(Call *call)
{
	cancel_upstream(call);
	sd_event_source_disable_unref(call->deadline);
	list_remove(&call->node);
	call->conn->n_calls--;
	buf_done(&call->body);
	buf_done(&call->reply);
	free(call);
}

/* ---- responses ---- */

#define NV(name, value) \
	{ (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, strlen(value), \
	  NGHTTP2_NV_FLAG_NO_COPY_NAME }

static ssize_t read_reply(nghttp2_session *h2, int32_t stream_id, uint8_t *out, size_t length,
			  uint32_t *data_flags, nghttp2_data_source *source, void *userdata)
{
	Call *call = source->ptr;
	size_t left = call->reply.len - call->reply_off;
	size_t n = left < length ? left : length;
	nghttp2_nv trailers[] = { NV("grpc-status", "0") };

	(void)userdata;
	memcpy(out, call->reply.data + call->reply_off, n);
	call->reply_off += n;
	if (call->reply_off == call->reply.len) {
		/* The trailers end the stream, not the last DATA frame. */
		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(h2, stream_id, trailers, ELEMENTSOF(trailers)) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

void call_reply(Call *call, const ProtobufCMessage *reply)
{
	size_t n = protobuf_c_message_get_packed_size(reply);
	nghttp2_nv headers[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	nghttp2_data_provider data = { .source.ptr = call, .read_callback = read_reply };
	uint8_t *p;

	if (call->answered)
		return;
	cancel_upstream(call);
	if (n > call->conn->server->config->max_message ||
	    buf_reserve(&call->reply, GRPC_PREFIX + n) < 0) {
		call_fail(call, GRPC_INTERNAL, "internal error");
		return;
	}
	p = (uint8_t *)call->reply.data;
	p[0] = 0; /* not compressed */
	p[1] = (uint8_t)(n >> 24);
	p[2] = (uint8_t)(n >> 16);
	p[3] = (uint8_t)(n >> 8);
	p[4] = (uint8_t)n;
	protobuf_c_message_pack(reply, p + GRPC_PREFIX);
	call->reply.len = GRPC_PREFIX + n;
	call->answered = true;
	call->deadline = sd_event_source_disable_unref(call->deadline);
	if (nghttp2_submit_response(call->conn->h2, call->stream_id, headers, ELEMENTSOF(headers),
				    &data) != 0)
		nghttp2_submit_rst_stream(call->conn->h2, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
	conn_kick(call->conn);
}

/* Trailers-Only: one HEADERS frame with the status, ending the stream. */
void call_fail(Call *call, int grpc_status, const char *message)
{
	char status[12] = "";
	nghttp2_nv headers[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-status", status),
		NV("grpc-message", message), /* generic, plain ASCII: no percent-encoding needed */
	};

	if (call->answered)
		return;
	cancel_upstream(call);
	call->answered = true;
	call->deadline = sd_event_source_disable_unref(call->deadline);
	snprintf(status, sizeof(status), "%d", grpc_status);
	headers[2].valuelen = strlen(status);
	if (nghttp2_submit_response(call->conn->h2, call->stream_id, headers, ELEMENTSOF(headers),
				    NULL) != 0)
		nghttp2_submit_rst_stream(call->conn->h2, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
	conn_kick(call->conn);
}

/* ---- requests ---- */

static int on_deadline(sd_event_source *src, uint64_t usec, void *userdata)
{
	Call *call = userdata;

	(void)src;
	(void)usec;
	call_fail(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	return 0;
}

/* grpc-timeout: 1 to 8 digits and a unit (H M S m u n), PROTOCOL-HTTP2.md. */
static int64_t parse_timeout(const uint8_t *v, size_t n)
{
	static const struct {
		char unit;
		int64_t usec_num, usec_den;
	} units[] = { { 'H', 3600000000ll, 1 }, { 'M', 60000000ll, 1 }, { 'S', 1000000, 1 },
		      { 'm', 1000, 1 },		{ 'u', 1, 1 },	      { 'n', 1, 1000 } };
	int64_t x = 0;

	if (n < 2 || n > 9)
		return -1;
	for (size_t i = 0; i + 1 < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (units[i].unit == v[n - 1])
			return x * units[i].usec_num / units[i].usec_den;
	return -1;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *userdata)
{
	Conn *c = userdata;
	Call *call;
	uint64_t usec;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* nghttp2 enforces max-streams once SETTINGS is acknowledged; this covers the time before. */
	if (c->n_calls >= c->server->config->max_streams || c->server->shutting_down) {
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
					  NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	call = calloc(1, sizeof(*call));
	if (!call)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	call->conn = c;
	call->stream_id = frame->hd.stream_id;
	call->timeout_usec = -1;
	list_init(&call->node);
	list_push_back(&c->calls, &call->node);
	c->n_calls++;
	/* The call's clock starts with its first header: a slow client cannot hold a stream open. */
	usec = c->server->config->request_timeout * 1000000ull;
	if (sd_event_add_time_relative(c->server->event, &call->deadline, CLOCK_MONOTONIC, usec,
				       1000, on_deadline, call) < 0) {
		call_free(call);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, call);
	/* A call keeps the connection from idling out. */
	sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
	return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *userdata)
{
	Call *call = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);

	(void)flags;
	(void)userdata;
	if (!call || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":path")) {
		call->path_too_long = valuelen > PATH_MAX_LEN;
		if (!call->path_too_long) {
			memcpy(call->path, value, valuelen);
			call->path[valuelen] = 0;
		}
	} else if (IS(":method")) {
		call->post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (IS("content-type")) {
		/* application/grpc, or application/grpc+proto and the like. */
		call->grpc_content = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
				     (valuelen == 16 || value[16] == '+' || value[16] == ';');
	} else if (IS("grpc-timeout")) {
		call->timeout_usec = parse_timeout(value, valuelen);
	}
#undef IS
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *userdata)
{
	Call *call = nghttp2_session_get_stream_user_data(h2, stream_id);
	uint32_t max;

	(void)flags;
	(void)userdata;
	if (!call || call->oversized || call->answered)
		return 0;
	max = call->conn->server->config->max_message;
	if (call->body.len + len > GRPC_PREFIX + (size_t)max) {
		/* Answered at once; what else the client sends is read and dropped. */
		call->oversized = true;
		buf_done(&call->body);
		call_fail(call, GRPC_RESOURCE_EXHAUSTED, "message too large");
		return 0;
	}
	buf_append(&call->body, data, len);
	return call->body.error ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static void call_start(Call *call)
{
	const uint8_t *p = (const uint8_t *)call->body.data;
	Method m;
	uint32_t n;

	if (call->answered)
		return;
	if (!call->post || !call->grpc_content)
		return call_fail(call, GRPC_UNIMPLEMENTED, "not a gRPC call");
	m = call->path_too_long ? METHOD_UNKNOWN : method_from_path(call->path);
	if (m == METHOD_UNKNOWN)
		return call_fail(call, GRPC_UNIMPLEMENTED, "unknown method");
	if (call->timeout_usec == 0)
		return call_fail(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	if (call->timeout_usec > 0)
		sd_event_source_set_time_relative(call->deadline, (uint64_t)call->timeout_usec);
	/* Unary: exactly one uncompressed message. */
	if (call->body.len < GRPC_PREFIX)
		return call_fail(call, GRPC_INVALID_ARGUMENT, "expected one request message");
	n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (p[0] != 0)
		return call_fail(call, GRPC_UNIMPLEMENTED, "compressed messages are not supported");
	if (call->body.len != GRPC_PREFIX + (size_t)n)
		return call_fail(call, GRPC_INVALID_ARGUMENT, "expected one request message");
	method_start(call->conn->server, call, m, p + GRPC_PREFIX, n);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *userdata)
{
	Conn *c = userdata;
	Call *call;

	if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
	    !c->got_settings) {
		c->got_settings = true;
		/* The handshake is done: from now on the timer counts idleness. */
		sd_event_source_set_time_relative(c->timer,
						  c->server->config->idle_timeout * 1000000ull);
		sd_event_source_set_enabled(c->timer, c->n_calls ? SD_EVENT_OFF : SD_EVENT_ONESHOT);
	}
	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	call = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (call)
		call_start(call);
	return 0;
}

/*
 * A response ended the stream from our side while the client's side is
 * still open (a deadline, an oversized message): RST_STREAM NO_ERROR tells
 * it to stop sending (RFC 9113, 8.1), and frees the stream now.
 */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *userdata)
{
	(void)userdata;
	if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    nghttp2_session_get_stream_remote_close(h2, frame->hd.stream_id) == 0)
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
					  NGHTTP2_NO_ERROR);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code,
			   void *userdata)
{
	Conn *c = userdata;
	Call *call = nghttp2_session_get_stream_user_data(h2, stream_id);

	(void)error_code;
	if (!call)
		return 0;
	/* A reset mid-call cancels the daemon call: its answer will be dropped. */
	call_free(call);
	if (!c->n_calls && c->got_settings) {
		sd_event_source_set_time_relative(c->timer,
						  c->server->config->idle_timeout * 1000000ull);
		sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
	}
	return 0;
}

/* ---- the connection ---- */

static void server_maybe_done(Server *s)
{
	if (s->shutting_down && s->n_conns == 0 && s->shut_done) {
		void (*done)(void *) = s->shut_done;

		s->shut_done = NULL;
		done(s->shut_userdata);
	}
}

static void conn_free(Conn *c)
{
	Server *s = c->server;
	ListNode *n;

	/* Calls first: they point back at the session. */
	while ((n = list_first(&c->calls)))
		call_free(list_entry(n, Call, node));
	nghttp2_session_del(c->h2);
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->timer);
	close(c->fd);
	free(c->pending);
	list_remove(&c->node);
	s->n_conns--;
	free(c);
	server_maybe_done(s);
}

/* Writes what nghttp2 has queued; 0 keeps going, < 0 means close. */
static int conn_send(Conn *c)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n, k;

		if (c->pending_len) {
			k = send(c->fd, c->pending, c->pending_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -errno;
			memmove(c->pending, c->pending + k, c->pending_len - (size_t)k);
			c->pending_len -= (size_t)k;
			if (c->pending_len)
				return 0;
		}
		n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			return 0;
		k = send(c->fd, data, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (k < 0)
			k = 0;
		if (k < n) {
			/* One chunk at most waits here: nghttp2 is not asked for more meanwhile. */
			uint8_t *p = realloc(c->pending, (size_t)(n - k));

			if (!p)
				return -ENOMEM;
			c->pending = p;
			memcpy(p, data + k, (size_t)(n - k));
			c->pending_len = (size_t)(n - k);
			return 0;
		}
	}
}

/* After anything changed: write, then close if neither side has more to say. */
static void conn_update(Conn *c)
{
	uint32_t events = 0;

	if (conn_send(c) < 0)
		return conn_free(c);
	if (nghttp2_session_want_read(c->h2))
		events |= EPOLLIN;
	if (c->pending_len || nghttp2_session_want_write(c->h2))
		events |= EPOLLOUT;
	if (!events) {
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		sd_event_source_set_io_events(c->io, EPOLLIN);
		sd_event_source_set_time_relative(c->timer, LINGER_USEC);
		sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
		return;
	}
	sd_event_source_set_io_events(c->io, events);
}

/*
 * A response submitted from a callback of the daemon's connection: written
 * from the loop's next turn (a defer would do; EPOLLOUT on a socket with
 * room fires at once and keeps one code path).
 */
static void conn_kick(Conn *c)
{
	if (!c->lingering)
		sd_event_source_set_io_events(c->io, EPOLLIN | EPOLLOUT);
}

static void conn_drain(Conn *c)
{
	uint8_t buf[READ_CHUNK];
	ssize_t k = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
		conn_free(c);
}

static int on_conn_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Conn *c = userdata;
	uint8_t buf[READ_CHUNK];

	(void)src;
	if (c->lingering) {
		conn_drain(c);
		return 0;
	}
	if (revents & EPOLLIN) {
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c);
			return 0;
		}
		/* A bad preface or a protocol error: nghttp2 queues GOAWAY, the update sends it. */
		if (k > 0 && nghttp2_session_mem_recv(c->h2, buf, (size_t)k) < 0) {
			log_info("Connection from pid %d uid %u: HTTP/2 protocol error; closing",
				 (int)c->pid, (unsigned)c->uid);
			nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
		}
	} else if (revents & (EPOLLHUP | EPOLLERR)) {
		conn_free(c);
		return 0;
	}
	conn_update(c);
	return 0;
}

static int on_conn_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	Conn *c = userdata;

	(void)src;
	(void)usec;
	if (c->lingering) {
		conn_free(c);
		return 0;
	}
	if (!c->got_settings)
		log_info("Connection from pid %d uid %u sent no SETTINGS in time; closing",
			 (int)c->pid, (unsigned)c->uid);
	/* Idle (or a slow handshake): GOAWAY, then the close once it is written. */
	nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
	conn_update(c);
	return 0;
}

static bool peer_allowed(const KsConfig *cfg, int fd, struct ucred *cred)
{
	gid_t groups[64];
	socklen_t len = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return false;
	for (size_t i = 0; i < cfg->n_allow_uids; i++)
		if (cfg->allow_uids[i] == cred->uid)
			return true;
	len = sizeof(groups);
	/* The primary group, then the supplementary ones as they were at connect(). */
	for (size_t i = 0; i < cfg->n_allow_gids; i++)
		if (cfg->allow_gids[i] == cred->gid)
			return true;
	if (!cfg->n_allow_gids || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t g = 0; g < len / sizeof(gid_t); g++)
		for (size_t i = 0; i < cfg->n_allow_gids; i++)
			if (cfg->allow_gids[i] == groups[g])
				return true;
	return false;
}

static int conn_new(Server *s, int fd, const struct ucred *cred)
{
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry settings[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->config->max_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HEADER_LIST_MAX },
	};
	Conn *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->server = s;
	c->fd = fd;
	c->uid = cred->uid;
	c->pid = cred->pid;
	list_init(&c->calls);
	list_init(&c->node);
	list_push_back(&s->conns, &c->node);
	s->n_conns++;
	if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_option_set_max_send_header_block_length(opt, HEADER_LIST_MAX);
	if (nghttp2_session_server_new2(&c->h2, cb, c, opt) != 0)
		goto fail;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, settings, ELEMENTSOF(settings)) != 0)
		goto fail;
	r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN | EPOLLOUT, on_conn_io, c);
	if (r >= 0)
		r = sd_event_add_time_relative(s->event, &c->timer, CLOCK_MONOTONIC,
					       s->config->handshake_timeout * 1000000ull, 1000,
					       on_conn_timer, c);
	if (r < 0)
		goto fail;
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	return 0;
fail:
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	conn_free(c);
	return r;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Server *s = userdata;
	struct ucred cred = {};
	int cfd;

	(void)src;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	/* Identity first, before a byte is read (the socket's mode is not the only gate). */
	if (!peer_allowed(s->config, cfd, &cred)) {
		log_warning("Refused a connection from pid %d uid %u gid %u: not in allow-uids or "
			    "allow-gids", (int)cred.pid, (unsigned)cred.uid, (unsigned)cred.gid);
		close(cfd);
		return 0;
	}
	if (s->n_conns >= s->config->max_connections) {
		log_warning("Refused a connection from pid %d uid %u: max-connections (%u) reached",
			    (int)cred.pid, (unsigned)cred.uid, s->config->max_connections);
		close(cfd);
		return 0;
	}
	if (conn_new(s, cfd, &cred) < 0)
		log_error("Cannot set up a connection: out of memory");
	return 0;
}

int server_new(sd_event *e, const KsConfig *config, Upstream *up, int listen_fd, Server **ret)
{
	Server *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->event = sd_event_ref(e);
	s->config = config;
	s->upstream = up;
	s->listen_fd = listen_fd;
	list_init(&s->conns);
	r = sd_event_add_io(e, &s->listen_src, listen_fd, EPOLLIN, on_accept, s);
	if (r < 0) {
		server_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

Server *server_free(Server *s)
{
	ListNode *n;

	if (!s)
		return NULL;
	s->shut_done = NULL;
	while ((n = list_first(&s->conns)))
		conn_free(list_entry(n, Conn, node));
	sd_event_source_disable_unref(s->listen_src);
	sd_event_source_disable_unref(s->grace);
	sd_event_unref(s->event);
	free(s);
	return NULL;
}

static int on_grace_over(sd_event_source *src, uint64_t usec, void *userdata)
{
	Server *s = userdata;
	ListNode *n;

	(void)src;
	(void)usec;
	log_info("Shutdown: %zu connections still open after the grace period; closing them",
		 s->n_conns);
	while ((n = list_first(&s->conns)))
		conn_free(list_entry(n, Conn, node));
	server_maybe_done(s);
	return 0;
}

void server_shut_down(Server *s, void (*done)(void *userdata), void *userdata)
{
	if (s->shutting_down)
		return;
	s->shutting_down = true;
	s->shut_done = done;
	s->shut_userdata = userdata;
	s->listen_src = sd_event_source_disable_unref(s->listen_src);
	/* GOAWAY naming the last stream taken: those run to the end, later ones are refused. */
	for (ListNode *n = s->conns.next, *next; n != &s->conns; n = next) {
		Conn *c = list_entry(n, Conn, node);

		next = n->next;
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
		conn_update(c);
	}
	if (sd_event_add_time_relative(s->event, &s->grace, CLOCK_MONOTONIC, SHUTDOWN_GRACE_USEC,
				       1000, on_grace_over, s) < 0)
		on_grace_over(NULL, 0, s);
	server_maybe_done(s);
}
