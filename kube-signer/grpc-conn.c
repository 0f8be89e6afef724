/* SPDX-License-Identifier: MIT */
/*
 * gRPC over HTTP/2, server side, unary calls only: what kube-apiserver's
 * grpc-go client needs and nothing more. nghttp2 does HTTP/2 (framing,
 * HPACK, flow control, stream states, its own flood protections); we do
 * gRPC's part: grpc-call.c one call on one stream, this file the
 * connections (accept and the caller check, reads and writes, timeouts,
 * GOAWAY when shutting down, the lingering close).
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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc-internal.h"
#include "log.h"

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
void conn_kick(Conn *c)
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
	grpc_set_callbacks(cb);
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
