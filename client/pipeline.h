/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The pipelining state of a client, shared by pipeline-io.c (bytes in and
 * out, frames, matching responses to ids) and libhsmjwt-pipeline.c (the
 * public submit/collect calls). Three sets: bytes received but not yet
 * parsed, ids sent whose response has not arrived ("pending"), and responses
 * that arrived but were not yet collected ("arrived", in arrival order).
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "client-internal.h"

typedef struct Arrived {
	struct Arrived *next;
	Hsmjwt__V1__Response *resp;
} Arrived;

struct client_pipeline {
	uint8_t *in; /* received bytes not yet parsed into responses; wiped when consumed */
	size_t in_len, in_cap;
	uint64_t *pending;
	uint32_t n_pending, cap_pending;
	Arrived *head, *tail;
	uint32_t n_arrived;
	uint32_t max_in_flight;
	int broken; /* 0, or the outcome every pending request gets: the connection failed */
	char broken_message[CLIENT_ERROR_MESSAGE_MAX]; /* the daemon's word on it, if any */
};

/* Creates c's pipeline on first use; NULL when out of memory. */
struct client_pipeline *pipeline_get(hsmjwt_client *c);

int pending_find(const struct client_pipeline *p, uint64_t id);
void pending_remove(struct client_pipeline *p, int i);
bool arrived_has(const struct client_pipeline *p, uint64_t id);
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
