/* SPDX-License-Identifier: MIT */
/*
 * One gRPC call on one HTTP/2 stream (grpc/doc/PROTOCOL-HTTP2.md): the
 * request's headers (:path, :method, content-type, grpc-timeout), its one
 * length-prefixed message, the deadline, and the answer: headers, the
 * message and trailers, or an error as Trailers-Only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc-internal.h"
#include "log.h"

uint32_t call_stream_id(const Call *call)
{
	return (uint32_t)call->stream_id;
}

void call_set_waiting(Call *call, uint64_t upstream_id)
{
	call->upstream_id = upstream_id;
}

/* The daemon's answer, when it comes, is dropped; the method's context is freed now. */
static void cancel_upstream(Call *call)
{
	uint64_t id = call->upstream_id;

	call->upstream_id = 0;
	if (id)
		upstream_cancel(call->conn->server->upstream, id);
}

void call_free(Call *call)
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

void grpc_set_callbacks(nghttp2_session_callbacks *cb)
{
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
}
