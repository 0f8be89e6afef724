/* SPDX-License-Identifier: MIT */
/*
 * [server], [token], [audit] and [claims]: one table each.
 *
 * Adding a key is one row here (plus the field it fills and its lines in
 * units/hsmjwtd.conf.example and hsmjwtd.conf(5)): the dispatcher in
 * config.c finds it, refuses it twice, parses it by its type and reports
 * a bad value as "file:line: [section] key: why". Give every number and
 * duration the bounds that keep it sane; checks between keys go in
 * config.c's apply_defaults().
 */
#include "cleanup.h"
#include "config-table.h"

static int open_single(ConfigParse *p, unsigned which, void *obj, unsigned *seen, void **ret_obj,
		       unsigned **ret_seen)
{
	if (!p->lines[which])
		p->lines[which] = p->header_line;
	*ret_obj = obj;
	*ret_seen = seen;
	return 0;
}

static int open_server(ConfigParse *p, const char *name, void **ret_obj, unsigned **ret_seen,
		       char why[static CONFIG_WHY_MAX])
{
	(void)name, (void)why;
	return open_single(p, CONFIG_SERVER, p->config, &p->seen[CONFIG_SERVER], ret_obj, ret_seen);
}

static int open_token(ConfigParse *p, const char *name, void **ret_obj, unsigned **ret_seen,
		      char why[static CONFIG_WHY_MAX])
{
	(void)name, (void)why;
	return open_single(p, CONFIG_TOKEN, p->config, &p->seen[CONFIG_TOKEN], ret_obj, ret_seen);
}

static int open_audit(ConfigParse *p, const char *name, void **ret_obj, unsigned **ret_seen,
		      char why[static CONFIG_WHY_MAX])
{
	(void)name, (void)why;
	return open_single(p, CONFIG_AUDIT, &p->config->audit, &p->config->audit.seen, ret_obj,
			   ret_seen);
}

static int open_claims(ConfigParse *p, const char *name, void **ret_obj, unsigned **ret_seen,
		       char why[static CONFIG_WHY_MAX])
{
	(void)name, (void)why;
	return open_single(p, CONFIG_CLAIMS, &p->config->claims, &p->seen[CONFIG_CLAIMS], ret_obj,
			   ret_seen);
}

#define UINT(k, object, field, lo, hi, unit) \
	{ .key = k, .type = CONFIG_UINT, CONFIG_FIELD(object, field), .min = lo, .max = hi, \
	  .note = unit }
#define DURATION(k, field, lo, hi, why) \
	{ .key = k, .type = CONFIG_DURATION, CONFIG_FIELD(Config, field), .min = lo, .max = hi, \
	  .note = why }
#define STRING(k, object, field) { .key = k, .type = CONFIG_STRING, CONFIG_FIELD(object, field) }

/*
 * systemd refuses a sixth start within 10 s (StartLimitBurst=5 in
 * hsmjwtd.service): measured under a real systemd, exit-idle = 1s with a
 * request every 1.6 s had request 12 refused and the socket unit failed.
 * From 5 s a daemon idling out starts at most twice per 10 s, which leaves
 * three starts for Restart=.
 */
#define EXIT_IDLE_MIN 5

static int parse_exit_idle(const ConfigOption *o, void *obj, const char *value,
			   char why[static CONFIG_WHY_MAX])
{
	uint64_t v;

	(void)o;
	if (parse_duration(value, &v) == 0 && (v == 0 || (v >= EXIT_IDLE_MIN && v <= 86400))) {
		((Config *)obj)->exit_idle = v;
		return 0;
	}
	snprintf(why, CONFIG_WHY_MAX,
		 "'%s' is neither 0 (never) nor a duration from %ds to 1d: shorter idle exits "
		 "trip systemd's start limit (5 starts in 10 s) and the socket refuses clients",
		 value, EXIT_IDLE_MIN);
	return -EINVAL;
}

static const ConfigOption server_options[] = {
	STRING("socket", Config, socket_path),
	STRING("pid-file", Config, pid_file),
	UINT("max-frame", Config, max_frame, CONFIG_MIN_FRAME, CONFIG_MAX_FRAME, " bytes"),
	UINT("max-connections", Config, max_connections, 1, 1000000, NULL),
	UINT("max-connections-per-uid", Config, peer_limits.connections, 1, PEER_LIMIT_MAX, NULL),
	UINT("max-inflight-per-uid", Config, peer_limits.inflight, 1, PEER_LIMIT_MAX, NULL),
	UINT("max-queue", Config, max_queue, 1, PEER_LIMIT_MAX, " (requests for the token)"),
	UINT("denial-records", Config, peer_limits.denial_records, 1, PEER_LIMIT_MAX,
	     " (per uid and 5 s)"),
	DURATION("request-timeout", request_timeout, 1, 600, NULL),
	DURATION("read-timeout", read_timeout, 1, 600, NULL),
	DURATION("write-timeout", write_timeout, 1, 600, NULL),
	DURATION("idle-timeout", idle_timeout, 1, 86400, NULL),
	{ .key = "exit-idle", .type = CONFIG_CUSTOM, CONFIG_FIELD(Config, exit_idle),
	  .parse = parse_exit_idle },
};
_Static_assert(ELEMENTSOF(server_options) <= CONFIG_OPTIONS_MAX, "one seen bit per row");

static const ConfigOption token_options[] = {
	STRING("module", Config, module),
	STRING("init-args", Config, init_args),
	STRING("uri", Config, token_uri),
	STRING("pin-file", Config, pin_file),
	STRING("owner", Config, token_owner),
	UINT("sessions", Config, sessions, 0, CONFIG_MAX_SESSIONS, " (0: sign in the event loop)"),
};
_Static_assert(ELEMENTSOF(token_options) <= CONFIG_OPTIONS_MAX, "one seen bit per row");

static const char *sync_name(unsigned i)
{
	return audit_sync_to_string((AuditSync)i);
}

static const char *verify_name(unsigned i)
{
	static const char *const names[] = {
		[AUDIT_VERIFY_ALL] = "all",
		[AUDIT_VERIFY_FAILURES] = "failures",
		[AUDIT_VERIFY_NONE] = "none",
	};

	return i < ELEMENTSOF(names) ? names[i] : NULL;
}

static const ConfigOption audit_options[] = {
	/* Empty: no file sink (the journal must then be on); not given: the default file. */
	{ .key = "file", .type = CONFIG_PATH, CONFIG_FIELD(AuditConfig, file) },
	{ .key = "journal", .type = CONFIG_BOOL, CONFIG_FIELD(AuditConfig, journal) },
	{ .key = "head-file", .type = CONFIG_PATH, CONFIG_FIELD(AuditConfig, head_file) },
	{ .key = "sync", .type = CONFIG_ENUM, CONFIG_FIELD(AuditConfig, sync), .name_of = sync_name },
	{ .key = "verify", .type = CONFIG_ENUM, CONFIG_FIELD(AuditConfig, verify),
	  .name_of = verify_name },
	{ .key = "preallocate", .type = CONFIG_BOOL, CONFIG_FIELD(AuditConfig, preallocate) },
};
_Static_assert(ELEMENTSOF(audit_options) <= CONFIG_OPTIONS_MAX, "one seen bit per row");

static const ConfigOption claims_options[] = {
	/* 0 extra claims is a policy: this daemon then signs the fixed members only. */
	UINT("max-extra-claims", ClaimLimits, max_extra, 0, 1024, NULL),
	UINT("max-claim-name", ClaimLimits, max_name, 1, 1024, " bytes"),
	/* 17: room for every integer allowed, -9007199254740991 included. */
	UINT("max-claim-value", ClaimLimits, max_value, 17, 1u << 20, " bytes"),
	UINT("max-payload", ClaimLimits, max_payload, 1024, 1u << 24, " bytes"),
};
_Static_assert(ELEMENTSOF(claims_options) <= CONFIG_OPTIONS_MAX, "one seen bit per row");

#define SECTION(n, table, opener) \
	{ .name = n, .options = table, .n_options = ELEMENTSOF(table), .open = opener }

const ConfigSection config_section_server = SECTION("server", server_options, open_server);
const ConfigSection config_section_token = SECTION("token", token_options, open_token);
const ConfigSection config_section_audit = SECTION("audit", audit_options, open_audit);
const ConfigSection config_section_claims = SECTION("claims", claims_options, open_claims);
