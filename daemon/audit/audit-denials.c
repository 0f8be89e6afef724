/* SPDX-License-Identifier: MIT */
/* Refusals beyond a uid's budget: counted, then one aggregated record per interval. */
#include "audit-denials.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Window {
	bool used;
	uint64_t start_ns;
	uint32_t recorded; /* on their own, this interval */
	AuditDenialSummary s;
} Window;

struct AuditDenials {
	AuditDenialEmit emit;
	void *userdata;
	Window windows[AUDIT_DENIAL_UIDS_MAX];
	Window others;
};

AuditDenials *audit_denials_new(AuditDenialEmit emit, void *userdata)
{
	AuditDenials *d = calloc(1, sizeof(*d));

	if (d) {
		d->emit = emit;
		d->userdata = userdata;
		d->others.used = true;
		d->others.s.others = true;
	}
	return d;
}

AuditDenials *audit_denials_free(AuditDenials *d)
{
	free(d);
	return NULL;
}

static bool expired(const Window *w, uint64_t now_ns)
{
	return now_ns - w->start_ns >= AUDIT_DENIAL_INTERVAL_NS || now_ns < w->start_ns;
}

/* Emits w's aggregate if it counted anything, and starts a new interval at now. */
static int roll(AuditDenials *d, Window *w, uint64_t now_ns)
{
	int r = 0;

	if (w->s.count > 0)
		r = d->emit(d->userdata, &w->s);
	w->start_ns = now_ns;
	w->recorded = 0;
	w->s = (AuditDenialSummary){ .uid = w->s.uid, .others = w->s.others };
	return r;
}

/* uid's window, a free or finished one for it, or the shared one for the rest. */
static Window *window_of(AuditDenials *d, uid_t uid, uint64_t now_ns)
{
	Window *spare = NULL;

	for (size_t i = 0; i < AUDIT_DENIAL_UIDS_MAX; i++) {
		Window *w = &d->windows[i];

		if (w->used && w->s.uid == uid)
			return w;
		if (!spare && (!w->used || (w->s.count == 0 && expired(w, now_ns))))
			spare = w;
	}
	if (!spare)
		return &d->others;
	*spare = (Window){ .used = true, .start_ns = now_ns, .s.uid = uid };
	return spare;
}

static void count_reason(AuditDenialSummary *s, const char *reason)
{
	for (size_t i = 0; i < s->n_reasons; i++)
		if (strcmp(s->reasons[i].name, reason) == 0) {
			s->reasons[i].count++;
			return;
		}
	if (s->n_reasons == AUDIT_DENIAL_REASONS_MAX) {
		s->other_reasons++;
		return;
	}
	snprintf(s->reasons[s->n_reasons].name, AUDIT_DENIAL_REASON_MAX, "%s", reason);
	s->reasons[s->n_reasons++].count = 1;
}

bool audit_denials_admit(AuditDenials *d, uid_t uid, uint32_t budget, const char *reason,
			 uint64_t now_ns)
{
	Window *w = window_of(d, uid, now_ns);

	if (expired(w, now_ns))
		(void)roll(d, w, now_ns); /* a failing emit leaves the trail failing: said there */
	if (w->recorded < (budget ? budget : PEER_DEFAULT_DENIAL_RECORDS)) {
		w->recorded++;
		return true;
	}
	if (w->s.count++ == 0)
		audit_format_time(w->s.from);
	audit_format_time(w->s.to);
	count_reason(&w->s, reason && *reason ? reason : "unknown");
	return false;
}

int audit_denials_flush(AuditDenials *d, uint64_t now_ns, bool force)
{
	int r = 0, k;

	for (size_t i = 0; i <= AUDIT_DENIAL_UIDS_MAX; i++) {
		Window *w = i < AUDIT_DENIAL_UIDS_MAX ? &d->windows[i] : &d->others;

		if (!w->used || w->s.count == 0 || (!force && !expired(w, now_ns)))
			continue;
		k = roll(d, w, now_ns);
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

void audit_denials_reasons(const AuditDenialSummary *s, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_reasons && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s:%" PRIu64, i ? " " : "",
				      s->reasons[i].name, s->reasons[i].count);
	if (s->other_reasons && n < size)
		snprintf(buf + n, size - n, " other:%" PRIu64, s->other_reasons);
}
