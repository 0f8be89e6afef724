/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "hsmjwt-build.h"
#include "client-internal.h"
#include "frame.h"
#include "secret.h"
#include "wipe-alloc.h"


_public_ const char *hsmjwt_default_socket(void)
{
	const char *e = secure_getenv("HSMJWT_SOCKET");

	return e && *e ? e : HSMJWT_DEFAULT_SOCKET;
}

static int open_socket(const char *socket_path, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(socket_path);

	if (n == 0 || n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, socket_path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

_public_ int hsmjwt_client_connect(const char *socket_path, hsmjwt_client **ret)
{
	_cleanup_close_ int fd = -EBADF;
	hsmjwt_client *c;
	int r;

	if (!ret)
		return -EINVAL;
	if (!socket_path)
		socket_path = hsmjwt_default_socket();
	r = open_socket(socket_path, &fd);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->socket_path = strdup(socket_path);
	if (!c->socket_path) {
		free(c);
		return -ENOMEM;
	}
	c->fd = TAKE_FD(fd);
	c->next_id = 1;
	c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
	*ret = c;
	return 0;
}

_public_ hsmjwt_client *hsmjwt_client_free(hsmjwt_client *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		close(c->fd);
	client_pipeline_free(c->pipeline);
	free(c->socket_path);
	free(c);
	return NULL;
}

_public_ int hsmjwt_client_set_timeout(hsmjwt_client *c, uint32_t timeout_ms)
{
	if (!c)
		return -EINVAL;
	c->timeout_ms = timeout_ms;
	return 0;
}

_public_ const char *hsmjwt_client_error_message(const hsmjwt_client *c)
{
	return c && c->has_error_message ? c->error_message : NULL;
}

_public_ uint32_t hsmjwt_client_retry_after_ms(const hsmjwt_client *c)
{
	return c ? c->retry_after_ms : 0;
}

_public_ const char *hsmjwt_client_error_rule(const hsmjwt_client *c)
{
	return c && c->has_error_message && c->error_rule[0] ? c->error_rule : NULL;
}

static int wait_readable(hsmjwt_client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int r;

	if (c->timeout_ms == 0)
		return 0;
	do
		r = poll(&p, 1, (int)c->timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return negative_errno();
	return r == 0 ? -ETIMEDOUT : 0;
}

int client_error_from_response(hsmjwt_client *c, const Hsmjwt__V1__Error *e)
{
	snprintf(c->error_message, sizeof(c->error_message), "%s", e->message ? e->message : "");
	c->has_error_message = 1;
	snprintf(c->error_rule, sizeof(c->error_rule), "%s", e->rule ? e->rule : "");
	c->retry_after_ms = e->retry_after_ms;
	switch (e->code) {
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST:
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED:
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_RATE_LIMITED:
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNAVAILABLE:
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_TOO_LARGE:
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_INTERNAL:
	case HSMJWT__V1__ERROR_CODE__ERROR_CODE_UNSUPPORTED:
		return -(HSMJWT_E_BASE + (int)e->code);
	default:
		/* A code newer than this library: still a refusal by the daemon. */
		return HSMJWT_E_INTERNAL;
	}
}

/* The connection closed under us: the daemon restarted, exited idle, or timed us out. */
static bool connection_lost(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN;
}

static void drop_connection(hsmjwt_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -EBADF;
}

/* Sends packed and reads the response with id; the connection is dropped on any failure. */
static int exchange(hsmjwt_client *c, const uint8_t *packed, size_t n, uint64_t id,
		    Hsmjwt__V1__Response **ret)
{
	Hsmjwt__V1__Response *resp;
	int r;

	r = frame_write_fd(c->fd, packed, (uint32_t)n);
	if (r < 0) {
		drop_connection(c);
		return r;
	}
	for (;;) {
		uint8_t *payload = NULL;
		uint32_t len = 0;

		r = wait_readable(c);
		if (r >= 0)
			r = frame_read_fd(c->fd, FRAME_DEFAULT_MAX * 4, &payload, &len);
		if (r < 0) {
			/* The stream is out of step now; the next call must not read stale bytes. */
			drop_connection(c);
			return r == -EMSGSIZE ? HSMJWT_E_PROTOCOL : r;
		}
		resp = hsmjwt__v1__response__unpack(&proto_wiping_allocator, len, payload);
		secret_wipe(payload, len);
		free(payload);
		if (!resp) {
			drop_connection(c);
			return HSMJWT_E_PROTOCOL;
		}
		/* id 0 is the daemon speaking about the stream itself (an over-long frame). */
		if (resp->id == id || resp->id == 0)
			break;
		client_response_free(resp);
	}
	*ret = resp;
	return 0;
}

/* The plain path: one request on the connection, retried once on a new one. */
static int call_plain(hsmjwt_client *c, Hsmjwt__V1__Request *req, Hsmjwt__V1__Response **ret)
{
	_cleanup_free_ uint8_t *packed = NULL;
	size_t n;
	int r;

	n = hsmjwt__v1__request__get_packed_size(req);
	if (n > FRAME_DEFAULT_MAX)
		return HSMJWT_E_TOO_LARGE;
	packed = malloc(n + 1);
	if (!packed)
		return -ENOMEM;
	hsmjwt__v1__request__pack(req, packed);

	/*
	 * One transparent retry on a fresh connection when the old one closed
	 * without an answer: under socket activation a restarting daemon loses
	 * no connection attempt, so the retry reaches the new instance. A sign
	 * request the old daemon finished just before closing may thus yield
	 * two tokens; both are audited.
	 */
	r = c->fd >= 0 ? exchange(c, packed, n, req->id, ret) : -ENOTCONN;
	if (connection_lost(r)) {
		r = client_reconnect(c);
		if (r >= 0)
			r = exchange(c, packed, n, req->id, ret);
	}
	secret_wipe(packed, n);
	return r;
}

int client_call(hsmjwt_client *c, Hsmjwt__V1__Request *req, Hsmjwt__V1__Response **ret)
{
	Hsmjwt__V1__Response *resp = NULL;
	int r;

	c->has_error_message = 0;
	c->retry_after_ms = 0;
	req->id = c->next_id++;
	/*
	 * Pipelined responses may be buffered or still coming: that path sorts
	 * them. A request its connection closed without answering goes the plain
	 * way, which retries it on a new connection like any other.
	 */
	r = client_pipeline_active(c) ? client_pipeline_call(c, req, &resp) : -ENOTCONN;
	if (connection_lost(r))
		r = call_plain(c, req, &resp);
	if (r < 0)
		return r;
	if (resp->body_case == HSMJWT__V1__RESPONSE__BODY_ERROR) {
		r = client_error_from_response(c, resp->error);
		client_response_free(resp);
		return r;
	}
	*ret = resp;
	return 0;
}

int client_reconnect(hsmjwt_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -EBADF;
	return open_socket(c->socket_path, &c->fd);
}

Hsmjwt__V1__Response *client_response_unpack(const uint8_t *p, size_t n)
{
	return hsmjwt__v1__response__unpack(&proto_wiping_allocator, n, p);
}

void client_response_free(Hsmjwt__V1__Response *resp)
{
	if (resp)
		hsmjwt__v1__response__free_unpacked(resp, &proto_wiping_allocator);
}

void client_free_string(char *s)
{
	erase_and_free(s);
}

int client_replace_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return -ENOMEM;
	client_free_string(*field);
	*field = copy;
	return 0;
}
