/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The in-flight queue: requests waiting for the token, the signing threads
 * that answer them, the request timeout, and (recovery.c) reopening a
 * failed token. It owns each Pending from inflight_submit() until it has
 * handed the answer to the request's client and freed it.
 *
 * The token is judged by the token, not by the queue (issue 16: one uid's
 * RS256 backlog timed out in the queue, and each timeout marked the token
 * failed for everyone):
 * - admission: past max-queue requests in all, or its uid's max-inflight,
 *   a request is turned away at once (rule queue-full, inflight-limit);
 * - fairness: requests wait per uid, and the threads get them one uid after
 *   the other, at most INFLIGHT_DISPATCH_PER_THREAD per thread at a time,
 *   so one uid's backlog delays another's request by about one call;
 * - deadline: request-timeout counts from the start of the token call (the
 *   thread stamps it). Only a call that itself runs past it marks the token
 *   failed; a request that waited that long without a call gets
 *   "unavailable" (rule queue-timeout) and the token is left alone.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "list.h"
#include "peer-table.h"
#include "recovery.h"
#include "request.h"
#include "service.h"
#include "workers.h"

typedef struct InflightClient InflightClient;

typedef enum InflightOutcome {
	INFLIGHT_ANSWERED,	/* the token answered */
	INFLIGHT_TOKEN_TIMEOUT, /* its token call ran past request-timeout */
	INFLIGHT_QUEUE_TIMEOUT, /* it waited request-timeout without a token call */
	INFLIGHT_TOKEN_DOWN,	/* the token failed while it waited */
} InflightOutcome;

/* What the queue needs from whoever sent a request (a connection). */
typedef struct InflightClientOps {
	/* p's answer is here: append its reply, or record it abandoned. p is freed afterwards. */
	void (*answer)(InflightClient *cl, Pending *p, InflightOutcome outcome);
	/* All answers of this round were given: serve the client once. */
	void (*served)(InflightClient *cl);
} InflightClientOps;

/* Embedded in the client; the queue keeps it alive while n_inflight > 0. */
struct InflightClient {
	const InflightClientOps *ops;
	PeerSlot *slot;	     /* its uid's: per-uid limits and turns */
	unsigned n_inflight; /* its requests in the queue */
	ListNode touched;    /* on a round's list of clients to serve */
};

typedef struct Inflight {
	sd_event *event;
	Service *service;
	Workers *workers; /* NULL while the token is being reopened */
	sd_event_source *workers_source, *timeout_source;
	ListNode queue;	  /* Pending.link, oldest first: waiting or with a thread */
	ListNode orphans; /* timed out, still with a worker */
	ListNode turns;	  /* PeerSlot.turn: uids with requests waiting, next first */
	unsigned n_queued;     /* on queue */
	unsigned n_dispatched; /* handed to the threads, finished or not (orphans too) */
	unsigned max_queue;    /* [server] max-queue */
	uint64_t call_usec;    /* moving average of a token call's duration, for dispatch() */
	uint64_t request_timeout_usec;
	unsigned n_sessions;
	Recovery recovery;
} Inflight;

static inline void inflight_client_init(InflightClient *cl, const InflightClientOps *ops,
					PeerSlot *slot)
{
	*cl = (InflightClient){ .ops = ops, .slot = slot };
	list_init(&cl->touched);
}

/* Arms nothing yet; inflight_start() starts the threads. */
int inflight_init(Inflight *q, sd_event *e, Service *service, unsigned n_sessions,
		  uint64_t request_timeout_usec, unsigned max_queue);
int inflight_start(Inflight *q);
/* Threads first (each finishes its current call), then the requests they worked on. */
void inflight_done(Inflight *q);

/*
 * NULL if one more request of cl's may wait; else the rule that turns it
 * away ("queue-full", "inflight-limit") and the why in buf.
 */
const char *inflight_refusal(const Inflight *q, const InflightClient *cl, unsigned uid_limit,
			     char *buf, size_t size);
/* Queues p for the signing threads; its answer reaches cl through cl->ops. */
void inflight_submit(Inflight *q, InflightClient *cl, Pending *p);
/*
 * cl went away: its requests that no thread took yet leave the queue,
 * recorded as abandoned (client-gone), instead of being signed for no one
 * and holding its uid's share; those at a thread finish as before.
 */
void inflight_forget_client(Inflight *q, InflightClient *cl);
/* The requests submitted since the last flush reach the threads together. */
void inflight_flush(Inflight *q);
/* Requests are waiting for the token. */
bool inflight_busy(const Inflight *q);
unsigned inflight_threads(const Inflight *q);

/* Used by recovery.c: the threads without their requests. */
bool inflight_quiet(const Inflight *q);
void inflight_stop_workers(Inflight *q);
int inflight_start_workers(Inflight *q);
