/* SPDX-License-Identifier: MIT */
#include "server.h"

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

/* Read in chunks of this size; a frame may span several reads. */
#define READ_CHUNK (16u * 1024u)
/*
 * Replies waiting for a client that does not read: past this, the connection
 * stops being read (back-pressure) until the client catches up.
 */
#define OUTPUT_HIGH_WATER (256u * 1024u)
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
 *   that were pending in this loop iteration, calls audit_commit() once for
 *   all of them, then releases every held connection: out_ready moves to the
 *   end of its buffer. If the sync failed, each held sign response is first
 *   replaced by an UNAVAILABLE "audit trail" error with the same id
 *   (request_withhold_tokens), so the tokens never leave.
 * Serving a released connection's buffered frames may hold it again, so the
 * post source loops until nothing is held. With sync = batch or none nothing
 * is ever held.
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
	unsigned n_held; /* connections whose replies wait for the audit commit */
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
	bool held;
	bool eof;    /* the peer sent all it will: answer what came, then close */
	bool broken; /* a bad frame or a failure: flush what is queued, then close */
	unsigned inflight; /* requests of this connection waiting for the token */
	uint64_t last_progress_usec; /* a byte read or sent (loop's cached clock) */
	uint64_t frame_started_usec; /* an incomplete frame is buffered since; 0: none */
	bool dead;	   /* closed while requests were in flight: freed when they end */
	struct Connection *touched_next; /* completions to serve, see on_workers_done() */
	bool touched;
} Connection;

static Connection *connection_free(Connection *c)
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
			c->server->n_held--;
		c->held = false;
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
		c->out_sent = c->out_ready = 0;
	}
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

static void arm_timeout(Server *s)
{
	if (!s->inflight_head) {
		(void)sd_event_source_set_enabled(s->timeout_source, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(s->timeout_source, s->inflight_head->deadline_usec);
	(void)sd_event_source_set_enabled(s->timeout_source, SD_EVENT_ONESHOT);
}

static void inflight_remove(Server *s, Pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->inflight_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		s->inflight_tail = p->prev;
	p->prev = p->next = NULL;
}

/* Hands a request to the token threads; its answer arrives in on_workers_done(). */
static void submit(Server *s, Connection *c, Pending *p)
{
	uint64_t now = 0;

	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	p->owner = c;
	p->deadline_usec = now + s->request_timeout_usec;
	p->prev = s->inflight_tail;
	if (s->inflight_tail)
		s->inflight_tail->next = p;
	else
		s->inflight_head = p;
	s->inflight_tail = p;
	c->inflight++;
	if (p == s->inflight_head)
		arm_timeout(s);
	workers_submit(s->workers, &p->job);
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
		if (pending)
			submit(s, c, pending);
		if (r < 0) {
			log_error_errno(r, "Cannot build a reply for pid %d, closing: %m",
					(int)c->peer.pid);
			c->broken = true;
		}
	}
	if (off > 0)
		connection_consume(c, off);
}

static int connection_read(Connection *c)
{
	Server *s = c->server;
	ssize_t k;

	/* Room for the frame being assembled, never more than one maximal frame. */
	if (c->in.len >= FRAME_HEADER_SIZE + (size_t)s->max_frame)
		return 1;
	if (buf_reserve(&c->in, READ_CHUNK) < 0)
		return -ENOMEM;
	k = read(c->fd, c->in.data + c->in.len, READ_CHUNK);
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : negative_errno();
	if (k == 0) {
		c->eof = true;
		return 1;
	}
	c->in.len += (size_t)k;
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
	if (!audit_unsynced(c->server->audit))
		c->out_ready = c->out.len;
	else if (!c->held) {
		c->held = true;
		c->server->n_held++;
	}
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

static void connection_release(Connection *c, int commit)
{
	char msg[160];

	c->held = false;
	c->server->n_held--;
	if (commit < 0) {
		snprintf(msg, sizeof(msg),
			 "audit trail could not make the record durable (%s); token withheld",
			 audit_strerror(commit));
		if (request_withhold_tokens(&c->out, c->out_ready, msg) < 0) {
			/* Cannot even say why: drop what was held, and the connection. */
			connection_free(c);
			return;
		}
	}
	c->out_ready = c->out.len;
	connection_serve(c);
}

static int on_audit_commit(sd_event_source *src, void *userdata)
{
	Server *s = userdata;

	(void)src;
	while (s->n_held > 0 || audit_unsynced(s->audit)) {
		int r = audit_commit(s->audit);

		for (Connection *c = s->connections, *next; c; c = next) {
			next = c->next;
			if (c->held)
				connection_release(c, r);
		}
	}
	return 0;
}

#define RECOVER_FIRST_USEC (100ull * 1000ull)
#define RECOVER_MAX_USEC (5ull * 1000000ull)

static void schedule_recovery(Server *s, uint64_t delay_usec)
{
	uint64_t now = 0;

	if (!service_token_recoverable(s->service))
		return;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	(void)sd_event_source_set_time(s->recover_source, now + delay_usec);
	(void)sd_event_source_set_enabled(s->recover_source, SD_EVENT_ONESHOT);
}

static int on_workers_done(sd_event_source *src, int fd, uint32_t revents, void *userdata);
static void update_status(Server *s);

static int start_workers(Server *s)
{
	int r;

	r = workers_new(service_token(s->service), s->n_sessions, &s->workers);
	if (r < 0)
		return log_error_errno(r, "Cannot start %u signing thread(s): %m", s->n_sessions);
	r = sd_event_add_io(s->event, &s->workers_source, workers_fd(s->workers), EPOLLIN,
			    on_workers_done, s);
	if (r < 0) {
		s->workers = workers_free(s->workers);
		return log_error_errno(r, "Cannot watch the signing threads: %m");
	}
	return 0;
}

static void stop_workers(Server *s)
{
	s->workers_source = sd_event_source_disable_unref(s->workers_source);
	s->workers = workers_free(s->workers);
}

/*
 * The token failed: once no request is with the threads any more (a stuck
 * call keeps its thread, and so the old token, until it returns), stop them,
 * reopen the token, start them again. Until then requests fail fast.
 */
static int on_recover(sd_event_source *src, uint64_t usec, void *userdata)
{
	Server *s = userdata;
	int r;

	(void)src, (void)usec;
	if (!service_token_recoverable(s->service))
		return 0;
	if (s->inflight_head || s->orphans) {
		schedule_recovery(s, RECOVER_FIRST_USEC);
		return 0;
	}
	stop_workers(s);
	r = service_reopen_token(s->service);
	if (r >= 0)
		r = start_workers(s);
	if (r >= 0) {
		s->recover_backoff_usec = RECOVER_FIRST_USEC;
		s->last_status[0] = '\0';
		update_status(s);
		return 0;
	}
	log_warning_errno(r, "Token still unavailable (%m); next try in %" PRIu64 " ms",
			  s->recover_backoff_usec / 1000);
	schedule_recovery(s, s->recover_backoff_usec);
	s->recover_backoff_usec = s->recover_backoff_usec * 2 > RECOVER_MAX_USEC ?
					  RECOVER_MAX_USEC : s->recover_backoff_usec * 2;
	return 0;
}

/* The token call failed as a device would (not a refused request): the token needs a look. */
static bool device_failure(int r)
{
	return r == -ENODEV || r == -ENOTCONN || r == -EIO || r == -ETIMEDOUT;
}

static void orphan_remove(Server *s, Pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->orphans = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/*
 * At exit, with the threads stopped: every request still around goes,
 * unanswered. Finished or not, each is in the in-flight list or, timed
 * out, among the orphans.
 */
static void drop_all_pending(Server *s)
{
	while (s->inflight_head) {
		Pending *p = s->inflight_head;

		inflight_remove(s, p);
		((Connection *)p->owner)->inflight--;
		pending_free(p);
	}
	while (s->orphans) {
		Pending *p = s->orphans;

		orphan_remove(s, p);
		pending_free(p);
	}
}

static void touch(Connection **list, Connection *c)
{
	if (c->touched)
		return;
	c->touched = true;
	c->touched_next = *list;
	*list = c;
}

/* Serves each connection once, after all of this round's answers are appended. */
static void serve_touched(Connection *list)
{
	while (list) {
		Connection *c = list;

		list = c->touched_next;
		c->touched = false;
		if (c->dead)
			connection_free(c); /* frees it once nothing is in flight */
		else
			connection_serve(c);
	}
}

static int on_workers_done(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Server *s = userdata;
	Connection *touched = NULL;
	Job *job;

	(void)src, (void)fd, (void)revents;
	job = workers_take_done(s->workers);
	while (job) {
		Pending *p = (Pending *)job;
		Connection *c = p->owner;
		int r;

		job = job->next;
		if (p->timed_out) {
			/* Answered already; whatever the token made now is dropped, unrecorded. */
			orphan_remove(s, p);
			pending_free(p);
			continue;
		}
		inflight_remove(s, p);
		if (device_failure(request_token_result(p))) {
			service_token_failed(s->service, request_token_result(p));
			schedule_recovery(s, 0);
		}
		if (c->dead) {
			request_abandon(p);
		} else {
			r = request_complete(p, &s->scratch, &c->out);
			if (r < 0) {
				log_error_errno(r, "Cannot build a reply for pid %d, closing: %m",
						(int)c->peer.pid);
				c->broken = true;
			}
		}
		pending_free(p);
		c->inflight--;
		touch(&touched, c);
	}
	arm_timeout(s);
	serve_touched(touched);
	return 0;
}

static int on_request_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	Server *s = userdata;
	Connection *touched = NULL;

	(void)src;
	while (s->inflight_head && s->inflight_head->deadline_usec <= usec) {
		Pending *p = s->inflight_head;
		Connection *c = p->owner;

		inflight_remove(s, p);
		/* The worker may be stuck in the token: p waits among the orphans for it. */
		__atomic_store_n(&p->timed_out, true, __ATOMIC_RELEASE);
		p->next = s->orphans;
		if (s->orphans)
			s->orphans->prev = p;
		s->orphans = p;
		if (!c->dead && request_time_out(p, (unsigned)(s->request_timeout_usec / 1000000),
						 &c->out) < 0)
			c->broken = true;
		c->inflight--;
		touch(&touched, c);
		service_token_failed(s->service, -ETIMEDOUT);
		schedule_recovery(s, 0);
	}
	arm_timeout(s);
	serve_touched(touched);
	return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
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

/* Status, timeouts and idle checks run on this period: no syscall on the request path. */
#define HOUSEKEEPING_USEC (1ull * 1000000ull)

static void update_status(Server *s)
{
	char status[sizeof(s->last_status)];

	service_describe(s->service, s->n_connections, status, sizeof(status));
	if (strcmp(status, s->last_status) == 0)
		return;
	memcpy(s->last_status, status, sizeof(status));
	(void)sd_notifyf(0, "STATUS=%s", status);
}

/*
 * Every connection gets bounded time: a frame must arrive whole within
 * read-timeout (slowloris), replies must be taken within write-timeout (a
 * client that never reads), and a connection with nothing going on closes
 * after idle-timeout. Checked once a second, from the loop's cached clock.
 */
/* How long since then; 0 if then is later (times come from different loop iterations). */
static uint64_t elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void sweep_connections(Server *s, uint64_t now)
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

static int on_housekeeping(sd_event_source *src, uint64_t usec, void *userdata)
{
	Server *s = userdata;
	uint64_t next = usec + HOUSEKEEPING_USEC;

	update_status(s);
	/* usec is when this timer was due; connections carry the loop's later clock. */
	{
		uint64_t now = usec;

		(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
		sweep_connections(s, now);
	}
	if (s->exit_idle_usec && s->n_connections == 0) {
		uint64_t idle_until = s->last_activity_usec + s->exit_idle_usec;
		if (usec >= idle_until) {
			/*
			 * Connections arriving from now on wait in the socket, which systemd
			 * holds; it starts us again for them, so none is lost.
			 */
			log_info("Idle for %" PRIu64 " s, exiting; socket activation restarts on demand",
				 s->exit_idle_usec / 1000000);
			(void)sd_notify(0, "STOPPING=1\nSTATUS=Exiting: idle");
			sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
			return sd_event_exit(sd_event_source_get_event(src), 0);
		}
		if (idle_until < next)
			next = idle_until;
	}
	(void)sd_event_source_set_time(src, next);
	return 0;
}

static int on_terminate(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	log_info("Received %s, exiting", strsignal((int)si->ssi_signo));
	(void)sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(src), 0);
}

static int on_reload(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	Server *s = userdata;
	_cleanup_free_ char *error = NULL, *path = NULL;
	Config *config = NULL;
	int r;

	(void)src, (void)si;
	(void)sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
	/* SIGHUP is also what log rotation sends: the chain continues into the new file. */
	(void)audit_reopen(s->audit);
	path = strdup(service_config(s->service)->path);
	r = path ? config_load(path, &config, &error) : -ENOMEM;
	if (r < 0) {
		log_error("Reload refused, the previous configuration stays in force: %s",
			  error ? error : strerror(-r));
		(void)audit_reload(s->audit, "refused: the configuration is invalid");
	} else
		(void)service_reload(s->service, config);
	schedule_recovery(s, 0);
	s->last_status[0] = '\0';
	update_status(s);
	(void)sd_notify(0, "READY=1");
	return 0;
}

int server_run(Service *service)
{
	const Config *cfg = service_config(service);
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	sd_event_source *listen_src = NULL, *housekeeping = NULL;
	Server s = {
		.service = service,
		.listen_fd = -EBADF,
		.max_connections = cfg->max_connections,
		.max_frame = cfg->max_frame,
		.audit = service_audit(service),
	};
	_cleanup_free_ char *socket_path = NULL;
	bool bound = false;
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(errno, "sigprocmask(): %m");

	r = sd_event_default(&e);
	if (r < 0)
		return log_error_errno(r, "Cannot create event loop: %m");
	s.event = e;
	r = sd_event_add_signal(e, NULL, SIGTERM, on_terminate, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGINT, on_terminate, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGHUP, on_reload, &s);
	if (r < 0)
		return log_error_errno(r, "Cannot watch signals: %m");
	/* WatchdogSec= in the unit: pings come from the loop, so a stuck loop gets noticed. */
	r = sd_event_set_watchdog(e, true);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the watchdog: %m");
	r = sd_event_add_post(e, NULL, on_audit_commit, &s);
	if (r >= 0)
		r = audit_attach_event(s.audit, e);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the audit trail's event sources: %m");

	/* Each connection holds its socket and the peer's pidfd. */
	fd_limit_ensure(2u * s.max_connections + 64u);

	s.request_timeout_usec = cfg->request_timeout * 1000000ull;
	s.read_timeout_usec = cfg->read_timeout * 1000000ull;
	s.write_timeout_usec = cfg->write_timeout * 1000000ull;
	s.idle_timeout_usec = cfg->idle_timeout * 1000000ull;
	s.n_sessions = cfg->sessions;
	s.recover_backoff_usec = RECOVER_FIRST_USEC;
	r = start_workers(&s);
	if (r < 0)
		goto out;
	r = sd_event_add_time(e, &s.timeout_source, CLOCK_MONOTONIC, UINT64_MAX, 0,
			      on_request_timeout, &s);
	if (r >= 0)
		r = sd_event_add_time(e, &s.recover_source, CLOCK_MONOTONIC, UINT64_MAX, 0,
				      on_recover, &s);
	if (r < 0) {
		log_error_errno(r, "Cannot arm the request timers: %m");
		goto out;
	}
	(void)sd_event_source_set_enabled(s.timeout_source, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(s.recover_source, SD_EVENT_OFF);
	log_info("%u signing thread(s), each with its own session; request timeout %" PRIu64 " s",
		 workers_count(s.workers), cfg->request_timeout);

	/* The Config may be replaced by a reload; keep what must outlive it. */
	socket_path = strdup(cfg->socket_path);
	if (!socket_path)
		return -ENOMEM;
	r = listen_socket_open(socket_path, &s.listen_fd, &bound);
	if (r < 0)
		return r;
	r = sd_event_add_io(e, &listen_src, s.listen_fd, EPOLLIN, on_accept, &s);
	if (r < 0) {
		log_error_errno(r, "Cannot watch the listening socket: %m");
		goto out;
	}

	s.listen_source = listen_src;
	if (cfg->exit_idle && bound)
		log_notice("exit-idle ignored: the socket was not passed by systemd, so nobody would "
			   "restart the daemon");
	else
		s.exit_idle_usec = cfg->exit_idle * 1000000ull;
	(void)sd_event_now(e, CLOCK_MONOTONIC, &s.last_activity_usec);
	r = sd_event_add_time_relative(e, &housekeeping, CLOCK_MONOTONIC,
				       s.exit_idle_usec && s.exit_idle_usec < HOUSEKEEPING_USEC ?
					       s.exit_idle_usec : HOUSEKEEPING_USEC,
				       0, on_housekeeping, &s);
	if (r < 0) {
		log_error_errno(r, "Cannot arm the housekeeping timer: %m");
		goto out;
	}
	(void)sd_event_source_set_enabled(housekeeping, SD_EVENT_ON);
	service_describe(service, 0, s.last_status, sizeof(s.last_status));
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", s.last_status);
	r = sd_event_loop(e);
	if (r < 0)
		log_error_errno(r, "Event loop failed: %m");
out:
	/* Threads first (each finishes its current call), then what they worked on. */
	stop_workers(&s);
	drop_all_pending(&s);
	sd_event_source_disable_unref(s.timeout_source);
	sd_event_source_disable_unref(s.recover_source);
	while (s.connections)
		connection_free(s.connections);
	sd_event_source_disable_unref(listen_src);
	audit_detach_event(s.audit);
	sd_event_source_disable_unref(housekeeping);
	if (bound)
		unlink(socket_path);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	buf_done(&s.scratch);
	return r < 0 ? r : 0;
}
