/* SPDX-License-Identifier: MIT */
/*
 * The option tables of hsmjwtd.conf, row by row: every key refused when
 * given twice, every bound enforced on both sides, unknown keys answered
 * with the keys the section knows, and the one error format. The rows are
 * read from the tables themselves, so a key added later is covered here.
 */
#include <errno.h>
#include <unistd.h>

#include "config-table.h"
#include "config-text.h"

/* What every file needs besides the section under test; it follows that section. */
#define BASE "[token]\nuri = pkcs11:\n[key a]\nuri = x\n"

static const struct {
	const ConfigSection *section;
	const char *header; /* as written between [ ] */
} sections[] = {
	{ &config_section_server, "server" }, { &config_section_token, "token" },
	{ &config_section_audit, "audit" },   { &config_section_claims, "claims" },
	{ &config_section_key, "key t" },     { &config_section_policy, "policy p" },
};

/* A value each row takes. */
static const char *valid_value(const ConfigOption *o, char *buf, size_t size)
{
	static const struct {
		const char *key, *value;
	} custom[] = {
		{ "bits", "3072" }, { "add-claims", "iat" }, { "rate", "10/s" }, { "user", "0" },
		{ "uid", "0" },	    { "group", "0" },	     { "gid", "0" },	   { "keys", "*" },
		{ "exit-idle", "5min" },
	};

	switch (o->type) {
	case CONFIG_STRING:
		return "x";
	case CONFIG_PATH:
		return "/x";
	case CONFIG_BOOL:
		return "yes";
	case CONFIG_UINT:
	case CONFIG_DURATION:
		snprintf(buf, size, "%llu", (unsigned long long)o->max);
		return buf;
	case CONFIG_TIMESTAMP:
		return "2030-01-01T00:00:00Z";
	case CONFIG_ENUM:
		return o->name_of(0);
	case CONFIG_CUSTOM:
		for (size_t i = 0; i < ELEMENTSOF(custom); i++)
			if (strcmp(custom[i].key, o->key) == 0)
				return custom[i].value;
		return "*"; /* the list rows */
	}
	return NULL;
}

/* The error for text, which must be refused. */
static char *error_of(const char *text)
{
	Config *c = NULL;
	char *err = NULL;

	check(load(text, &c, &err) < 0);
	check(c == NULL && err);
	return err;
}

static void expect(const char *text, const char *line_section_key_why)
{
	char *err = error_of(text), want[1024];

	snprintf(want, sizeof(want), "%s:%s", path, line_section_key_why);
	if (strcmp(err, want) != 0) {
		fprintf(stderr, "for\n%s\ngot      '%s'\nexpected '%s'\n", text, err, want);
		exit(EXIT_FAILURE);
	}
	free(err);
}

static void given_twice(void)
{
	for (size_t s = 0; s < ELEMENTSOF(sections); s++)
		for (size_t i = 0; i < sections[s].section->n_options; i++) {
			const ConfigOption *o = &sections[s].section->options[i];
			char text[512], buf[32], want[256];
			const char *v = valid_value(o, buf, sizeof(buf));
			Config *c = NULL;
			char *err = NULL;

			snprintf(text, sizeof(text), "[%s]\n%s = %s\n%s = %s\n" BASE,
				 sections[s].header, o->key, v, o->key, v);
			if (o->repeatable) {
				/* Lists append; whether the file is whole is not the point. */
				if (load(text, &c, &err) == 0)
					config_free(c);
				check(!err || !strstr(err, "given twice"));
				free(err);
				continue;
			}
			snprintf(want, sizeof(want), "3: [%s] %s: given twice", sections[s].header,
				 o->key);
			expect(text, want);
		}
}

/* Below min and above max, for the rows that have bounds of their own. */
static void out_of_bounds(void)
{
	for (size_t s = 0; s < ELEMENTSOF(sections); s++)
		for (size_t i = 0; i < sections[s].section->n_options; i++) {
			const ConfigOption *o = &sections[s].section->options[i];
			const char *what = o->type == CONFIG_UINT ? "number" : "duration";
			unsigned long long bad[2] = { o->max + 1, o->min - 1 };
			char text[512], want[256];

			if (o->type != CONFIG_UINT && o->type != CONFIG_DURATION)
				continue;
			for (size_t b = 0; b < (o->min > 0 ? 2u : 1u); b++) {
				snprintf(text, sizeof(text), "[%s]\n%s = %llu\n" BASE,
					 sections[s].header, o->key, bad[b]);
				snprintf(want, sizeof(want), "2: [%s] %s: '%llu' is not a %s ",
					 sections[s].header, o->key, bad[b], what);
				char *err = error_of(text);
				if (!strstr(err, want)) {
					fprintf(stderr, "'%s' lacks '%s'\n", err, want);
					exit(EXIT_FAILURE);
				}
				free(err);
			}
		}
	/* The bounded rows with parsers or lengths of their own. */
	expect("[key t]\nbits = 1024\n" BASE, "2: [key t] bits: '1024' is not 2048, 3072 or 4096");
	expect("[key t]\nbits = 5120\n" BASE, "2: [key t] bits: '5120' is not 2048, 3072 or 4096");
	expect("[key t]\nbits = 3000\n" BASE, "2: [key t] bits: '3000' is not 2048, 3072 or 4096");
	expect("[key t]\nkid =\n" BASE, "2: [key t] kid: must be 1-256 bytes");
	expect("[key t]\nnot-after = 0\n" BASE,
	       "2: [key t] not-after: '0' is not an RFC 3339 time or Unix seconds");
	expect("[policy p]\nrate = 0/s\n" BASE,
	       "2: [policy p] rate: '0/s' is not N/s, N/min or N/h with N 1..1000000 per second");
}

static void unknown_keys(void)
{
	for (size_t s = 0; s < ELEMENTSOF(sections); s++) {
		const ConfigSection *sec = sections[s].section;
		char text[256], want[1024];
		size_t n;

		snprintf(text, sizeof(text), "[%s]\nno-such-key = 1\n" BASE, sections[s].header);
		n = snprintf(want, sizeof(want), "2: [%s] no-such-key: unknown key (known: ",
			     sections[s].header);
		for (size_t i = 0; i < sec->n_options; i++)
			n += snprintf(want + n, sizeof(want) - n, "%s%s", i ? ", " : "",
				      sec->options[i].key);
		snprintf(want + n, sizeof(want) - n, ")");
		expect(text, want);
	}
	expect("[servr]\nsocket = /x\n", "1: [servr]: unknown section (known: server, token, audit, "
					 "claims, key NAME, policy NAME)");
}

/* file:line: [section] key: why, and the cases where a part has no place. */
static void format(void)
{
	expect(BASE "\n[key b]\nuri = y\nmax-lifetime = 0\n",
	       "8: [key b] max-lifetime: '0' is not a duration from 1s to 3660d");
	expect("[server]\nexit-idle = 2d\n" BASE,
	       "2: [server] exit-idle: '2d' is neither 0 (never) nor a duration from 5s to 1d: "
	       "shorter idle exits trip systemd's start limit (5 starts in 10 s) and the socket "
	       "refuses clients");
	expect("[server]\nexit-idle = 1s\n" BASE,
	       "2: [server] exit-idle: '1s' is neither 0 (never) nor a duration from 5s to 1d: "
	       "shorter idle exits trip systemd's start limit (5 starts in 10 s) and the socket "
	       "refuses clients");
	expect("[server]\nmax-frame = 1k\n" BASE,
	       "2: [server] max-frame: '1k' is not a number of 1024..16777216 bytes");
	expect("[audit]\njournal = maybe\n" BASE, "2: [audit] journal: must be yes or no, not 'maybe'");
	/* After the file: the line of the section the check is about. */
	expect(BASE "[key b]\nuri = y\nalg = ES256\nprofile = zumo-v2\n",
	       "5: [key b] profile: zumo-v2 requires alg HS256");
	expect(BASE "[key b]\nuri = y\nmax-lifetime = 1h\ndefault-lifetime = 2h\n",
	       "5: [key b] default-lifetime: exceeds max-lifetime");
	expect(BASE "[key b]\nalg = HS256\n", "5: [key b] uri: required: the key's object on the token");
	expect(BASE "[audit]\nfile =\njournal = no\n", "5: [audit]: needs a sink: a file, the journal "
						      "or both");
	expect(BASE "[policy p]\nuid = 1\nkeys = *\naudiences = *\nuser-ids = *\nburst = 5\n",
	       "5: [policy p] burst: needs a rate");
	/* No [token] section, so no line to name. */
	expect("[server]\nsocket = /x\n[key a]\nuri = x\n",
	       " [token] uri: required: the token that holds the keys");
	expect("[token]\nuri = pkcs11:\n", " no [key NAME] section");
	expect("[token]\nuri\n", "2: syntax error");
	/* Problems of a whole section name its header line. */
	expect(BASE "[key b]\nuri = y\n[key a]\nuri = z\n", "7: [key a]: section appears twice");
	bad("[policy a/b]\nuid = 1\n" BASE, ":1: [policy a/b]: policy name 'a/b' must be 1-64 of");
}

int main(void)
{
	uint64_t v;
	int fd = mkstemp(path);

	check(fd >= 0);
	close(fd);
	given_twice();
	out_of_bounds();
	unknown_keys();
	format();

	/* The value parsers the rows share. */
	check_int(config_parse_uint("0", 0, 5, &v), 0);
	check_int(v, 0);
	check_int(config_parse_uint("6", 0, 5, &v), -ERANGE);
	check_int(config_parse_uint("1", 2, 5, &v), -ERANGE);
	check_int(config_parse_uint("+1", 0, 5, &v), -EINVAL);
	check_int(config_parse_uint(" 1", 0, 5, &v), -EINVAL);
	check_int(config_parse_uint("1x", 0, 5, &v), -EINVAL);
	check_int(config_parse_uint("99999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	bool b;
	check_int(config_parse_bool("on", &b), 0);
	check(b);
	check_int(config_parse_bool("0", &b), 0);
	check(!b);
	check_int(config_parse_bool("Yes", &b), -EINVAL);
	char buf[16];
	format_duration(600, buf, sizeof(buf));
	check(strcmp(buf, "10min") == 0);
	format_duration(90, buf, sizeof(buf));
	check(strcmp(buf, "90s") == 0);
	format_duration(86400, buf, sizeof(buf));
	check(strcmp(buf, "1d") == 0);
	unlink(path);
	return 0;
}
