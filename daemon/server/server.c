/* SPDX-License-Identifier: MIT */
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
#include "frame.h"
#include "listen.h"
#include "log.h"
#include "request.h"
#include "server-internal.h"

/* Status, timeouts and idle checks run on this period: no syscall on the request path. */
#define HOUSEKEEPING_USEC (1ull * 1000000ull)

void update_status(Server *s)
{
	char status[sizeof(s->last_status)];

	service_describe(s->service, s->n_connections, status, sizeof(status));
	if (strcmp(status, s->last_status) == 0)
		return;
	memcpy(s->last_status, status, sizeof(status));
	(void)sd_notifyf(0, "STATUS=%s", status);
}

/*
 * A burst leaves its buffers free in malloc's heap, which keeps the pages
 * (2.6 MiB resident after a 64x32 load, 0.5 MiB of it in use). Once no
 * request came for TRIM_AFTER_QUIET_TICKS housekeeping ticks, give them back,
 * once per quiet spell.
 */
static void trim_heap_when_quiet(Server *s)
{
	if (s->n_requests != s->requests_at_last_tick) {
		s->requests_at_last_tick = s->n_requests;
		s->quiet_ticks = 0;
		s->heap_trimmed = false;
	} else if (!s->heap_trimmed && ++s->quiet_ticks >= TRIM_AFTER_QUIET_TICKS) {
		(void)malloc_trim(0);
		s->heap_trimmed = true;
	}
}

static int on_housekeeping(sd_event_source *src, uint64_t usec, void *userdata)
{
	Server *s = userdata;
	uint64_t next = usec + HOUSEKEEPING_USEC;

	update_status(s);
	trim_heap_when_quiet(s);
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
		r = audit_attach_event(s.audit, e, on_audit_committed, &s);
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

