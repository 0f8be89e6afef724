/* SPDX-License-Identifier: MIT */
#include "audit-journal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

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
	[AUDIT_VERIFY_VALID] = { "58b18d4fd45d4b849fc7055a6537c033", LOG_INFO },
	[AUDIT_VERIFY_INVALID] = { "a3e35300c4464ee5ba358ebec5e0daeb", LOG_NOTICE },
	[AUDIT_VERIFY_FAILED] = { "173685608ee94e70b7ad0671f0c079c9", LOG_WARNING },
	[AUDIT_DEPRECATION] = { "444bea6d658347dea67110f3fe5ea4ca", LOG_NOTICE },
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

void audit_journal_done(AuditJournal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -EBADF;
	buf_done(&j->wire);
}

/* NAME=value\n, or NAME\n<64-bit little-endian length><value>\n when value has a newline. */
static void encode_field(Buf *w, const char *f, size_t n)
{
	const char *eq = memchr(f, '=', n);
	size_t name = (size_t)(eq - f), len = n - name - 1;
	uint8_t le[8];

	if (!memchr(eq + 1, '\n', len)) {
		buf_append(w, f, n);
		buf_append_char(w, '\n');
		return;
	}
	buf_append(w, f, name);
	buf_append_char(w, '\n');
	for (size_t i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)len >> (8 * i));
	buf_append(w, le, sizeof(le));
	buf_append(w, eq + 1, len);
	buf_append_char(w, '\n');
}

const char *audit_journal_strerror(int r)
{
	switch (r) {
	case -ENOENT:
		return "no journald: its socket " AUDIT_JOURNAL_SOCKET " is missing";
	case -ECONNREFUSED:
		return "no journald listens on " AUDIT_JOURNAL_SOCKET;
	case -ETIMEDOUT:
		return "journald takes no records (stalled or overloaded)";
	default:
		return strerror(-r);
	}
}

/*
 * Connected, so that poll() reports room in journald's queue (an unconnected
 * datagram socket reports only its own buffer). Non-blocking: the wait is
 * ours, bounded, and not SO_SNDTIMEO's.
 */
int audit_journal_open(AuditJournal *j)
{
	static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = AUDIT_JOURNAL_SOCKET };

	if (j->fd >= 0)
		return 0;
	j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (j->fd < 0)
		return negative_errno();
	if (connect(j->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();

		close(j->fd);
		j->fd = -EBADF;
		return r;
	}
	return 0;
}

static int send_wire(AuditJournal *j, int wait_msec)
{
	ssize_t k;
	int r;

	r = audit_journal_open(j);
	if (r == -ENOENT)
		return -ECONNREFUSED;
	if (r < 0)
		return r;
	for (;;) {
		k = send(j->fd, j->wire.data, j->wire.len, MSG_NOSIGNAL);
		if (k >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			/* Refused or gone, the same to the trail: no journald takes records. */
			r = errno == ENOENT ? -ECONNREFUSED : negative_errno();
			/* journald restarted (or is gone): connect afresh next time. */
			close(j->fd);
			j->fd = -EBADF;
			return r;
		}
		if (wait_msec <= 0)
			return -ETIMEDOUT;
		r = poll(&(struct pollfd){ .fd = j->fd, .events = POLLOUT }, 1, wait_msec);
		if (r < 0 && errno != EINTR)
			return negative_errno();
		if (r == 0)
			return -ETIMEDOUT;
		wait_msec = 0; /* one wait in all; a second EAGAIN fails */
	}
}

int audit_journal_send(AuditJournal *j, AuditLine *l, uint64_t seq, const AuditRecord *rec,
		       int wait_msec)
{
	struct iovec iov[AUDIT_JOURNAL_FIELDS_MAX];
	char hash[AUDIT_HASH_HEX], msg[512], prio[4];
	size_t n;
	int len;

	audit_line_journal_field(l, "HSMJWT_RECORD", l->json.data, l->json.len);
	audit_sha256_hex(l->json.data, l->json.len, hash);
	audit_line_journal_field(l, "HSMJWT_RECORD_SHA256", hash, 64);
	audit_line_journal_field(l, "MESSAGE_ID", events[rec->event].id, 32);
	len = snprintf(prio, sizeof(prio), "%d", events[rec->event].priority);
	audit_line_journal_field(l, "PRIORITY", prio, (size_t)len);
	audit_line_journal_field(l, "SYSLOG_IDENTIFIER", "hsmjwtd", 7);
	len = format_message(msg, sizeof(msg), seq, rec);
	audit_line_journal_field(l, "MESSAGE", msg,
				 (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1);
	if (l->error || l->journal.error)
		return l->error ? l->error : l->journal.error;

	buf_reset(&j->wire);
	n = audit_line_iovec(l, iov);
	for (size_t i = 0; i < n; i++)
		encode_field(&j->wire, iov[i].iov_base, iov[i].iov_len);
	if (j->wire.error)
		return j->wire.error;
	return send_wire(j, wait_msec);
}
