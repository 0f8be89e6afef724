/* SPDX-License-Identifier: MIT */
/* Requests waiting for the token: the signing threads, timeouts, and reopening a failed token. */
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
void submit(Server *s, Connection *c, Pending *p)
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

void schedule_recovery(Server *s, uint64_t delay_usec)
{
	uint64_t now = 0;

	if (!service_token_recoverable(s->service))
		return;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	(void)sd_event_source_set_time(s->recover_source, now + delay_usec);
	(void)sd_event_source_set_enabled(s->recover_source, SD_EVENT_ONESHOT);
}

int start_workers(Server *s)
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

void stop_workers(Server *s)
{
	s->workers_source = sd_event_source_disable_unref(s->workers_source);
	s->workers = workers_free(s->workers);
}

/*
 * The token failed: once no request is with the threads any more (a stuck
 * call keeps its thread, and so the old token, until it returns), stop them,
 * reopen the token, start them again. Until then requests fail fast.
 */
int on_recover(sd_event_source *src, uint64_t usec, void *userdata)
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
void drop_all_pending(Server *s)
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

int on_workers_done(sd_event_source *src, int fd, uint32_t revents, void *userdata)
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

int on_request_timeout(sd_event_source *src, uint64_t usec, void *userdata)
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

