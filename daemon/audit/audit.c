/* SPDX-License-Identifier: MIT */
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "audit-denials.h"
#include "audit-file.h"
#include "audit-journal.h"
#include "audit-record.h"
#include "audit-state.h"
#include "audit-syncer.h"
#include "cleanup.h"
#include "hsmjwt-build.h"
#include "log.h"

struct Audit {
	char *path; /* NULL: no file sink */
	char *state_path; /* NULL: the chain head is not kept outside the file */
	bool journal;
	bool preallocate;
	AuditSync sync;
	AuditFile file;
	AuditHead head;		/* the last record written */
	uint64_t synced_seq;	/* the last record a sync covered (or gave up on) */
	uint64_t jwt_seq;	/* the last record of a JWT issued: what replies wait for */
	uint64_t dropped_at_open;
	int error;		/* < 0: the trail is failing and refuses records */
	int batch_error;	/* a sync failed since the last audit_commit() */
	char failed_since[AUDIT_TIME_MAX];
	uint64_t withheld_from, withheld_to;
	bool reopen_requested;
	AuditSyncer *syncer;	/* sync = always with a file: syncs off the loop */
	/*
	 * sync = always with a file: lines rendered in this loop iteration, not
	 * written yet. Their replies are held until a commit anyway, so they go
	 * with one write(2) per iteration (audit_flush()) instead of one per
	 * record. If that write fails they stay here and go first when the
	 * trail recovers: nothing is lost and the chain stays whole.
	 */
	Buf pending;
	uint64_t syncing_from, syncing_to; /* the records the running sync covers */
	AuditCommitted committed;
	void *committed_userdata;
	sd_event_source *tick, *synced;
	AuditLine line;
	AuditJournal journal_sink;
	AuditDenials *denials; /* refusals beyond each uid's budget */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The first failure is logged and shown in the status; later ones only keep the trail failing. */
static void fail(Audit *a, int r, const char *what, const char *sink)
{
	if (!a->error) {
		log_error("Audit trail failing: %s %s: %s; refusing to sign until it works again",
			  what, sink, audit_strerror(r));
		(void)sd_notifyf(0, "STATUS=Audit trail failing (%s): refusing to sign",
				 audit_strerror(r));
		audit_format_time(a->failed_since);
	}
	a->error = r;
}

static void note_withheld(Audit *a, uint64_t from, uint64_t to)
{
	if (!a->withheld_from)
		a->withheld_from = from;
	a->withheld_to = to;
}

/*
 * The file refused a line the journal took already: keep it, so that it
 * goes first when the trail recovers (as the sync thread's lines do), and
 * withhold its JWT. Otherwise the journal would hold a record the file
 * never gets, and the file a different record under the same seq.
 */
static int keep_for_file(Audit *a, const AuditLine *l, uint64_t seq, const char *hash, int r)
{
	size_t before = a->pending.len;

	buf_append(&a->pending, l->json.data, l->json.len);
	if (a->pending.error) {
		a->pending.len = before;
		a->pending.error = 0;
		return r;
	}
	a->head.seq = seq;
	memcpy(a->head.hash, hash, AUDIT_HASH_HEX);
	if (a->sync == AUDIT_SYNC_NONE)
		a->synced_seq = seq;
	note_withheld(a, seq, seq);
	return r;
}

/* Writes one record to every sink, ignoring whether the trail is failing. */
static int write_record(Audit *a, const AuditRecord *rec, const char **ret_sink)
{
	AuditLine *l = &a->line;
	uint64_t seq = a->head.seq + 1;
	char hash[AUDIT_HASH_HEX];
	int r;

	*ret_sink = "the record builder for";
	r = audit_line_format(l, seq, a->head.hash, rec);
	if (r < 0)
		return r;
	if (l->json.len >= AUDIT_LINE_MAX)
		return -E2BIG; /* cannot happen (AUDIT_VALUE_MAX); never write what verify refuses */
	audit_sha256_hex(l->json.data, l->json.len, hash);
	if (!hash[0])
		return -EIO;
	/*
	 * The journal first: a record it does not take goes nowhere, so both
	 * sinks have it or neither does (and the caller withholds its JWT).
	 * The other way round, a stalled journald left file records that never
	 * reached the journal. While failing, no wait: no client waits on it.
	 */
	if (a->journal) {
		*ret_sink = "the journal";
		r = audit_journal_send(&a->journal_sink, l, seq, rec,
				       a->error ? 0 : AUDIT_JOURNAL_WAIT_MSEC);
		if (r < 0)
			return r;
	}
	if (a->path && a->syncer) {
		size_t before = a->pending.len;

		buf_append(&a->pending, l->json.data, l->json.len);
		buf_append_char(&a->pending, '\n');
		r = a->pending.error;
		if (r < 0) {
			a->pending.len = before;
			a->pending.error = 0;
			return r;
		}
	} else if (a->path) {
		buf_append_char(&l->json, '\n');
		if (l->json.error)
			return l->json.error;
		*ret_sink = a->path;
		r = audit_file_append(&a->file, l->json.data, l->json.len);
		if (r < 0 && a->journal)
			r = keep_for_file(a, l, seq, hash, r);
		l->json.len--;
		if (r < 0)
			return r;
	}
	a->head.seq = seq;
	memcpy(a->head.hash, hash, sizeof(hash));
	/* Verify records name a JWT too (the one presented), but none leaves with them. */
	if (rec->event == AUDIT_ISSUED || rec->event == AUDIT_LEGACY_UPGRADE)
		a->jwt_seq = seq;
	if (!a->path || a->sync == AUDIT_SYNC_NONE)
		a->synced_seq = seq; /* nothing will ever wait for it */
	return 0;
}

/* Writes the buffered lines (sync = always), all or none. */
static int flush_pending(Audit *a)
{
	int r;

	if (a->pending.len == 0)
		return 0;
	r = audit_file_append(&a->file, a->pending.data, a->pending.len);
	if (r < 0)
		return r;
	/* Not buf_reset(): records hold no secrets, so no wiping. */
	a->pending.len = 0;
	return 0;
}

/* [audit] preallocate: a file without its room still works, as an appended one. */
static void preallocate(Audit *a, AuditFile *f)
{
	int r;

	if (!a->preallocate)
		return;
	r = audit_file_preallocate(f);
	if (r < 0)
		log_warning_errno(r, "Cannot preallocate room in audit file %s, appending instead: %m",
				  a->path);
}

static int reopen_file(Audit *a, uint64_t *ret_dropped)
{
	AuditFile f;
	AuditHead h;
	int r;

	/* Not rotated (or a full disk, not a lost file): keep the descriptor and its lock. */
	*ret_dropped = 0;
	if (audit_file_is(&a->file, a->path))
		return 0;
	/* The sync thread may be working on the old descriptor. */
	if (a->syncer)
		audit_syncer_wait(a->syncer);
	r = audit_file_open(a->path, &f, &h, ret_dropped);
	if (r < 0)
		return r;
	preallocate(a, &f);
	if (h.seq != 0 && (h.seq != a->head.seq || strcmp(h.hash, a->head.hash) != 0))
		log_warning("Audit file %s ends with record %" PRIu64 ", not with the last one "
			    "written (%" PRIu64 "); the chain continues from the latter",
			    a->path, h.seq, a->head.seq);
	audit_file_close(&a->file);
	a->file = f;
	return 0;
}

/*
 * Records no reply waits for (refusals, verifies) that still wait for their
 * sync when the trail fails: settle_unheld() does not run while failing, so
 * recovery syncs them itself, or it would wait for them forever (seen with
 * the journal failing right after a refusal: signing never came back).
 */
static int settle_for_recovery(Audit *a)
{
	int r;

	if (a->head.seq <= a->synced_seq || !a->syncer || a->syncing_to || audit_unsynced(a))
		return 0;
	r = flush_pending(a);
	if (r >= 0)
		r = audit_file_check(&a->file, true);
	if (r < 0)
		return r;
	a->synced_seq = a->head.seq;
	return 0;
}

/* Tries the sinks again; silent while they still fail. */
static int recover(Audit *a)
{
	const char *sink;
	uint64_t dropped = 0;
	int r;

	r = settle_for_recovery(a);
	if (r < 0)
		return r;
	/* Records waiting for a sync belong to the old file: the commit settles them first. */
	if (a->head.seq > a->synced_seq)
		return a->error;
	if (a->path) {
		r = reopen_file(a, &dropped);
		if (r >= 0)
			r = flush_pending(a); /* records a failed commit kept, in order */
		if (r < 0)
			return r;
	}
	r = write_record(a, &(AuditRecord){
		.event = AUDIT_RECOVERED,
		.message = audit_strerror(a->error),
		.failed_since = a->failed_since,
		.withheld_from = a->withheld_from,
		.withheld_to = a->withheld_to,
		.dropped_bytes = dropped,
	}, &sink);
	if (r < 0)
		return r;
	log_notice("Audit trail works again (failing since %s)", a->failed_since);
	(void)sd_notify(0, "STATUS=Serving; the audit trail works again");
	a->error = 0;
	a->withheld_from = a->withheld_to = 0;
	return 0;
}

int audit_record(Audit *a, const AuditRecord *rec)
{
	const char *sink;
	int r;

	/* Past the peer's budget a refusal is counted for its aggregate, not written. */
	if (a->denials && rec->peer && audit_event_is_refusal(rec->event) &&
	    !audit_denials_admit(a->denials, rec->peer->uid, rec->denial_budget,
				 rec->rule ? rec->rule : rec->error, now_ns()))
		return 0;

	if (a->error) {
		r = recover(a);
		if (r < 0)
			return r;
	}
	r = write_record(a, rec, &sink);
	if (r < 0)
		fail(a, r, "cannot write a record to", sink);
	return r;
}

bool audit_unsynced(const Audit *a)
{
	/* Only a JWT's record holds replies back: see settle_unheld(). */
	return a->sync == AUDIT_SYNC_ALWAYS && a->jwt_seq > a->synced_seq;
}

/*
 * sync = always: records that hold no reply back (verify decisions,
 * refusals: no JWT leaves with them) are written at once and made durable
 * by the next JWT's sync, or here, by the tick, within AUDIT_TICK_USEC. So
 * verify-only traffic runs at the token's speed, not the disk's (16x1 HS256
 * verify waited for one fdatasync() per loop iteration before).
 */
static void settle_unheld(Audit *a)
{
	/* With a JWT's record waiting the server's gate commits anyway, marking what it covers. */
	if (a->sync == AUDIT_SYNC_ALWAYS && a->syncer && !a->error && a->head.seq > a->synced_seq &&
	    !audit_unsynced(a))
		(void)audit_commit_start(a);
}

int audit_error(const Audit *a)
{
	return a->error;
}

/* An empty file (rotated while the daemon was not running): continue where the chain ended. */
static void continue_from_state(Audit *a)
{
	AuditHead h;
	int r;

	if (!a->path || !a->state_path || a->head.seq != 0)
		return;
	r = audit_state_load(a->state_path, a->path, &h);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warning("Ignoring audit head file %s: %s", a->state_path,
			    r == -EBADMSG ? "not an hsmjwtd head file" : strerror(-r));
		return;
	}
	log_info("Audit file %s is empty; the chain continues after record %" PRIu64
		 " (from %s)", a->path, h.seq, a->state_path);
	a->head = h;
}

static void save_state(Audit *a)
{
	int r;

	if (!a->path || !a->state_path || a->head.seq == 0)
		return;
	r = audit_state_save(a->state_path, a->path, &a->head, a->sync != AUDIT_SYNC_NONE);
	if (r < 0)
		log_warning("Cannot write audit head file %s: %s; a start on an empty audit "
			    "file would begin a new chain", a->state_path, strerror(-r));
}

static int do_reopen(Audit *a)
{
	const char *sink = a->path;
	uint64_t dropped = 0;
	int r;

	a->reopen_requested = false;
	if (a->error)
		return recover(a);
	r = reopen_file(a, &dropped);
	if (r >= 0)
		r = write_record(a, &(AuditRecord){ .event = AUDIT_REOPEN, .file = a->path,
						     .dropped_bytes = dropped }, &sink);
	if (r < 0) {
		fail(a, r, "cannot reopen", sink);
		return r;
	}
	log_info("Audit file %s reopened; the chain continues at record %" PRIu64, a->path,
		 a->head.seq);
	save_state(a);
	return 0;
}

int audit_sync(Audit *a)
{
	int r = 0;

	/*
	 * The sync thread owns the file while a commit runs; the post source
	 * starts the next commit for whatever this would have covered.
	 */
	if (a->syncing_to)
		return 0;
	if (a->path && a->head.seq > a->synced_seq) {
		r = flush_pending(a);
		if (r >= 0)
			r = audit_file_check(&a->file, a->sync != AUDIT_SYNC_NONE);
		if (r < 0) {
			/* sync = always held their JWTs back; they will not leave now. */
			if (a->sync == AUDIT_SYNC_ALWAYS)
				note_withheld(a, a->synced_seq + 1, a->head.seq);
			a->batch_error = r;
			fail(a, r, "cannot make records durable in", a->path);
		}
		a->synced_seq = a->head.seq;
	}
	if (a->reopen_requested)
		(void)do_reopen(a);
	return r;
}

int audit_commit(Audit *a)
{
	int r = audit_sync(a), e = a->batch_error;

	a->batch_error = 0;
	return r < 0 ? r : e;
}

int audit_reopen(Audit *a)
{
	if (!a->path)
		return 0;
	/* Unsynced records are in the old file: sync them there first. */
	if (a->head.seq > a->synced_seq) {
		a->reopen_requested = true;
		return a->sync == AUDIT_SYNC_ALWAYS ? 0 : audit_sync(a);
	}
	return do_reopen(a);
}

bool audit_commit_running(const Audit *a)
{
	return a->syncing_to != 0;
}

int audit_flush(Audit *a)
{
	int r;

	/*
	 * Records a failed write settled (their JWTs withheld) wait for the
	 * trail's recovery, which writes them first.
	 */
	if (!a->syncer || a->pending.len == 0 || a->head.seq <= a->synced_seq)
		return 0;
	/* Failing (a record went wrong in this iteration): fail the new ones without trying. */
	r = a->error ? a->error : flush_pending(a);
	if (r < 0) {
		/* Their replies are held: none of their JWTs will leave. */
		note_withheld(a, a->synced_seq + 1, a->head.seq);
		a->batch_error = r;
		fail(a, r, "cannot write records to", a->path);
		a->synced_seq = a->head.seq;
	}
	return r;
}

int audit_commit_start(Audit *a)
{
	int r;

	if (!a->syncer || a->syncing_to || a->head.seq <= a->synced_seq)
		return 0;
	r = audit_flush(a);
	if (r < 0)
		return r;
	if (!audit_syncer_start(a->syncer, a->file.fd))
		return 0; /* the last result was not taken yet: on_synced() comes first */
	a->syncing_from = a->synced_seq + 1;
	a->syncing_to = a->head.seq;
	return 1;
}

/* Applies a finished sync's result to the trail's state. */
static void commit_finished(Audit *a, int r)
{
	if (r < 0) {
		/*
		 * Records written since it started are as lost as the ones it
		 * covered (after a failed fdatasync() the page cache cannot be
		 * trusted): the server withholds every reply it holds.
		 */
		note_withheld(a, a->syncing_from, a->head.seq);
		fail(a, r, "cannot make records durable in", a->path);
		a->synced_seq = a->head.seq;
	} else if (a->syncing_to > a->synced_seq)
		a->synced_seq = a->syncing_to;
	a->syncing_from = a->syncing_to = 0;
	if (a->reopen_requested && a->synced_seq == a->head.seq)
		(void)do_reopen(a);
}

static int on_synced(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Audit *a = userdata;
	int r, e;

	(void)src, (void)fd, (void)revents;
	if (audit_syncer_take(a->syncer, &r) <= 0)
		return 0;
	commit_finished(a, r);
	e = a->batch_error;
	a->batch_error = 0;
	if (a->committed)
		a->committed(a->committed_userdata, r < 0 ? r : e);
	return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	Audit *a = userdata;

	(void)usec;
	(void)audit_denials_flush(a->denials, now_ns(), false);
	if (a->sync == AUDIT_SYNC_BATCH && a->head.seq > a->synced_seq)
		(void)audit_sync(a);
	else if (a->sync == AUDIT_SYNC_ALWAYS && a->head.seq > a->synced_seq)
		settle_unheld(a);
	else if (a->path && !a->error) {
		/* Notice a deleted file while idle, not only at the next request. */
		int r = audit_file_check(&a->file, false);
		if (r < 0)
			fail(a, r, "lost", a->path);
	}
	if (a->error)
		(void)recover(a);
	(void)sd_event_source_set_time_relative(s, AUDIT_TICK_USEC);
	return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int audit_attach_event(Audit *a, sd_event *e, AuditCommitted committed, void *userdata)
{
	int r;

	a->committed = committed;
	a->committed_userdata = userdata;
	r = sd_event_add_time_relative(e, &a->tick, CLOCK_MONOTONIC, AUDIT_TICK_USEC, 0,
				       on_tick, a);
	if (r >= 0 && a->syncer)
		r = sd_event_add_io(e, &a->synced, audit_syncer_fd(a->syncer), EPOLLIN, on_synced,
				    a);
	return r;
}

void audit_detach_event(Audit *a)
{
	a->tick = sd_event_source_disable_unref(a->tick);
	a->synced = sd_event_source_disable_unref(a->synced);
	a->committed = NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Audit *, audit_free);

static int emit_denials(void *userdata, const AuditDenialSummary *s)
{
	return audit_record(userdata, &(AuditRecord){ .event = AUDIT_DENIALS, .denials = s });
}

int audit_new(const AuditConfig *config, Audit **ret)
{
	_cleanup_(audit_freep) Audit *a = NULL;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->file = (AuditFile){ .fd = -EBADF, .torn_at = -1 };
	a->journal_sink.fd = -EBADF;
	a->journal = config->journal;
	a->line.json_only = !config->journal;
	a->sync = config->sync;
	if (a->journal) {
		r = audit_journal_open(&a->journal_sink);
		if (r < 0)
			return log_error_errno(r, "[audit] journal = yes, but %s. Start systemd-journald, "
					       "or set [audit] journal = no and keep the file only",
					       audit_journal_strerror(r));
	}
	memcpy(a->head.hash, audit_chain_genesis, AUDIT_HASH_HEX);
	a->denials = audit_denials_new(emit_denials, a);
	if (!a->denials)
		return -ENOMEM;
	if (config->file) {
		a->path = strdup(config->file);
		if (!a->path)
			return -ENOMEM;
		r = audit_file_open(a->path, &a->file, &a->head, &a->dropped_at_open);
		if (r < 0)
			return log_error_errno(r, "Cannot open audit file %s: %s", a->path,
					       audit_file_strerror(r));
		if (a->dropped_at_open)
			log_warning("Audit file %s ended with a torn line; cut off %" PRIu64
				    " bytes", a->path, a->dropped_at_open);
		a->preallocate = config->preallocate;
		preallocate(a, &a->file);
	}
	r = audit_state_path(config->head_file, &a->state_path);
	if (r < 0)
		return r;
	continue_from_state(a);
	a->synced_seq = a->head.seq;
	if (a->path && a->sync == AUDIT_SYNC_ALWAYS) {
		r = audit_syncer_new(&a->syncer);
		if (r < 0)
			return log_error_errno(r, "Cannot start the audit sync thread: %m");
	}
	log_info("Audit trail: %s%s%s, sync=%s, %s at record %" PRIu64,
		 a->path ? a->path : "", a->path && a->journal ? " and " : "",
		 a->journal ? "the journal" : "", audit_sync_to_string(a->sync),
		 a->head.seq ? "continuing" : "starting", a->head.seq + 1);
	*ret = TAKE_PTR(a);
	return 0;
}

Audit *audit_free(Audit *a)
{
	int r;

	if (!a)
		return NULL;
	if (a->denials)
		(void)audit_denials_flush(a->denials, 0, true);
	a->denials = audit_denials_free(a->denials);
	if (a->syncing_to) {
		audit_syncer_wait(a->syncer);
		if (audit_syncer_take(a->syncer, &r) > 0)
			commit_finished(a, r);
	}
	(void)audit_sync(a);
	save_state(a);
	audit_detach_event(a);
	a->syncer = audit_syncer_free(a->syncer);
	audit_file_close(&a->file);
	audit_line_done(&a->line);
	buf_done(&a->pending);
	audit_journal_done(&a->journal_sink);
	free(a->path);
	free(a->state_path);
	free(a);
	return NULL;
}

static int lifecycle(Audit *a, const AuditRecord *rec)
{
	int r = audit_record(a, rec);

	/* Rare events: sync at once rather than wait for a request to commit them. */
	if (r >= 0 && a->sync != AUDIT_SYNC_NONE)
		r = audit_sync(a);
	if (r >= 0)
		save_state(a);
	return r;
}

int audit_start(Audit *a)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "pid %d", (int)getpid());
	return lifecycle(a, &(AuditRecord){
		.event = AUDIT_START,
		.version = PACKAGE_VERSION,
		.detail = detail,
		.chain = a->head.seq ? "continued" : "new",
		.file = a->path,
		.dropped_bytes = a->dropped_at_open,
	});
}

int audit_stop(Audit *a, const char *why)
{
	/* The counts of the last interval go before the trail ends. */
	(void)audit_denials_flush(a->denials, 0, true);
	return lifecycle(a, &(AuditRecord){ .event = AUDIT_STOP, .detail = why });
}

int audit_reload(Audit *a, const char *detail)
{
	return lifecycle(a, &(AuditRecord){ .event = AUDIT_RELOAD, .detail = detail });
}

int audit_key_change(Audit *a, const char *key, const char *kid, const char *alg,
		     const char *detail)
{
	return lifecycle(a, &(AuditRecord){
		.event = AUDIT_KEY_CHANGE, .key = key, .kid = kid, .alg = alg, .detail = detail });
}
