/* SPDX-License-Identifier: MIT */
/* Bytes in and out of a pipelined connection; see pipeline.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "pipeline.h"
#include "secret.h"

/* Read in chunks of this size: with pipelining one read usually holds many responses. */
#define READ_CHUNK (64u * 1024u)
/* Responses carry a token and claims only; the daemon's limit for requests, four times. */
#define RESPONSE_FRAME_MAX (FRAME_DEFAULT_MAX * 4u)

void client_pipeline_free(struct client_pipeline *p)
{
	if (!p)
		return;
	while (p->head) {
		Arrived *a = p->head;

		p->head = a->next;
		client_response_free(a->resp);
		free(a);
	}
	secret_wipe(p->in, p->in_cap);
	free(p->in);
	free(p->pending);
	free(p->failed);
	free(p);
}

struct client_pipeline *pipeline_get(hsmjwt_client *c)
{
	if (!c->pipeline) {
		c->pipeline = calloc(1, sizeof(*c->pipeline));
		if (c->pipeline)
			c->pipeline->max_in_flight = HSMJWT_DEFAULT_MAX_IN_FLIGHT;
	}
	return c->pipeline;
}

/* The stream is out of step or gone: close it; pending requests all fail with error. */
static int pipeline_break(hsmjwt_client *c, int error)
{
	struct client_pipeline *p = c->pipeline;

	if (!p->broken) {
		/* What the daemon said before it closed explains the end better than EOF. */
		p->broken = p->closing ? p->closing : error;
		if (!p->closing && c->has_error_message)
			memcpy(p->broken_message, c->error_message, sizeof(p->broken_message));
		/* pipeline_reserve() made room for all of them. */
		for (uint32_t i = 0; i < p->n_pending; i++)
			p->failed[p->n_failed++] = (Failed){ .id = p->pending[i], .error = p->broken };
		p->n_pending = 0;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -EBADF;
	}
	return error;
}

int pipeline_restart(hsmjwt_client *c)
{
	struct client_pipeline *p = c->pipeline;

	secret_wipe(p->in, p->in_len);
	p->in_len = 0;
	p->broken = 0;
	p->closing = 0;
	p->broken_message[0] = '\0';
	return c->fd >= 0 ? 0 : client_reconnect(c);
}

bool client_pipeline_active(const hsmjwt_client *c)
{
	return c->pipeline && !c->pipeline->broken && c->fd >= 0;
}

/* Files one response. Returns 1 when it is the one the caller waits for (*ret_wanted). */
static int dispatch(hsmjwt_client *c, Hsmjwt__V1__Response *resp, uint64_t want,
		    Hsmjwt__V1__Response **ret_wanted)
{
	struct client_pipeline *p = c->pipeline;
	Arrived *a;
	int i;

	if (resp->id == 0) {
		/*
		 * The daemon speaks about the stream itself (an over-long frame): it
		 * closes once it answered what came before, so keep reading until then.
		 */
		if (!p->closing) {
			p->closing = resp->body_case == HSMJWT__V1__RESPONSE__BODY_ERROR
					     ? client_error_from_response(c, resp->error)
					     : HSMJWT_E_PROTOCOL;
			if (c->has_error_message)
				memcpy(p->broken_message, c->error_message,
				       sizeof(p->broken_message));
		}
		client_response_free(resp);
		return 0;
	}
	if (want && resp->id == want) {
		*ret_wanted = resp;
		return 1;
	}
	i = pending_find(p, resp->id);
	if (i < 0 || !(a = calloc(1, sizeof(*a)))) {
		/* Nobody waits for it (an abandoned hsmjwt_sign()), or no memory to keep it. */
		client_response_free(resp);
		return i < 0 ? 0 : pipeline_break(c, -ENOMEM);
	}
	pending_remove(p, i);
	a->resp = resp;
	if (p->tail)
		p->tail->next = a;
	else
		p->head = a;
	p->tail = a;
	p->n_arrived++;
	return 0;
}

/*
 * Parses every complete frame in the input buffer, so none waits there for
 * bytes that may never come. Returns 1 when the wanted response was among
 * them, 0 when not, -errno when the connection broke.
 */
static int parse_frames(hsmjwt_client *c, uint64_t want, Hsmjwt__V1__Response **ret_wanted)
{
	struct client_pipeline *p = c->pipeline;
	size_t off = 0;
	int found = 0;

	while (!p->broken) {
		Hsmjwt__V1__Response *resp;
		uint32_t n;
		int r;

		r = frame_peek(p->in + off, p->in_len - off, RESPONSE_FRAME_MAX, &n);
		if (r == 0)
			break;
		if (r < 0)
			return pipeline_break(c, HSMJWT_E_PROTOCOL);
		resp = client_response_unpack(p->in + off + FRAME_HEADER_SIZE, n);
		off += FRAME_HEADER_SIZE + n;
		if (!resp)
			return pipeline_break(c, HSMJWT_E_PROTOCOL);
		if (dispatch(c, resp, found ? 0 : want, ret_wanted) > 0)
			found = 1;
	}
	/* Consumed bytes held tokens: wipe them. */
	memmove(p->in, p->in + off, p->in_len - off);
	secret_wipe(p->in + p->in_len - off, off);
	p->in_len -= off;
	return found ? 1 : p->broken;
}

/* Milliseconds left until deadline (-1: none), for poll(). */
static int remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	if (deadline->tv_sec == 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)(ms > 1000000 ? 1000000 : ms) : 0;
}

struct timespec deadline_after(uint32_t timeout_ms)
{
	struct timespec t = {};

	if (timeout_ms) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += timeout_ms / 1000;
		t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
	}
	return t;
}

/* Reads what has arrived without waiting: returns the bytes read, 0 for none, -errno. */
static int read_some(hsmjwt_client *c)
{
	struct client_pipeline *p = c->pipeline;
	ssize_t k;

	if (p->in_cap - p->in_len < READ_CHUNK) {
		size_t cap = p->in_len + READ_CHUNK;
		uint8_t *n = malloc(cap);

		/* No realloc: the old block held tokens and must be wiped. */
		if (!n)
			return pipeline_break(c, -ENOMEM);
		if (p->in_len) /* p->in is NULL before the first read */
			memcpy(n, p->in, p->in_len);
		secret_wipe(p->in, p->in_cap);
		free(p->in);
		p->in = n;
		p->in_cap = cap;
	}
	k = recv(c->fd, p->in + p->in_len, p->in_cap - p->in_len, MSG_DONTWAIT);
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : pipeline_break(c, negative_errno());
	if (k == 0)
		return pipeline_break(c, -ECONNRESET);
	p->in_len += (size_t)k;
	return k > INT32_MAX ? INT32_MAX : (int)k;
}

/* Reads and parses what has arrived. Returns like parse_frames(). */
int pump(hsmjwt_client *c, uint64_t want, Hsmjwt__V1__Response **ret_wanted)
{
	int r = read_some(c);

	return r <= 0 ? r : parse_frames(c, want, ret_wanted);
}

/* Before giving up on a connection: take the answers and last word already sent. */
static void drain(hsmjwt_client *c)
{
	while (!c->pipeline->broken && read_some(c) > 0)
		(void)parse_frames(c, 0, NULL);
}

/* Waits for input (or, with out, for room to write) until deadline. */
int wait_fd(hsmjwt_client *c, bool out, const struct timespec *deadline, bool nonblock)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (out ? POLLOUT : 0) };
	int r;

	do
		r = poll(&pfd, 1, nonblock ? 0 : remaining_ms(deadline));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return negative_errno();
	if (r == 0)
		return nonblock ? -EAGAIN : -ETIMEDOUT;
	return pfd.revents;
}

/* Sends one whole frame; reads responses meanwhile so neither side can block the other. */
static int send_frame(hsmjwt_client *c, const uint8_t *data, size_t n)
{
	struct timespec deadline = deadline_after(c->timeout_ms);
	size_t sent = 0;

	while (sent < n) {
		ssize_t k = send(c->fd, data + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (k >= 0) {
			sent += (size_t)k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			int err = negative_errno();

			drain(c);
			return pipeline_break(c, err);
		}
		r = wait_fd(c, true, &deadline, false);
		if (r >= 0 && (r & (POLLIN | POLLHUP)))
			r = pump(c, 0, NULL);
		if (r < 0)
			/* Half a frame on the wire leaves the stream out of step. */
			return sent > 0 || c->pipeline->broken ? pipeline_break(c, r) : r;
	}
	return 0;
}

/* The daemon announced it closes: take the answers still coming, up to its EOF. */
static int finish_closing(hsmjwt_client *c)
{
	struct timespec deadline = deadline_after(c->timeout_ms);

	while (!c->pipeline->broken) {
		int r = wait_fd(c, false, &deadline, false);

		if (r >= 0)
			r = pump(c, 0, NULL);
		if (r < 0 && !c->pipeline->broken)
			pipeline_break(c, r);
	}
	return -ENOTCONN;
}

int pack_and_send(hsmjwt_client *c, Hsmjwt__V1__Request *req)
{
	size_t n = hsmjwt__v1__request__get_packed_size(req);
	_cleanup_free_ uint8_t *frame = NULL;
	int r;

	/* A connection the daemon is closing takes no more requests: the caller opens another. */
	if (c->pipeline->closing)
		return finish_closing(c);
	if (n > FRAME_DEFAULT_MAX)
		return HSMJWT_E_TOO_LARGE;
	frame = malloc(FRAME_HEADER_SIZE + n);
	if (!frame)
		return -ENOMEM;
	/* Header and payload in one send: one wakeup for the daemon, not two. */
	frame_header_put(frame, (uint32_t)n);
	hsmjwt__v1__request__pack(req, frame + FRAME_HEADER_SIZE);
	r = send_frame(c, frame, FRAME_HEADER_SIZE + n);
	secret_wipe(frame, FRAME_HEADER_SIZE + n);
	return r;
}

int client_pipeline_call(hsmjwt_client *c, Hsmjwt__V1__Request *req, Hsmjwt__V1__Response **ret)
{
	struct timespec deadline = deadline_after(c->timeout_ms);
	Hsmjwt__V1__Response *resp = NULL;
	int r;

	r = pack_and_send(c, req);
	while (r >= 0) {
		r = wait_fd(c, false, &deadline, false);
		if (r >= 0)
			r = pump(c, req->id, &resp);
		if (r > 0)
			break;
	}
	if (r < 0)
		return r;
	*ret = resp;
	return 0;
}
