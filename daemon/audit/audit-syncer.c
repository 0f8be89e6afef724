/* SPDX-License-Identifier: MIT */
#include "audit-syncer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "audit-file.h"
#include "cleanup.h"
#include "log.h"

typedef enum SyncState {
	SYNC_IDLE,	/* nothing asked, or the last result was taken */
	SYNC_ASKED,	/* the thread has a file to sync */
	SYNC_DONE,	/* result ready for audit_syncer_take() */
} SyncState;

struct AuditSyncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;	/* state or stopping changed */
	SyncState state;
	int fd;
	int result;
	bool stopping;
	int event_fd;
};

static void *syncer_main(void *userdata)
{
	AuditSyncer *s = userdata;
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		int fd, r;

		while (s->state != SYNC_ASKED && !s->stopping)
			pthread_cond_wait(&s->changed, &s->lock);
		if (s->state != SYNC_ASKED)
			break; /* stopping, and nothing left to sync */
		fd = s->fd;
		pthread_mutex_unlock(&s->lock);

		r = audit_fd_check(fd, true);

		pthread_mutex_lock(&s->lock);
		s->result = r;
		s->state = SYNC_DONE;
		pthread_cond_broadcast(&s->changed);
		if (write(s->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warning_errno(errno, "Cannot signal a finished audit sync: %m");
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int audit_syncer_new(AuditSyncer **ret)
{
	_cleanup_free_ AuditSyncer *s = NULL;
	sigset_t all, old;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->event_fd < 0)
		return negative_errno();
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	/* Signals belong to the loop (signalfd): the thread starts with all of them blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, syncer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		close(s->event_fd);
		return r;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

AuditSyncer *audit_syncer_free(AuditSyncer *s)
{
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
	close(s->event_fd);
	free(s);
	return NULL;
}

int audit_syncer_fd(const AuditSyncer *s)
{
	return s->event_fd;
}

bool audit_syncer_start(AuditSyncer *s, int fd)
{
	bool started = false;

	pthread_mutex_lock(&s->lock);
	if (s->state == SYNC_IDLE) {
		s->fd = fd;
		s->state = SYNC_ASKED;
		pthread_cond_broadcast(&s->changed);
		started = true;
	}
	pthread_mutex_unlock(&s->lock);
	return started;
}

void audit_syncer_wait(AuditSyncer *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->state == SYNC_ASKED)
		pthread_cond_wait(&s->changed, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

int audit_syncer_take(AuditSyncer *s, int *ret)
{
	uint64_t n;
	int taken = 0;

	(void)!read(s->event_fd, &n, sizeof(n)); /* EAGAIN when woken for nothing */
	pthread_mutex_lock(&s->lock);
	if (s->state == SYNC_DONE) {
		*ret = s->result;
		s->state = SYNC_IDLE;
		taken = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return taken;
}
