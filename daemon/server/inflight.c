/* SPDX-License-Identifier: MIT */
/* The in-flight queue: requests waiting for the token, the signing threads, request timeouts. */
#include "inflight.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/epoll.h>

#include "log.h"

static Pending *pending_of(ListNode *n)
{
	return n ? list_entry(n, Pending, link) : NULL;
}

static void arm_timeout(Inflight *q)
{
	Pending *oldest = pending_of(list_first(&q->queue));

	if (!oldest) {
		(void)sd_event_source_set_enabled(q->timeout_source, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(q->timeout_source, oldest->deadline_usec);
	(void)sd_event_source_set_enabled(q->timeout_source, SD_EVENT_ONESHOT);
}

/* Hands a request to the token threads; its answer arrives in on_workers_done(). */
void inflight_submit(Inflight *q, InflightClient *cl, Pending *p)
{
	uint64_t now = 0;
	bool first = list_empty(&q->queue);

	(void)sd_event_now(q->event, CLOCK_MONOTONIC, &now);
	p->client = cl;
	p->deadline_usec = now + q->request_timeout_usec;
	list_push_back(&q->queue, &p->link);
	cl->n_inflight++;
	if (first)
		arm_timeout(q);
	workers_submit(q->workers, &p->job);
}

void inflight_flush(Inflight *q)
{
	if (q->workers)
		workers_flush(q->workers);
}

bool inflight_busy(const Inflight *q)
{
	return !list_empty(&q->queue);
}

bool inflight_quiet(const Inflight *q)
{
	return list_empty(&q->queue) && list_empty(&q->orphans);
}

unsigned inflight_threads(const Inflight *q)
{
	return q->workers ? workers_count(q->workers) : 0;
}

static void touch(ListNode *round, InflightClient *cl)
{
	if (!list_linked(&cl->touched))
		list_push_front(round, &cl->touched);
}

/* Serves each client once, after all of this round's answers are appended. */
static void serve_touched(ListNode *round)
{
	ListNode *n;

	while ((n = list_pop_front(round)))
		list_entry(n, InflightClient, touched)->ops->served(list_entry(n, InflightClient, touched));
}

static int on_workers_done(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Inflight *q = userdata;
	ListNode round;
	Job *job;

	(void)src, (void)fd, (void)revents;
	list_init(&round);
	job = workers_take_done(q->workers);
	while (job) {
		Pending *p = (Pending *)job;
		InflightClient *cl = p->client;

		job = job->next;
		list_remove(&p->link);
		if (p->timed_out) {
			/* Answered already; whatever the token made now is dropped, unrecorded. */
			pending_free(p);
			continue;
		}
		if (token_error_is_device_failure(request_token_result(p)))
			recovery_token_failed(&q->recovery, request_token_result(p));
		cl->ops->answer(cl, p, false);
		pending_free(p);
		cl->n_inflight--;
		touch(&round, cl);
	}
	arm_timeout(q);
	serve_touched(&round);
	return 0;
}

static int on_request_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	Inflight *q = userdata;
	ListNode round;
	Pending *p;

	(void)src;
	list_init(&round);
	while ((p = pending_of(list_first(&q->queue))) && p->deadline_usec <= usec) {
		InflightClient *cl = p->client;

		/* The worker may be stuck in the token: p waits among the orphans for it. */
		list_remove(&p->link);
		__atomic_store_n(&p->timed_out, true, __ATOMIC_RELEASE);
		list_push_back(&q->orphans, &p->link);
		cl->ops->answer(cl, p, true);
		cl->n_inflight--;
		touch(&round, cl);
		recovery_token_failed(&q->recovery, -ETIMEDOUT);
	}
	arm_timeout(q);
	serve_touched(&round);
	return 0;
}

int inflight_start_workers(Inflight *q)
{
	int r;

	r = workers_new(service_token(q->service), q->n_sessions, &q->workers);
	if (r < 0)
		return log_error_errno(r, "Cannot start %u signing thread(s): %m", q->n_sessions);
	r = sd_event_add_io(q->event, &q->workers_source, workers_fd(q->workers), EPOLLIN,
			    on_workers_done, q);
	if (r < 0) {
		q->workers = workers_free(q->workers);
		return log_error_errno(r, "Cannot watch the signing threads: %m");
	}
	return 0;
}

void inflight_stop_workers(Inflight *q)
{
	q->workers_source = sd_event_source_disable_unref(q->workers_source);
	q->workers = workers_free(q->workers);
}

int inflight_init(Inflight *q, sd_event *e, Service *service, unsigned n_sessions,
		  uint64_t request_timeout_usec)
{
	int r;

	*q = (Inflight){
		.event = e,
		.service = service,
		.n_sessions = n_sessions,
		.request_timeout_usec = request_timeout_usec,
	};
	list_init(&q->queue);
	list_init(&q->orphans);
	r = sd_event_add_time(e, &q->timeout_source, CLOCK_MONOTONIC, UINT64_MAX, 0,
			      on_request_timeout, q);
	if (r >= 0)
		r = recovery_init(&q->recovery, e, q, service);
	if (r < 0)
		return log_error_errno(r, "Cannot arm the request timers: %m");
	(void)sd_event_source_set_enabled(q->timeout_source, SD_EVENT_OFF);
	return 0;
}

int inflight_start(Inflight *q)
{
	int r = inflight_start_workers(q);

	if (r >= 0)
		log_info("%u signing thread(s), each with its own session; request timeout %" PRIu64
			 " s", workers_count(q->workers), q->request_timeout_usec / 1000000);
	return r;
}

/*
 * With the threads stopped, every request still around goes, unanswered.
 * Finished or not, each is in the queue or, timed out, among the orphans.
 */
void inflight_done(Inflight *q)
{
	Pending *p;

	if (!q->event)
		return; /* never initialised */
	inflight_stop_workers(q);
	while ((p = pending_of(list_pop_front(&q->queue)))) {
		p->client->n_inflight--;
		pending_free(p);
	}
	while ((p = pending_of(list_pop_front(&q->orphans))))
		pending_free(p);
	recovery_done(&q->recovery);
	q->timeout_source = sd_event_source_disable_unref(q->timeout_source);
}
