/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "token.h"

/*
 * The threads that talk to the token. The event loop never waits for the
 * token itself: it hands a job over, goes on serving other connections, and
 * picks the result up when the pool's eventfd says so. Each thread owns one
 * PKCS#11 session, opened with the thread and closed with it.
 *
 * With 0 threads the loop runs jobs itself, at once (no thread hand-off;
 * nothing then bounds how long a stuck token call takes).
 */

typedef struct Job Job;
typedef void (*JobRun)(Job *job, Token *t, TokenSession session);

struct Job {
	Job *next; /* queue link, owned by the pool while queued */
	JobRun run; /* called on a worker thread; must touch only the job */
	/*
	 * Set by the thread when the token call starts (CLOCK_MONOTONIC, µs;
	 * 0: not yet), so the caller can judge the token by its own calls, not
	 * by time spent queued. Atomic: the loop reads it while the thread runs.
	 */
	uint64_t started_usec;
	uint64_t finished_usec; /* set by the thread when run returns; 0 if cancelled */
	/* Set by the caller before it starts: the thread skips run (the answer went already). */
	bool cancelled;
};

/* CLOCK_MONOTONIC in µs, the clock of started_usec and of sd-event. */
uint64_t workers_now_usec(void);

typedef struct Workers Workers;

/* Starts n threads, each with its own session on t. */
int workers_new(Token *t, unsigned n, Workers **ret);
/* Stops the threads (waits for each to finish its current job) and closes their sessions. */
Workers *workers_free(Workers *w);

/* Readable when finished jobs wait for workers_take_done(). */
int workers_fd(const Workers *w);
unsigned workers_count(const Workers *w);

/*
 * Queues a job. Jobs queued together reach the threads together: one lock
 * round and one wake-up for all of them at workers_flush(), which the caller
 * must call before it waits for anything.
 */
void workers_submit(Workers *w, Job *job);
void workers_flush(Workers *w);
/* The finished jobs, oldest first, as a list linked by next; NULL when none. */
Job *workers_take_done(Workers *w);
