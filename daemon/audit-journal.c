/* SPDX-License-Identifier: MIT */
#include "audit-journal.h"

#include <inttypes.h>
#include <stdio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "cleanup.h"

/* Keep in step with units/hsmjwtd.catalog; tests check that every id has an entry. */
static const struct {
	const char *id;
	int priority;
} events[_AUDIT_EVENT_MAX] = {
	[AUDIT_ISSUED] = { "212873b1823445a49210c7010be0a811", LOG_INFO },
	[AUDIT_INVALID] = { "c72fb6f80b534453ad18331b8b7fb19f", LOG_NOTICE },
	[AUDIT_DENIED] = { "40afc2672a994c43a983a9955ac2ded7", LOG_WARNING },
	[AUDIT_RATE_LIMITED] = { "438476e2a4de4287a33022545ddcb758", LOG_NOTICE },
	[AUDIT_FAILED] = { "06ef2307d00048cdb8a57b3d3f96043d", LOG_WARNING },
	[AUDIT_LEGACY_UPGRADE] = { "ec2e814cb3074090a8d9b2ec6ffe315b", LOG_INFO },
	[AUDIT_START] = { "ca749ffa6efd4f07bedc2457011ef313", LOG_NOTICE },
	[AUDIT_STOP] = { "d506f89043db482d897b4f01a826ae16", LOG_NOTICE },
	[AUDIT_RELOAD] = { "acf52e9721dd4c149ba58aecb55524f2", LOG_NOTICE },
	[AUDIT_KEY_CHANGE] = { "2b4bd02d5c23424e97d025c44f7ff6ef", LOG_NOTICE },
	[AUDIT_REOPEN] = { "f3db0df5168c45c6b9c39687f0633578", LOG_INFO },
	[AUDIT_RECOVERED] = { "7b1902fecef84d30aebe929e65ed5630", LOG_WARNING },
};

const char *audit_journal_message_id(AuditEvent e)
{
	return (size_t)e < ELEMENTSOF(events) ? events[e].id : NULL;
}

static int format_message(char *buf, size_t size, uint64_t seq, const AuditRecord *r)
{
	const char *ev = audit_event_to_string(r->event);

	if (r->peer)
		return snprintf(buf, size,
				"Audit record %" PRIu64 ": %s for pid %d uid %u (key %s)%s%s", seq,
				ev, (int)r->peer->pid, (unsigned)r->peer->uid,
				r->key ? r->key : "default", r->message ? ": " : "",
				r->message ? r->message : "");
	return snprintf(buf, size, "Audit record %" PRIu64 ": %s%s%s", seq, ev,
			r->detail ? ": " : "", r->detail ? r->detail : "");
}

int audit_journal_send(AuditLine *l, uint64_t seq, const AuditRecord *r)
{
	struct iovec iov[AUDIT_JOURNAL_FIELDS_MAX];
	char hash[AUDIT_HASH_HEX], msg[512], prio[4];
	size_t n;
	int k;

	audit_line_journal_field(l, "HSMJWT_RECORD", l->json.data, l->json.len);
	audit_sha256_hex(l->json.data, l->json.len, hash);
	audit_line_journal_field(l, "HSMJWT_RECORD_SHA256", hash, 64);
	audit_line_journal_field(l, "MESSAGE_ID", events[r->event].id, 32);
	k = snprintf(prio, sizeof(prio), "%d", events[r->event].priority);
	audit_line_journal_field(l, "PRIORITY", prio, (size_t)k);
	audit_line_journal_field(l, "SYSLOG_IDENTIFIER", "hsmjwtd", 7);
	k = format_message(msg, sizeof(msg), seq, r);
	audit_line_journal_field(l, "MESSAGE", msg, (size_t)k < sizeof(msg) ? (size_t)k : sizeof(msg) - 1);
	if (l->error || l->journal.error)
		return l->error ? l->error : l->journal.error;
	n = audit_line_iovec(l, iov);
	return sd_journal_sendv(iov, (int)n);
}
