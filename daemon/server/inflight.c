/* SPDX-License-Identifier: MIT */
/* The in-flight queue: admission, turns per uid, the signing threads, request timeouts. */
#include "inflight.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/epoll.h>

#include "log.h"

/*
 * Requests handed to the threads at once, per thread: enough that a thread
 * finds its next job without waiting for the loop, few enough that a uid
 * arriving now waits behind about INFLIGHT_DISPATCH_BUDGET_USEC of calls
 * per thread, not a backlog. So the window follows what a call costs: slow
 * calls (RSA, a TPM, a hung module) get 2 per thread, fast ones (HMAC,
 * ~12 us on SoftHSM) up to 32. A fixed window of 2 cost HS256 at 16x32
 * half its rate (101k -> 36k tokens/s, server CPU 0.018 -> 0.039 s per 1k
 * tokens, quiet 2-core machine): the threads idled while the loop woke to
 * hand them two more.
 */
#define INFLIGHT_DISPATCH_MIN 2u
#define INFLIGHT_DISPATCH_MAX 32u
#define INFLIGHT_DISPATCH_BUDGET_USEC 1000u
/* Where the average starts: slow, so a new daemon is fair before it has measured. */
#define INFLIGHT_CALL_USEC_INITIAL (INFLIGHT_DISPATCH_BUDGET_USEC / INFLIGHT_DISPATCH_MIN)
/* How often waiting and running requests are checked against request-timeout. */
#define INFLIGHT_CHECK_USEC (100ull * 1000ull)

static Pending *pending_of(ListNode *n)
{
	return n ? list_entry(n, Pending, link) : NULL;
}

static uint64_t loop_now(const Inflight *q)
{
	uint64_t now = 0;

	(void)sd_event_now(q->event, CLOCK_MONOTONIC, &now);
	return now;
}

/* While anything waits or runs, a check every INFLIGHT_CHECK_USEC; else none. */
static void arm_timeout(Inflight *q)
{
	int on = SD_EVENT_OFF;

	if (list_empty(&q->queue)) {
		(void)sd_event_source_set_enabled(q->timeout_source, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_get_enabled(q->timeout_source, &on);
	if (on != SD_EVENT_OFF)
		return;
	(void)sd_event_source_set_time(q->timeout_source, loop_now(q) + INFLIGHT_CHECK_USEC);
	(void)sd_event_source_set_enabled(q->timeout_source, SD_EVENT_ONESHOT);
}

const char *inflight_refusal(const Inflight *q, const InflightClient *cl, unsigned uid_limit,
			     char *buf, size_t size)
{
	if (q->n_queued >= q->max_queue) {
		snprintf(buf, size, "%u requests wait for the token ([server] max-queue); try again "
			 "later", q->n_queued);
		return "queue-full";
	}
	if (cl->slot && cl->slot->inflight >= uid_limit) {
		snprintf(buf, size, "uid %u has %u requests waiting for the token "
			 "(max-inflight-per-uid); try again later", (unsigned)cl->slot->uid,
			 cl->slot->inflight);
		return "inflight-limit";
	}
	return NULL;
}

/* The next uid's oldest waiting request goes to the threads; that uid goes to the back. */
static Pending *next_turn(Inflight *q)
{
	ListNode *n = list_pop_front(&q->turns);
	PeerSlot *slot;
	Pending *p;

	if (!n)
		return NULL;
	slot = list_entry(n, PeerSlot, turn);
	p = list_entry(list_pop_front(&slot->waiting), Pending, wait);
	if (!list_empty(&slot->waiting))
		list_push_back(&q->turns, &slot->turn);
	return p;
}

static unsigned dispatch_window(const Inflight *q)
{
	uint64_t w = INFLIGHT_DISPATCH_BUDGET_USEC / (q->call_usec ? q->call_usec : 1);

	return w < INFLIGHT_DISPATCH_MIN ? INFLIGHT_DISPATCH_MIN :
	       w > INFLIGHT_DISPATCH_MAX ? INFLIGHT_DISPATCH_MAX : (unsigned)w;
}

/* What the threads measured of one call: the average moves an eighth of the way. */
static void note_call(Inflight *q, const Job *job)
{
	uint64_t started = __atomic_load_n(&job->started_usec, __ATOMIC_ACQUIRE);

	if (!started || job->finished_usec < started)
		return;
	q->call_usec = (q->call_usec * 7 + (job->finished_usec - started)) / 8;
}

static void dispatch(Inflight *q)
{
	unsigned threads, max;
	Pending *p;

	if (!q->workers)
		return; /* the token is being reopened; they wait (or time out) */
	threads = workers_count(q->workers);
	max = threads ? threads * dispatch_window(q) : UINT32_MAX;
	while (q->n_dispatched < max && (p = next_turn(q))) {
		p->dispatched = true;
		q->n_dispatched++;
		workers_submit(q->workers, &p->job);
	}
	workers_flush(q->workers);
}

void inflight_submit(Inflight *q, InflightClient *cl, Pending *p)
{
	p->client = cl;
	p->submitted_usec = loop_now(q);
	list_push_back(&q->queue, &p->link);
	q->n_queued++;
	cl->n_inflight++;
	cl->slot->inflight++;
	list_push_back(&cl->slot->waiting, &p->wait);
	if (!list_linked(&cl->slot->turn))
		list_push_back(&q->turns, &cl->slot->turn);
	arm_timeout(q);
}

void inflight_flush(Inflight *q)
{
	dispatch(q);
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

/* p leaves the queue (not the threads: a dispatched one is theirs until it comes back). */
static void unqueue(Inflight *q, Pending *p)
{
	PeerSlot *slot = p->client->slot;

	list_remove(&p->link);
	q->n_queued--;
	p->client->n_inflight--;
	slot->inflight--;
	if (!p->dispatched) {
		list_remove(&p->wait);
		if (list_empty(&slot->waiting) && list_linked(&slot->turn))
			list_remove(&slot->turn);
	}
}

void inflight_forget_client(Inflight *q, InflightClient *cl)
{
	ListNode *n, *next;

	if (!cl->slot || cl->n_inflight == 0)
		return;
	for (n = list_first(&cl->slot->waiting); n && n != &cl->slot->waiting; n = next) {
		Pending *p = list_entry(n, Pending, wait);

		next = n->next;
		if (p->client != cl)
			continue;
		unqueue(q, p);
		request_abandon(p);
		pending_free(p);
	}
	arm_timeout(q);
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
		q->n_dispatched--;
		note_call(q, &p->job);
		if (p->timed_out) {
			/* Answered already; whatever the token made now is dropped, unrecorded. */
			list_remove(&p->link);
			pending_free(p);
			continue;
		}
		unqueue(q, p);
		if (token_error_is_device_failure(request_token_result(p)))
			recovery_token_failed(&q->recovery, request_token_result(p));
		cl->ops->answer(cl, p, INFLIGHT_ANSWERED);
		pending_free(p);
		touch(&round, cl);
	}
	dispatch(q);
	arm_timeout(q);
	serve_touched(&round);
	return 0;
}

/* Answers p now; one still with a thread waits among the orphans for it to let go. */
static void give_up(Inflight *q, Pending *p, InflightOutcome outcome, ListNode *round)
{
	InflightClient *cl = p->client;

	unqueue(q, p);
	cl->ops->answer(cl, p, outcome);
	touch(round, cl);
	if (!p->dispatched) {
		pending_free(p);
		return;
	}
	__atomic_store_n(&p->timed_out, true, __ATOMIC_RELEASE);
	__atomic_store_n(&p->job.cancelled, true, __ATOMIC_RELEASE);
	list_push_back(&q->orphans, &p->link);
}

/*
 * Every INFLIGHT_CHECK_USEC while requests are here. A token call running
 * past request-timeout is the token's failure; a request that waited that
 * long without a call is the queue's, and says so. While the token is down,
 * requests whose call has not started are answered at once (Invariant 6).
 */
static int on_request_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	Inflight *q = userdata;
	uint64_t t = q->request_timeout_usec;
	bool down = service_token_down(q->service);
	ListNode round, *n, *next;

	(void)src;
	list_init(&round);
	for (n = list_first(&q->queue); n && n != &q->queue; n = next) {
		Pending *p = pending_of(n);
		uint64_t started = __atomic_load_n(&p->job.started_usec, __ATOMIC_ACQUIRE);

		next = n->next;
		if (p->dispatched && started) {
			if (usec > started && usec - started >= t) {
				give_up(q, p, INFLIGHT_TOKEN_TIMEOUT, &round);
				recovery_token_failed(&q->recovery, -ETIMEDOUT);
				down = true;
			}
		} else if (down) {
			give_up(q, p, INFLIGHT_TOKEN_DOWN, &round);
		} else if (usec > p->submitted_usec && usec - p->submitted_usec >= t) {
			give_up(q, p, INFLIGHT_QUEUE_TIMEOUT, &round);
		}
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
		  uint64_t request_timeout_usec, unsigned max_queue)
{
	int r;

	*q = (Inflight){
		.event = e,
		.service = service,
		.n_sessions = n_sessions,
		.request_timeout_usec = request_timeout_usec,
		.max_queue = max_queue,
		.call_usec = INFLIGHT_CALL_USEC_INITIAL,
	};
	list_init(&q->queue);
	list_init(&q->orphans);
	list_init(&q->turns);
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
			 " s; at most %u requests queued", workers_count(q->workers),
			 q->request_timeout_usec / 1000000, q->max_queue);
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
	while ((p = pending_of(list_first(&q->queue)))) {
		unqueue(q, p);
		pending_free(p);
	}
	while ((p = pending_of(list_pop_front(&q->orphans))))
		pending_free(p);
	q->n_dispatched = 0;
	recovery_done(&q->recovery);
	q->timeout_source = sd_event_source_disable_unref(q->timeout_source);
}
