/* SPDX-License-Identifier: MIT */
/*
 * Kept apart from audit.c on purpose: today the event is a log line; when the
 * audit trail becomes durable, it moves there with the other records.
 */
#include "audit-deprecation.h"

#include <string.h>

#include "buf.h"
#include "json.h"
#include "log.h"

int audit_deprecation(const Peer *peer, const char *key_name, const char *what_changed)
{
	_cleanup_(buf_done) Buf b = {};
	const char *line;

	/* The same event as a verified v1 token's (audit.c), so operators watch one name. */
	buf_append_str(&b, "{\"event\":\"deprecation\",\"pid\":");
	buf_append_int64(&b, peer->pid);
	buf_append_str(&b, ",\"uid\":");
	buf_append_int64(&b, peer->uid);
	buf_append_str(&b, ",\"gid\":");
	buf_append_int64(&b, peer->gid);
	buf_append_str(&b, ",\"what\":\"v1 claim set upgraded\",\"key\":");
	json_append_string(&b, key_name, strlen(key_name));
	buf_append_str(&b, ",\"changed\":");
	json_append_string(&b, what_changed, strlen(what_changed));
	buf_append_char(&b, '}');
	line = buf_cstr(&b);
	if (!line)
		return log_error_errno(b.error, "Audit: cannot build deprecation record: %m");
	log_warning("audit %s", line);
	return 0;
}
