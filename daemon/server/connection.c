/* SPDX-License-Identifier: MIT */
/*
 * One client: reading frames, answering them, sending what the audit gate
 * released, and the connection's time limits. Its requests at the token are
 * the in-flight queue's until it answers them through connection_ops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "log.h"
#include "request.h"
#include "server-internal.h"

Connection *connection_free(Connection *c)
{
	if (!c)
		return NULL;
	if (!c->dead) {
		Server *s = c->server;

		c->source = sd_event_source_disable_unref(c->source);
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -EBADF;
		audit_gate_forget(&s->gate, &c->hold);
		inflight_forget_client(&s->inflight, &c->client);
		buf_done(&c->in);
		buf_done(&c->out);
		c->dead = true;
		s->n_connections--;
		c->slot->connections--;
		(void)sd_event_now(s->event, CLOCK_MONOTONIC, &s->last_activity_usec);
	}
	/* Requests in flight point at the peer: the struct waits for them. */
	if (c->client.n_inflight > 0)
		return NULL;
	peer_done(&c->peer);
	list_remove(&c->link);
	peer_table_put(&c->server->peers, c->slot);
	free(c);
	return NULL;
}

static int connection_update_events(Connection *c)
{
	uint32_t ev = 0;
	size_t pending = c->out.len - c->out_sent;

	if (!c->eof && !c->broken && pending < OUTPUT_HIGH_WATER)
		ev |= EPOLLIN;
	if (c->hold.out_ready > c->out_sent)
		ev |= EPOLLOUT;
	if (ev == 0 && !audit_hold_held(&c->hold) && c->client.n_inflight == 0) {
		connection_free(c);
		return 0;
	}
	return sd_event_source_set_io_events(c->source, ev);
}

/*
 * Under steady pipelined load with sync = always a held tail is almost always
 * behind what was sent, so the buffer never empties: drop the sent part (and
 * wipe where it was: it held tokens). Only when it is at least as big as what
 * is left, so each byte is moved at most about once.
 */
static void connection_compact_output(Connection *c)
{
	size_t sent = c->out_sent, left = c->out.len - sent;

	memmove(c->out.data, c->out.data + sent, left);
	explicit_bzero(c->out.data + left, sent);
	c->out.len = left;
	audit_hold_shift(&c->hold, sent);
	c->out_sent = 0;
}

/* Returns 1 while the connection lives, 0 once it was freed, -errno on error. */
static int connection_flush(Connection *c)
{
	while (c->out_sent < c->hold.out_ready) {
		ssize_t k = send(c->fd, c->out.data + c->out_sent, c->hold.out_ready - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return negative_errno();
		}
		c->out_sent += (size_t)k;
		(void)sd_event_now(c->server->event, CLOCK_MONOTONIC, &c->last_progress_usec);
	}
	if (c->out_sent == c->out.len) {
		buf_reset(&c->out);
		c->out_sent = 0;
		audit_hold_reset(&c->hold);
		/* Nothing pending at all: a burst's buffers go back, idle connections stay small. */
		if (c->client.n_inflight == 0 && c->in.len == 0) {
			buf_shrink(&c->out, CONNECTION_BUF_KEEP);
			buf_shrink(&c->in, CONNECTION_BUF_KEEP);
		}
	} else if (c->out_sent >= OUTPUT_COMPACT_MIN && c->out_sent >= c->out.len - c->out_sent)
		connection_compact_output(c);
	return 1;
}

static void connection_consume(Connection *c, size_t n)
{
	/* Wipe what was consumed: it held request data. */
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	explicit_bzero(c->in.data + c->in.len - n, n);
	c->in.len -= n;
	/* What is left is the start of the next frame: its clock starts now. */
	c->frame_started_usec = c->in.len ? c->last_progress_usec : 0;
}

/* To the in-flight queue, unless it or this uid has no room (rule queue-full, inflight-limit). */
static void connection_submit(Connection *c, Pending *p)
{
	Server *s = c->server;
	char msg[160];
	const char *rule = inflight_refusal(&s->inflight, &c->client,
					    service_peer_limits(s->service, &c->peer).inflight, msg,
					    sizeof(msg));

	if (!rule) {
		inflight_submit(&s->inflight, &c->client, p);
		return;
	}
	if (request_turn_away(p, rule, msg, &c->out) < 0)
		c->broken = true;
	pending_free(p);
}

static void connection_process(Connection *c)
{
	Server *s = c->server;
	size_t off = 0;

	while (!c->broken && c->out.len - c->out_sent < OUTPUT_HIGH_WATER &&
	       c->client.n_inflight < INFLIGHT_PER_CONNECTION) {
		Pending *pending = NULL;
		uint32_t n;
		int r = frame_peek((uint8_t *)c->in.data + off, c->in.len - off, s->max_frame, &n);

		if (r == -EMSGSIZE) {
			log_warning("Closing connection of pid %d: frame of %u bytes over the %u limit",
				    (int)c->peer.pid, frame_header_get((uint8_t *)c->in.data + off),
				    s->max_frame);
			request_reply_too_large(frame_header_get((uint8_t *)c->in.data + off),
						s->max_frame, &c->out);
			c->broken = true;
			off = c->in.len;
			break;
		}
		if (r == 0)
			break;
		r = request_handle(s->service, &c->peer,
				   (uint8_t *)c->in.data + off + FRAME_HEADER_SIZE, n, &s->scratch,
				   &c->out, &pending);
		off += FRAME_HEADER_SIZE + n;
		s->n_requests++;
		if (pending)
			connection_submit(c, pending);
		if (r < 0) {
			log_error_errno(r, "Cannot build a reply for pid %d, closing: %m",
					(int)c->peer.pid);
			c->broken = true;
		}
	}
	/* The requests of this read reach the signing threads together. */
	inflight_flush(&s->inflight);
	if (off > 0)
		connection_consume(c, off);
}

static int connection_read(Connection *c)
{
	Server *s = c->server;
	char chunk[READ_CHUNK];
	bool direct;
	ssize_t k;

	/* Room for the frame being assembled, never more than one maximal frame. */
	if (c->in.len >= FRAME_HEADER_SIZE + (size_t)s->max_frame)
		return 1;
	/* A small block from the first read on: frames are never parsed from NULL. */
	if (buf_reserve(&c->in, 0) < 0)
		return -ENOMEM;
	/*
	 * Into the buffer when it has a chunk's room (a pipelining client's);
	 * else through the stack, so the buffer grows to what arrived, not to a
	 * chunk: 1000 connections with a small request each hold 1000 small
	 * buffers instead of 1000 x 32 KiB.
	 */
	direct = c->in.cap > c->in.len + READ_CHUNK;
	k = read(c->fd, direct ? c->in.data + c->in.len : chunk, READ_CHUNK);
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : negative_errno();
	if (k == 0) {
		c->eof = true;
		return 1;
	}
	if (direct) {
		c->in.len += (size_t)k;
	} else {
		buf_append(&c->in, chunk, (size_t)k);
		explicit_bzero(chunk, (size_t)k);
		if (c->in.error)
			return -ENOMEM;
	}
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &c->last_progress_usec);
	if (!c->frame_started_usec)
		c->frame_started_usec = c->last_progress_usec;
	return 1;
}

static bool connection_has_frame(Connection *c)
{
	uint32_t n;

	return !c->broken && frame_peek((uint8_t *)c->in.data, c->in.len, c->server->max_frame, &n) != 0;
}

/* Replies appended while records await their sync are held back (audit-gate.h). */
static void connection_hold_or_release(Connection *c)
{
	audit_gate_hold_or_release(&c->server->gate, &c->hold);
}

/* Answers buffered frames and sends what may leave; frees c when done or failed. */
static void connection_serve(Connection *c)
{
	int r;

	/* Answer, send, and go on while the client keeps up with its replies. */
	for (;;) {
		connection_process(c);
		connection_hold_or_release(c);
		r = connection_flush(c);
		if (r < 0)
			goto fail;
		if (c->out.len - c->out_sent >= OUTPUT_HIGH_WATER || !connection_has_frame(c) ||
		    c->client.n_inflight >= INFLIGHT_PER_CONNECTION)
			break;
	}
	r = connection_update_events(c);
	if (r < 0)
		goto fail;
	return;
fail:
	if (r != -ECONNRESET && r != -EPIPE)
		log_debug("Connection of pid %d failed: %s", (int)c->peer.pid, strerror(-r));
	connection_free(c);
}

static int on_connection_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Connection *c = userdata;
	int r;

	(void)src, (void)fd;
	if (revents & EPOLLERR) {
		connection_free(c);
		return 0;
	}
	if ((revents & (EPOLLIN | EPOLLHUP)) && !c->eof && !c->broken) {
		r = connection_read(c);
		if (r < 0) {
			log_debug("Connection of pid %d failed: %s", (int)c->peer.pid,
				  strerror(-r));
			connection_free(c);
			return 0;
		}
	}
	connection_serve(c);
	return 0;
}

void connection_released(AuditHold *h, int ok)
{
	Connection *c = list_entry(h, Connection, hold);

	if (ok < 0)
		connection_free(c);
	else
		connection_serve(c);
}

static Connection *connection_of(InflightClient *cl)
{
	return list_entry(cl, Connection, client);
}

/* The in-flight queue hands over p's answer (or why there is none). */
static void connection_answer(InflightClient *cl, Pending *p, InflightOutcome outcome)
{
	Connection *c = connection_of(cl);
	Server *s = c->server;
	unsigned timeout_sec = (unsigned)(s->inflight.request_timeout_usec / 1000000);
	char msg[128];
	int r = 0;

	if (outcome != INFLIGHT_ANSWERED) {
		if (outcome == INFLIGHT_TOKEN_TIMEOUT) {
			r = c->dead ? 0 : request_time_out(p, timeout_sec, &c->out);
		} else {
			snprintf(msg, sizeof(msg),
				 outcome == INFLIGHT_TOKEN_DOWN
					 ? "the token is unavailable; the daemon is reconnecting"
					 : "waited %u s for the token behind other requests; nothing "
					   "was done, try again later", timeout_sec);
			/* Recorded even for a client that left: the request was decided. */
			r = request_turn_away(p, outcome == INFLIGHT_TOKEN_DOWN ? "token-unavailable"
										: "queue-timeout",
					      msg, c->dead ? NULL : &c->out);
		}
		if (r < 0)
			c->broken = true;
		return;
	}
	if (c->dead) {
		request_abandon(p);
		return;
	}
	r = request_complete(p, &s->scratch, &c->out);
	/* The gate holds it until its record is durable (audit-gate.h). */
	if (p->is_sign)
		c->hold.jwt_appended = true;
	if (r < 0) {
		log_error_errno(r, "Cannot build a reply for pid %d, closing: %m", (int)c->peer.pid);
		c->broken = true;
	}
}

static void connection_served(InflightClient *cl)
{
	Connection *c = connection_of(cl);

	if (c->dead)
		connection_free(c); /* frees it once nothing is in flight */
	else
		connection_serve(c);
}

static const InflightClientOps connection_ops = {
	.answer = connection_answer,
	.served = connection_served,
};

int connection_new(Server *s, int fd, const Peer *peer, PeerSlot *slot)
{
	Connection *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c) {
		Peer p = *peer;

		close(fd);
		peer_done(&p);
		peer_table_put(&s->peers, slot);
		return -ENOMEM;
	}
	*c = (Connection){
		.last_progress_usec = s->last_activity_usec,
		.server = s,
		.fd = fd,
		.peer = *peer,
		.slot = slot,
		.in.limit = FRAME_HEADER_SIZE + (size_t)s->max_frame + READ_CHUNK,
	};
	audit_hold_init(&c->hold, &c->out);
	inflight_client_init(&c->client, &connection_ops, slot);
	s->n_connections++;
	slot->connections++;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &s->last_activity_usec);
	list_push_front(&s->connections, &c->link);
	r = sd_event_add_io(s->event, &c->source, c->fd, EPOLLIN, on_connection_io, c);
	if (r < 0) {
		log_warning_errno(r, "Cannot watch connection: %m");
		connection_free(c);
	}
	return r;
}

/* How long since then; 0 if then is later (times come from different loop iterations). */
static uint64_t elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/*
 * Every connection gets bounded time: a frame must arrive whole within
 * read-timeout (slowloris), replies must be taken within write-timeout (a
 * client that never reads), and a connection with nothing going on closes
 * after idle-timeout. Checked once a second, from the loop's cached clock.
 */
void connection_sweep(Connection *c, uint64_t now)
{
	const Server *s = c->server;
	const char *why = NULL;

	if (c->dead)
		return;
	/* While we do not read (back-pressure), a half frame is our doing, not the client's. */
	if (c->out.len - c->out_sent >= OUTPUT_HIGH_WATER ||
	    c->client.n_inflight >= INFLIGHT_PER_CONNECTION)
		c->frame_started_usec = c->frame_started_usec ? now : 0;
	if (c->hold.out_ready > c->out_sent &&
	    elapsed(now, c->last_progress_usec) > s->write_timeout_usec)
		why = "it did not read its replies within write-timeout";
	else if (c->frame_started_usec && elapsed(now, c->frame_started_usec) > s->read_timeout_usec)
		why = "a frame did not arrive whole within read-timeout";
	else if (!c->in.len && c->out.len == c->out_sent && !c->client.n_inflight &&
		 !audit_hold_held(&c->hold) &&
		 elapsed(now, c->last_progress_usec) > s->idle_timeout_usec)
		why = "idle for idle-timeout";
	if (!why)
		return;
	log_notice("Closing the connection of pid %d uid %u: %s", (int)c->peer.pid,
		   (unsigned)c->peer.uid, why);
	connection_free(c);
}
