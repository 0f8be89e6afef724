/* SPDX-License-Identifier: MIT */
/*
 * The loop: signals, the listening socket, status, idle exit and heap trim.
 * It builds the audit gate, the in-flight queue and the list of
 * connections (server-internal.h says who owns what) and tears them down.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
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
#include "listen.h"
#include "log.h"
#include "server-internal.h"

/* Status, timeouts and idle checks run on this period: no syscall on the request path. */
#define HOUSEKEEPING_USEC (1ull * 1000000ull)
/* Housekeeping ticks (seconds) without a request before the heap is trimmed. */
#define TRIM_AFTER_QUIET_TICKS 5u

/* server.c's own state around the Server the connections share. */
typedef struct Loop {
	Server server;
	/* The listening socket. */
	int listen_fd;
	sd_event_source *listen_source;
	char *socket_path; /* bound by hand: unlinked at exit */
	unsigned max_connections;
	LogThrottle refused_log; /* refused connections: a peer can make as many as it likes */
	LogThrottle accept_log;	 /* accept4() out of fds or memory */
	sd_event_source *accept_retry; /* re-enables accepting after EMFILE */
	/* The housekeeping timer: status, idle exit, heap trim. */
	sd_event_source *housekeeping;
	uint64_t exit_idle_usec; /* 0: never exit for idleness */
	char last_status[256];
	uint64_t requests_at_last_tick;
	unsigned quiet_ticks;
	bool heap_trimmed;
} Loop;

static void update_status(Loop *l)
{
	char status[sizeof(l->last_status)];

	service_describe(l->server.service, l->server.n_connections, status, sizeof(status));
	if (strcmp(status, l->last_status) == 0)
		return;
	memcpy(l->last_status, status, sizeof(status));
	(void)sd_notifyf(0, "STATUS=%s", status);
}

static void status_changed(void *userdata)
{
	Loop *l = userdata;

	l->last_status[0] = '\0';
	update_status(l);
}

/*
 * A burst leaves its buffers free in malloc's heap, which keeps the pages
 * (2.6 MiB resident after a 64x32 load, 0.5 MiB of it in use). Once no
 * request came for TRIM_AFTER_QUIET_TICKS housekeeping ticks, give them back,
 * once per quiet spell.
 */
static void trim_heap_when_quiet(Loop *l)
{
	if (l->server.n_requests != l->requests_at_last_tick) {
		l->requests_at_last_tick = l->server.n_requests;
		l->quiet_ticks = 0;
		l->heap_trimmed = false;
	} else if (!l->heap_trimmed && ++l->quiet_ticks >= TRIM_AFTER_QUIET_TICKS) {
		(void)malloc_trim(0);
		l->heap_trimmed = true;
	}
}

static int on_housekeeping(sd_event_source *src, uint64_t usec, void *userdata)
{
	Loop *l = userdata;
	Server *s = &l->server;
	uint64_t next = usec + HOUSEKEEPING_USEC, now = usec;

	update_status(l);
	trim_heap_when_quiet(l);
	/* usec is when this timer was due; connections carry the loop's later clock. */
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	list_for_each_safe(n, tmp, &s->connections)
		connection_sweep(list_entry(n, Connection, link), now);
	if (l->exit_idle_usec && s->n_connections == 0) {
		uint64_t idle_until = s->last_activity_usec + l->exit_idle_usec;
		if (usec >= idle_until) {
			/*
			 * Connections arriving from now on wait in the socket, which systemd
			 * holds; it starts us again for them, so none is lost.
			 */
			log_info("Idle for %" PRIu64 " s, exiting; socket activation restarts on demand",
				 l->exit_idle_usec / 1000000);
			(void)sd_notify(0, "STOPPING=1\nSTATUS=Exiting: idle");
			sd_event_source_set_enabled(l->listen_source, SD_EVENT_OFF);
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
	Loop *l = userdata;
	Service *service = l->server.service;
	_cleanup_free_ char *error = NULL, *path = NULL;
	Config *config = NULL;
	int r;

	(void)src, (void)si;
	(void)sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
	/* SIGHUP is also what log rotation sends: the chain continues into the new file. */
	(void)audit_reopen(l->server.gate.audit);
	path = strdup(service_config(service)->path);
	r = path ? config_load(path, &config, &error) : -ENOMEM;
	if (r < 0) {
		log_error("Reload refused, the previous configuration stays in force: %s",
			  error ? error : strerror(-r));
		(void)audit_reload(l->server.gate.audit, "refused: the configuration is invalid");
	} else
		(void)service_reload(service, config);
	recovery_schedule(&l->server.inflight.recovery, 0);
	status_changed(l);
	(void)sd_notify(0, "READY=1");
	return 0;
}

/* Out of fds or memory: accept4() would fail again at once, so stop listening for a moment. */
#define ACCEPT_PAUSE_USEC (100ull * 1000ull)

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	Loop *l = userdata;

	(void)src, (void)usec;
	return sd_event_source_set_enabled(l->listen_source, SD_EVENT_ON);
}

/*
 * Measured before (issue 16): with the fd limit below what max-connections
 * needs, accept4() failed with EMFILE in a tight loop, 93 % CPU and 2.7
 * million log lines in 13 s. The connection stays in the backlog meanwhile.
 */
static void pause_accepting(Loop *l, int error)
{
	uint64_t now = 0;
	unsigned skipped = 0;
	int r;

	(void)sd_event_now(l->server.event, CLOCK_MONOTONIC, &now);
	if (log_throttle(&l->accept_log, now, 1000000ull, &skipped))
		log_warning_errno(error, "accept4() failed (%m); pausing for %llu ms, %u line(s) "
			     "like this skipped", ACCEPT_PAUSE_USEC / 1000, skipped);
	(void)sd_event_source_set_enabled(l->listen_source, SD_EVENT_OFF);
	if (!l->accept_retry) {
		r = sd_event_add_time_relative(l->server.event, &l->accept_retry, CLOCK_MONOTONIC,
					       ACCEPT_PAUSE_USEC, 0, on_accept_retry, l);
		if (r < 0) /* no timer: keep accepting rather than never again */
			(void)sd_event_source_set_enabled(l->listen_source, SD_EVENT_ON);
		return;
	}
	(void)sd_event_source_set_time_relative(l->accept_retry, ACCEPT_PAUSE_USEC);
	(void)sd_event_source_set_enabled(l->accept_retry, SD_EVENT_ONESHOT);
}

/* Refused: one line per second at most, a peer can make as many as it likes. */
static void refuse_connection(Loop *l, const Peer *peer, const char *why, unsigned n)
{
	uint64_t now = 0;
	unsigned skipped = 0;

	(void)sd_event_now(l->server.event, CLOCK_MONOTONIC, &now);
	if (log_throttle(&l->refused_log, now, 1000000ull, &skipped))
		log_warning("Refusing connection of pid %d uid %u: %u connections open (%s); %u "
			    "more refusal(s) not logged", (int)peer->pid, (unsigned)peer->uid, n, why,
			    skipped);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Loop *l = userdata;
	_cleanup_close_ int cfd = -EBADF;
	PeerLimits limits;
	PeerSlot *slot;
	Peer peer;
	int r;

	(void)src, (void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			pause_accepting(l, errno);
		else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(errno, "accept4() failed: %m");
		return 0;
	}
	/* Identity before any byte is read: later requests cannot change who asked. */
	r = peer_from_socket(cfd, &peer);
	if (r < 0) {
		log_warning_errno(r, "SO_PEERCRED failed, dropping connection: %m");
		return 0;
	}
	if (l->server.n_connections >= l->max_connections) {
		refuse_connection(l, &peer, "[server] max-connections", l->server.n_connections);
		peer_done(&peer);
		return 0;
	}
	/* Every peer is charged, matched by a policy or not (peer-limits.h). */
	limits = service_peer_limits(l->server.service, &peer);
	slot = peer_table_get(&l->server.peers, peer.uid);
	if (!slot || slot->connections >= limits.connections) {
		if (slot)
			refuse_connection(l, &peer, "max-connections-per-uid", slot->connections);
		peer_table_put(&l->server.peers, slot);
		peer_done(&peer);
		return 0;
	}
	(void)connection_new(&l->server, TAKE_FD(cfd), &peer, slot);
	return 0;
}

/* With one client and none of its requests at the token a sync thread overlaps nothing. */
static bool loop_busy(AuditGate *g)
{
	Server *s = list_entry(g, Server, gate);

	return inflight_busy(&s->inflight) || s->n_connections > 1;
}

static const AuditGateOps gate_ops = {
	.busy = loop_busy,
	.released = connection_released,
};

int server_block_signals(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(errno, "sigprocmask(): %m");
	return 0;
}

static int loop_signals(sd_event *e, Loop *l)
{
	int r;

	/* Blocked already when main loaded the module (server.h); a no-op then. */
	r = server_block_signals();
	if (r < 0)
		return r;
	r = sd_event_add_signal(e, NULL, SIGTERM, on_terminate, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGINT, on_terminate, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGHUP, on_reload, l);
	if (r < 0)
		return log_error_errno(r, "Cannot watch signals: %m");
	/* WatchdogSec= in the unit: pings come from the loop, so a stuck loop gets noticed. */
	r = sd_event_set_watchdog(e, true);
	if (r < 0)
		return log_error_errno(r, "Cannot set up the watchdog: %m");
	return 0;
}

static int loop_listen(Loop *l, const Config *cfg)
{
	bool bound = false;
	int r;

	/* The Config may be replaced by a reload; keep what must outlive it. */
	l->socket_path = strdup(cfg->socket_path);
	if (!l->socket_path)
		return -ENOMEM;
	r = listen_socket_open(l->socket_path, &l->listen_fd, &bound);
	if (r < 0)
		return r;
	if (!bound) {
		free(l->socket_path);
		l->socket_path = NULL;
	}
	r = sd_event_add_io(l->server.event, &l->listen_source, l->listen_fd, EPOLLIN, on_accept, l);
	if (r < 0)
		return log_error_errno(r, "Cannot watch the listening socket: %m");
	if (cfg->exit_idle && bound)
		log_notice("exit-idle ignored: the socket was not passed by systemd, so nobody would "
			   "restart the daemon");
	else
		l->exit_idle_usec = cfg->exit_idle * 1000000ull;
	return 0;
}

static int loop_housekeeping(Loop *l)
{
	sd_event *e = l->server.event;
	int r;

	(void)sd_event_now(e, CLOCK_MONOTONIC, &l->server.last_activity_usec);
	r = sd_event_add_time_relative(e, &l->housekeeping, CLOCK_MONOTONIC,
				       l->exit_idle_usec && l->exit_idle_usec < HOUSEKEEPING_USEC ?
					       l->exit_idle_usec : HOUSEKEEPING_USEC,
				       0, on_housekeeping, l);
	if (r < 0)
		return log_error_errno(r, "Cannot arm the housekeeping timer: %m");
	(void)sd_event_source_set_enabled(l->housekeeping, SD_EVENT_ON);
	return 0;
}

/* Every exit of server_run() comes here: threads first, then what they worked on. */
static void loop_done(Loop *l, int r)
{
	Server *s = &l->server;
	ListNode *n;

	inflight_done(&s->inflight);
	while ((n = list_first(&s->connections)))
		connection_free(list_entry(n, Connection, link));
	l->listen_source = sd_event_source_disable_unref(l->listen_source);
	l->accept_retry = sd_event_source_disable_unref(l->accept_retry);
	l->housekeeping = sd_event_source_disable_unref(l->housekeeping);
	if (l->socket_path)
		unlink(l->socket_path);
	free(l->socket_path);
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	buf_done(&s->scratch);
	peer_table_done(&s->peers);
	/* Last, as when main() wrote it: the stop record follows everything the loop did. */
	audit_gate_done(&s->gate, r < 0 ? "the event loop failed" : NULL);
}

int server_run(Service *service)
{
	const Config *cfg = service_config(service);
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	Loop l = {
		.server = {
			.service = service,
			.max_frame = cfg->max_frame,
			.read_timeout_usec = cfg->read_timeout * 1000000ull,
			.write_timeout_usec = cfg->write_timeout * 1000000ull,
			.idle_timeout_usec = cfg->idle_timeout * 1000000ull,
		},
		.listen_fd = -EBADF,
		.max_connections = cfg->max_connections,
	};
	Server *s = &l.server;
	int r;

	list_init(&s->connections);
	r = sd_event_default(&e);
	if (r < 0) {
		log_error_errno(r, "Cannot create event loop: %m");
		goto out;
	}
	s->event = e;
	r = audit_gate_init(&s->gate, e, service_audit(service), &gate_ops);
	if (r >= 0)
		r = loop_signals(e, &l);
	if (r < 0)
		goto out;
	/* Each connection holds its socket and the peer's pidfd. */
	fd_limit_ensure(2u * l.max_connections + 64u);
	/* Listen first: a daemon that cannot listen starts no thread and opens no session. */
	r = loop_listen(&l, cfg);
	if (r >= 0)
		r = inflight_init(&s->inflight, e, service, cfg->sessions,
				  cfg->request_timeout * 1000000ull, cfg->max_queue);
	if (r >= 0)
		r = inflight_start(&s->inflight);
	if (r >= 0)
		r = loop_housekeeping(&l);
	if (r < 0)
		goto out;
	s->inflight.recovery.recovered = status_changed;
	s->inflight.recovery.userdata = &l;
	service_describe(service, 0, l.last_status, sizeof(l.last_status));
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", l.last_status);
	r = sd_event_loop(e);
	if (r < 0)
		log_error_errno(r, "Event loop failed: %m");
out:
	loop_done(&l, r);
	return r < 0 ? r : 0;
}
