/* SPDX-License-Identifier: MIT */
/* Reopening a failed token, with backoff, once the signing threads let go of it. */
#include "recovery.h"

#include <errno.h>
#include <inttypes.h>

#include "inflight.h"
#include "log.h"
#include "service.h"

#define RECOVER_FIRST_USEC (100ull * 1000ull)
#define RECOVER_MAX_USEC (5ull * 1000000ull)

void recovery_schedule(Recovery *rec, uint64_t delay_usec)
{
	uint64_t now = 0;

	if (!service_token_recoverable(rec->service))
		return;
	(void)sd_event_now(sd_event_source_get_event(rec->timer), CLOCK_MONOTONIC, &now);
	(void)sd_event_source_set_time(rec->timer, now + delay_usec);
	(void)sd_event_source_set_enabled(rec->timer, SD_EVENT_ONESHOT);
}

void recovery_token_failed(Recovery *rec, int error)
{
	service_token_failed(rec->service, error);
	recovery_schedule(rec, 0);
}

/*
 * The token failed: once no request is with the threads any more (a stuck
 * call keeps its thread, and so the old token, until it returns), stop them,
 * reopen the token, start them again. Until then requests fail fast.
 */
static int on_recover(sd_event_source *src, uint64_t usec, void *userdata)
{
	Recovery *rec = userdata;
	int r;

	(void)src, (void)usec;
	if (!service_token_recoverable(rec->service))
		return 0;
	if (!inflight_quiet(rec->queue)) {
		recovery_schedule(rec, RECOVER_FIRST_USEC);
		return 0;
	}
	inflight_stop_workers(rec->queue);
	r = service_reopen_token(rec->service);
	if (r >= 0)
		r = inflight_start_workers(rec->queue);
	if (r >= 0) {
		rec->backoff_usec = RECOVER_FIRST_USEC;
		if (rec->recovered)
			rec->recovered(rec->userdata);
		return 0;
	}
	log_warning_errno(r, "Token still unavailable (%m); next try in %" PRIu64 " ms",
			  rec->backoff_usec / 1000);
	recovery_schedule(rec, rec->backoff_usec);
	rec->backoff_usec = rec->backoff_usec * 2 > RECOVER_MAX_USEC ? RECOVER_MAX_USEC :
									rec->backoff_usec * 2;
	return 0;
}

int recovery_init(Recovery *rec, sd_event *e, Inflight *queue, Service *service)
{
	int r;

	*rec = (Recovery){ .queue = queue, .service = service, .backoff_usec = RECOVER_FIRST_USEC };
	r = sd_event_add_time(e, &rec->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_recover, rec);
	if (r < 0)
		return r;
	(void)sd_event_source_set_enabled(rec->timer, SD_EVENT_OFF);
	return 0;
}

void recovery_done(Recovery *rec)
{
	rec->timer = sd_event_source_disable_unref(rec->timer);
}
