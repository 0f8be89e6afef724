/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The pipelining state of a client, shared by pipeline-io.c (bytes in and
 * out, frames, matching responses to ids) and libhsmjwt-pipeline.c (the
 * public submit/collect calls). Four sets: bytes received but not yet
 * parsed, ids sent whose response has not arrived ("pending"), responses
 * that arrived but were not yet collected ("arrived", in arrival order), and
 * ids whose connection broke before their response came ("failed", with the
 * error each gets). When the connection breaks, every pending id becomes a
 * failed one at once, so a new connection can start with nothing pending.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "client-internal.h"

typedef struct Arrived {
	struct Arrived *next;
	Hsmjwt__V1__Response *resp;
} Arrived;

typedef struct Failed {
	uint64_t id;
	int error;
} Failed;

struct client_pipeline {
	uint8_t *in; /* received bytes not yet parsed into responses; wiped when consumed */
	size_t in_len, in_cap;
	uint64_t *pending;
	uint32_t n_pending, cap_pending;
	Arrived *head, *tail;
	uint32_t n_arrived;
	Failed *failed;
	uint32_t n_failed, cap_failed;
	uint32_t max_in_flight;
	int broken; /* 0, or why the connection failed: it is closed, submit opens another */
	int closing; /* 0, or the error the daemon announced (id 0) before closing the stream */
	char broken_message[CLIENT_ERROR_MESSAGE_MAX]; /* the daemon's word on it, if any */
};

static inline uint32_t pipeline_in_flight(const struct client_pipeline *p)
{
	return p->n_pending + p->n_arrived + p->n_failed;
}

/* Creates c's pipeline on first use; NULL when out of memory. */
struct client_pipeline *pipeline_get(hsmjwt_client *c);

int pending_find(const struct client_pipeline *p, uint64_t id);
void pending_remove(struct client_pipeline *p, int i);
bool arrived_has(const struct client_pipeline *p, uint64_t id);
bool failed_has(const struct client_pipeline *p, uint64_t id);
/* Removes the first failed id (any) or id itself; its error, or 0 when there is none. */
int failed_take(struct client_pipeline *p, bool any, uint64_t id, uint64_t *ret_id);
/* Room for one more request in pending, and for all of them in failed. */
int pipeline_reserve(struct client_pipeline *p);
/* After a break: forgets the old connection's bytes and opens a new one if needed. */
int pipeline_restart(hsmjwt_client *c);
/* Unlinks the first arrived response (any) or the one with id; NULL if none. */
Hsmjwt__V1__Response *arrived_take(struct client_pipeline *p, bool any, uint64_t id);

/* A deadline timeout_ms from now; all zero (none) for 0. */
struct timespec deadline_after(uint32_t timeout_ms);
/*
 * Waits until c's socket is readable (or, with out, writable) or deadline
 * passes. Returns poll's revents, -ETIMEDOUT, -EAGAIN when nonblock and
 * nothing is ready, or -errno.
 */
int wait_fd(hsmjwt_client *c, bool out, const struct timespec *deadline, bool nonblock);
/*
 * Reads what has arrived and files every complete response: the one with id
 * want (0: none) goes to *ret_wanted and 1 is returned; pending ones join the
 * arrived list; others are dropped. 0 when nothing wanted came, -errno once
 * the connection broke (p->broken says the outcome of pending requests).
 */
int pump(hsmjwt_client *c, uint64_t want, Hsmjwt__V1__Response **ret_wanted);
/* Frames and sends req; reads responses meanwhile, so neither side blocks the other. */
int pack_and_send(hsmjwt_client *c, Hsmjwt__V1__Request *req);
