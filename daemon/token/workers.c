/* SPDX-License-Identifier: MIT */
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

/* Threads beyond this gain nothing: a token serialises long before. */
#define WORKERS_MAX 64

typedef struct Worker {
	Workers *pool;
	pthread_t thread;
	TokenSession session;
	bool started;
} Worker;

struct Workers {
	Token *token;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	Job *queue_head, *queue_tail;
	Job *done_head, *done_tail;
	Job *batch_head, *batch_tail; /* submitted, not flushed yet: the loop's only */
	unsigned idle; /* threads waiting for a job */
	bool stopping;
	int event_fd;
	Worker *threads;
	unsigned n_threads;
};

static void append(Job **head, Job **tail, Job *job)
{
	job->next = NULL;
	if (*tail)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

/* Tells the loop that finished jobs wait: one wake-up per batch, it drains the whole list. */
static void signal_done(Workers *w)
{
	uint64_t one = 1;

	if (write(w->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warning_errno(errno, "Cannot signal finished jobs: %m");
}

/* Takes the next job, or NULL once stopping; called with the lock held. */
static Job *take_job(Workers *w)
{
	Job *job;

	while (!w->queue_head && !w->stopping) {
		w->idle++;
		pthread_cond_wait(&w->wake, &w->lock);
		w->idle--;
	}
	if (w->stopping)
		return NULL;
	job = w->queue_head;
	w->queue_head = job->next;
	if (!w->queue_head)
		w->queue_tail = NULL;
	return job;
}

uint64_t workers_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000u;
}

/* Stamps the start (the caller's deadline counts from here), unless the caller gave up on it. */
static void run_job(Job *job, Token *t, TokenSession session)
{
	__atomic_store_n(&job->started_usec, workers_now_usec(), __ATOMIC_RELEASE);
	if (!__atomic_load_n(&job->cancelled, __ATOMIC_ACQUIRE)) {
		job->run(job, t, session);
		job->finished_usec = workers_now_usec(); /* read by the loop after the hand-back */
	}
}

static void *worker_main(void *userdata)
{
	Worker *self = userdata;
	Workers *w = self->pool;
	Job *job;

	pthread_mutex_lock(&w->lock);
	while ((job = take_job(w))) {
		bool was_empty;

		pthread_mutex_unlock(&w->lock);
		run_job(job, w->token, self->session);

		/* One lock round per job: hand the result back and take the next one. */
		pthread_mutex_lock(&w->lock);
		was_empty = !w->done_head;
		append(&w->done_head, &w->done_tail, job);
		if (was_empty) {
			pthread_mutex_unlock(&w->lock);
			signal_done(w);
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int workers_new(Token *t, unsigned n, Workers **ret)
{
	Workers *w;
	int r;

	if (n > WORKERS_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->token = t;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->event_fd < 0) {
		r = negative_errno();
		goto fail;
	}
	w->threads = calloc(n ? n : 1, sizeof(*w->threads));
	if (!w->threads) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		Worker *k = &w->threads[i];

		k->pool = w;
		r = token_session_open(t, &k->session);
		if (r < 0)
			goto fail;
		w->n_threads++;
		r = -pthread_create(&k->thread, NULL, worker_main, k);
		if (r < 0) {
			token_session_close(t, k->session);
			w->n_threads--;
			goto fail;
		}
		k->started = true;
	}
	*ret = w;
	return 0;
fail:
	workers_free(w);
	return r;
}

Workers *workers_free(Workers *w)
{
	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_threads; i++) {
		if (w->threads[i].started)
			pthread_join(w->threads[i].thread, NULL);
		token_session_close(w->token, w->threads[i].session);
	}
	free(w->threads);
	if (w->event_fd >= 0)
		close(w->event_fd);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return NULL;
}

int workers_fd(const Workers *w)
{
	return w->event_fd;
}

unsigned workers_count(const Workers *w)
{
	return w->n_threads;
}

void workers_submit(Workers *w, Job *job)
{
	if (w->n_threads == 0) {
		bool was_empty = !w->done_head;

		run_job(job, w->token, token_main_session(w->token));
		append(&w->done_head, &w->done_tail, job);
		if (was_empty)
			signal_done(w);
		return;
	}
	append(&w->batch_head, &w->batch_tail, job);
}

void workers_flush(Workers *w)
{
	if (!w->batch_head)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->queue_tail)
		w->queue_tail->next = w->batch_head;
	else
		w->queue_head = w->batch_head;
	w->queue_tail = w->batch_tail;
	/* Wake only threads that sleep: busy ones come back for the queue by themselves. */
	if (w->idle > 1 && w->batch_head != w->batch_tail)
		pthread_cond_broadcast(&w->wake);
	else if (w->idle > 0)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	w->batch_head = w->batch_tail = NULL;
}

Job *workers_take_done(Workers *w)
{
	uint64_t v;
	Job *list;

	(void)!read(w->event_fd, &v, sizeof(v));
	pthread_mutex_lock(&w->lock);
	list = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	return list;
}
