/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The in-flight queue: requests waiting for the token, the signing threads
 * that answer them, the request timeout, and (recovery.c) reopening a
 * failed token. It owns each Pending from inflight_submit() until it has
 * handed the answer to the request's client and freed it.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "list.h"
#include "recovery.h"
#include "request.h"
#include "service.h"
#include "workers.h"

typedef struct InflightClient InflightClient;

/* What the queue needs from whoever sent a request (a connection). */
typedef struct InflightClientOps {
	/*
	 * p's answer is here (timed_out: the token did not answer in time):
	 * append its reply, or record it abandoned. p is freed afterwards.
	 */
	void (*answer)(InflightClient *cl, Pending *p, bool timed_out);
	/* All answers of this round were given: serve the client once. */
	void (*served)(InflightClient *cl);
} InflightClientOps;

/* Embedded in the client; the queue keeps it alive while n_inflight > 0. */
struct InflightClient {
	const InflightClientOps *ops;
	unsigned n_inflight; /* its requests in the queue */
	ListNode touched;    /* on a round's list of clients to serve */
};

typedef struct Inflight {
	sd_event *event;
	Service *service;
	Workers *workers; /* NULL while the token is being reopened */
	sd_event_source *workers_source, *timeout_source;
	ListNode queue;	  /* Pending.link, oldest first: they share one timeout */
	ListNode orphans; /* timed out, still with a worker */
	uint64_t request_timeout_usec;
	unsigned n_sessions;
	Recovery recovery;
} Inflight;

static inline void inflight_client_init(InflightClient *cl, const InflightClientOps *ops)
{
	*cl = (InflightClient){ .ops = ops };
	list_init(&cl->touched);
}

/* Arms nothing yet; inflight_start() starts the threads. */
int inflight_init(Inflight *q, sd_event *e, Service *service, unsigned n_sessions,
		  uint64_t request_timeout_usec);
int inflight_start(Inflight *q);
/* Threads first (each finishes its current call), then the requests they worked on. */
void inflight_done(Inflight *q);

/* Hands p to the signing threads; its answer reaches cl through cl->ops. */
void inflight_submit(Inflight *q, InflightClient *cl, Pending *p);
/* The requests submitted since the last flush reach the threads together. */
void inflight_flush(Inflight *q);
/* Requests are waiting for the token. */
bool inflight_busy(const Inflight *q);
unsigned inflight_threads(const Inflight *q);

/* Used by recovery.c: the threads without their requests. */
bool inflight_quiet(const Inflight *q);
void inflight_stop_workers(Inflight *q);
int inflight_start_workers(Inflight *q);
