/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Token recovery: the timer and the backoff that reopen a failed token once
 * no request is with the signing threads. The token's health (down, PIN
 * refused) is the service's, which answers requests from it; this is the
 * one place that acts on it.
 */

#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Inflight Inflight;
typedef struct Service Service;

typedef struct Recovery {
	Inflight *queue; /* the threads to stop and start again */
	Service *service;
	sd_event_source *timer;
	uint64_t backoff_usec;
	void (*recovered)(void *userdata); /* the token is back: the status changed */
	void *userdata;
} Recovery;

int recovery_init(Recovery *rec, sd_event *e, Inflight *queue, Service *service);
void recovery_done(Recovery *rec);
/* A token call failed as a device would: mark the token down, try to reopen it. */
void recovery_token_failed(Recovery *rec, int error);
/* Try again after delay_usec (0: at the next loop iteration), if the token is down. */
void recovery_schedule(Recovery *rec, uint64_t delay_usec);
