/* SPDX-License-Identifier: MIT */
/* Connections: reading frames, answering, holding replies for the audit, timeouts. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "cleanup.h"
#include "fd-limit.h"
#include "frame.h"
#include "listen.h"
#include "log.h"
#include "request.h"
#include "server-internal.h"

/* Held connections are listed apart, so a commit visits them, not every connection. */
static void held_add(Connection *c)
{
	Server *s = c->server;

	c->held = true;
	c->held_prev = NULL;
	c->held_next = s->held;
	if (s->held)
		s->held->held_prev = c;
	s->held = c;
	s->n_held++;
}

static void held_remove(Connection *c)
{
	Server *s = c->server;

	if (c->held_prev)
		c->held_prev->held_next = c->held_next;
	else
		s->held = c->held_next;
	if (c->held_next)
		c->held_next->held_prev = c->held_prev;
	c->held_prev = c->held_next = NULL;
	c->held = false;
	s->n_held--;
}

Connection *connection_free(Connection *c)
{
	if (!c)
		return NULL;
	if (!c->dead) {
		c->source = sd_event_source_disable_unref(c->source);
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -EBADF;
		buf_done(&c->in);
		buf_done(&c->out);
		if (c->held)
			held_remove(c);
		c->dead = true;
		c->server->n_connections--;
		(void)sd_event_now(c->server->event, CLOCK_MONOTONIC,
				   &c->server->last_activity_usec);
	}
	/* Requests in flight point at the peer: the struct waits for them. */
	if (c->inflight > 0)
		return NULL;
	peer_done(&c->peer);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->server->connections = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	return NULL;
}

static int connection_update_events(Connection *c)
{
	uint32_t ev = 0;
	size_t pending = c->out.len - c->out_sent;

	if (!c->eof && !c->broken && pending < OUTPUT_HIGH_WATER)
		ev |= EPOLLIN;
	if (c->out_ready > c->out_sent)
		ev |= EPOLLOUT;
	if (ev == 0 && !c->held && c->inflight == 0) {
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
	c->out_ready -= sent;
	if (c->out_durable)
		c->out_durable -= sent;
	c->out_sent = 0;
}

/* Returns 1 while the connection lives, 0 once it was freed, -errno on error. */
static int connection_flush(Connection *c)
{
	while (c->out_sent < c->out_ready) {
		ssize_t k = send(c->fd, c->out.data + c->out_sent, c->out_ready - c->out_sent,
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
		c->out_sent = c->out_ready = c->out_durable = 0;
		/* Nothing pending at all: a burst's buffers go back, idle connections stay small. */
		if (c->inflight == 0 && c->in.len == 0) {
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

static void connection_process(Connection *c)
{
	Server *s = c->server;
	size_t off = 0;

	while (!c->broken && c->out.len - c->out_sent < OUTPUT_HIGH_WATER &&
	       c->inflight < INFLIGHT_PER_CONNECTION) {
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
			submit(s, c, pending);
		if (r < 0) {
			log_error_errno(r, "Cannot build a reply for pid %d, closing: %m",
					(int)c->peer.pid);
			c->broken = true;
		}
	}
	/* The requests of this read reach the signing threads together. */
	if (s->workers)
		workers_flush(s->workers);
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

/* Replies appended while records await their sync are held back (see the top). */
static void connection_hold_or_release(Connection *c)
{
	/* Once held, only the commit's result releases it: a failed sync must withhold. */
	if (c->held)
		return;
	if (!audit_unsynced(c->server->audit))
		c->out_ready = c->out.len;
	else if (c->out.len > c->out_ready) {
		held_add(c);
	}
}

/* Answers buffered frames and sends what may leave; frees c when done or failed. */
void connection_serve(Connection *c)
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
		    c->inflight >= INFLIGHT_PER_CONNECTION)
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

/* The commit ended: out[..upto) may leave; all of it (tokens withheld) if it failed. */
static void connection_release(Connection *c, int commit, size_t upto)
{
	char msg[160];

	if (commit < 0) {
		snprintf(msg, sizeof(msg),
			 "audit trail could not make the record durable (%s); token withheld",
			 audit_strerror(commit));
		if (request_withhold_tokens(&c->out, c->out_ready, msg) < 0) {
			/* Cannot even say why: drop what was held, and the connection. */
			connection_free(c);
			return;
		}
		upto = c->out.len;
	}
	c->out_durable = 0;
	if (upto > c->out_ready)
		c->out_ready = upto;
	if (c->out_ready == c->out.len)
		held_remove(c);
	connection_serve(c);
}

static void release_held(Server *s, int commit, bool all)
{
	/* Serving c may hold it again (at the head, behind this walk) or free it: not next. */
	for (Connection *c = s->held, *next; c; c = next) {
		next = c->held_next;
		connection_release(c, commit, all ? c->out.len : c->out_durable);
	}
}

/* The sync thread finished: what it covered may leave (see the top). */
void on_audit_committed(void *userdata, int r)
{
	release_held(userdata, r, false);
}

int on_audit_commit(sd_event_source *src, void *userdata)
{
	Server *s = userdata;
	int r;

	(void)src;
	/* This iteration's records, written while the running sync (if any) goes on. */
	r = audit_flush(s->audit);
	/* Its end releases what it covers (a failed write too), and this runs again after it. */
	if (audit_commit_running(s->audit))
		return 0;
	/* Nothing held: audit_commit() just takes the failure, so no later commit reports it. */
	if (r < 0 && s->n_held == 0)
		(void)audit_commit(s->audit);
	/*
	 * The thread syncs while the loop serves everything else. With one
	 * client and none of its requests at the token nothing would overlap the
	 * sync: it runs here, sparing that client two thread wake-ups per token
	 * (p50 at 1x1: 249 -> 210 us). With more clients blocking the loop costs
	 * more than the wake-ups (16x1: 30k -> 24k tokens/s when tried).
	 */
	if (r >= 0 && audit_unsynced(s->audit) && (s->inflight_head || s->n_connections > 1)) {
		/* Every reply appended so far has its record written: the sync covers them. */
		for (Connection *c = s->held; c; c = c->held_next)
			c->out_durable = c->out.len;
		if (audit_commit_start(s->audit) > 0)
			return 0;
	}
	/* Nothing in flight, a failed write, nothing left to sync, or no sync thread. */
	while (s->n_held > 0 || audit_unsynced(s->audit))
		release_held(s, audit_commit(s->audit), true);
	return 0;
}

int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Server *s = userdata;
	_cleanup_close_ int cfd = -EBADF;
	Peer peer;
	Connection *c;
	int r;

	(void)src, (void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(errno, "accept4() failed: %m");
		return 0;
	}
	/* Identity before any byte is read: later requests cannot change who asked. */
	r = peer_from_socket(cfd, &peer);
	if (r < 0) {
		log_warning_errno(r, "SO_PEERCRED failed, dropping connection: %m");
		return 0;
	}
	if (s->n_connections >= s->max_connections) {
		log_warning("Refusing connection of pid %d uid %u: %u connections open "
			    "([server] max-connections)", (int)peer.pid, (unsigned)peer.uid,
			    s->n_connections);
		peer_done(&peer);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		peer_done(&peer);
		return 0;
	}
	*c = (Connection){
		.last_progress_usec = s->last_activity_usec,
		.server = s,
		.fd = TAKE_FD(cfd),
		.peer = peer,
		.in.limit = FRAME_HEADER_SIZE + (size_t)s->max_frame + READ_CHUNK,
	};
	s->n_connections++;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &s->last_activity_usec);
	c->next = s->connections;
	if (c->next)
		c->next->prev = c;
	s->connections = c;
	r = sd_event_add_io(s->event, &c->source, c->fd, EPOLLIN, on_connection_io, c);
	if (r < 0) {
		log_warning_errno(r, "Cannot watch connection: %m");
		connection_free(c);
	}
	return 0;
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
void sweep_connections(Server *s, uint64_t now)
{
	for (Connection *c = s->connections, *next; c; c = next) {
		const char *why = NULL;

		next = c->next;
		if (c->dead)
			continue;
		/* While we do not read (back-pressure), a half frame is our doing, not the client's. */
		if (c->out.len - c->out_sent >= OUTPUT_HIGH_WATER || c->inflight >= INFLIGHT_PER_CONNECTION)
			c->frame_started_usec = c->frame_started_usec ? now : 0;
		if (c->out_ready > c->out_sent &&
		    elapsed(now, c->last_progress_usec) > s->write_timeout_usec)
			why = "it did not read its replies within write-timeout";
		else if (c->frame_started_usec &&
			 elapsed(now, c->frame_started_usec) > s->read_timeout_usec)
			why = "a frame did not arrive whole within read-timeout";
		else if (!c->in.len && c->out.len == c->out_sent && !c->inflight && !c->held &&
			 elapsed(now, c->last_progress_usec) > s->idle_timeout_usec)
			why = "idle for idle-timeout";
		if (!why)
			continue;
		log_notice("Closing the connection of pid %d uid %u: %s", (int)c->peer.pid,
			   (unsigned)c->peer.uid, why);
		connection_free(c);
	}
}

