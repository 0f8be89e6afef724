/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>

#include "config-text.h"
#include "tests.h"

static void good(void)
{
	Config *c = NULL;
	char *err = NULL;

	check_int(load("[server]\nsocket = /run/x.sock\nmax-frame = 4096\n"
		       "[token]\nuri = pkcs11:token=t\npin-file = /p\n"
		       "[key zumo]\nuri = pkcs11:object=zumo\nmax-lifetime = 2d\ndefault-lifetime = 15min\n"
		       "[key other]\nuri = pkcs11:object=o\nkid = k1\nissuer = urn:x\n",
		       &c, &err),
		  0);
	check(strcmp(c->socket_path, "/run/x.sock") == 0);
	check_int(c->max_frame, 4096);
	check_int(c->n_keys, 2);
	check(strcmp(c->keys[0].kid, "0") == 0);
	check(strcmp(c->keys[0].issuer, ZUMO_ISSUER) == 0);
	check_int(c->keys[0].max_lifetime, 2 * 86400);
	check_int(c->keys[0].default_lifetime, 900);
	check(strcmp(c->keys[1].kid, "k1") == 0);
	check(config_find_key(c, "other") == &c->keys[1]);
	check(config_find_key(c, "nope") == NULL);
	check(strcmp(c->audit.file, CONFIG_DEFAULT_AUDIT_FILE) == 0);
	check(c->audit.journal && c->audit.sync == AUDIT_SYNC_ALWAYS && !c->pid_file);
	config_free(c);

	check_int(load("[server]\npid-file = /run/h.pid\n[token]\nuri = pkcs11:\n[key a]\nuri = x\n"
		       "[audit]\nfile =\njournal = yes\nsync = batch\n", &c, &err), 0);
	check(!c->audit.file && c->audit.journal && c->audit.sync == AUDIT_SYNC_BATCH);
	check(strcmp(c->pid_file, "/run/h.pid") == 0);
	config_free(c);
}

int main(void)
{
	uint64_t v;
	int fd = mkstemp(path);

	check(fd >= 0);
	close(fd);
	good();
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\nmax-lifetme = 1\n", ":5: [key a] max-lifetme: unknown key (known: uri, kid,");
	bad("[token]\nuri = pkcs11:\n", "no [key NAME] section");
	/* Two active zumo-v2 keys on the default kid "0": one's tokens would verify as the other's. */
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\n[key b]\nuri = y\n",
	    ":5: [key b] kid: \"0\" is also the kid of active key a");
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\nverify-set = r\n[key b]\nuri = y\n"
	    "verify-set = s\n", ":6: [key b] kid: \"0\" is also the kid of active key a");
	{
		/* One verify set, and a retired key on the same kid: both fine. */
		Config *c = NULL;
		char *err = NULL;

		check_int(load("[token]\nuri = pkcs11:\n[key a]\nuri = x\nverify-set = r\n[key b]\n"
			       "uri = y\nverify-set = r\n[key c]\nuri = z\nstate = retired\n", &c, &err),
			  0);
		config_free(c);
	}
	bad("[key a]\nuri = x\n", "[token] uri: required");
	bad("[token]\nuri = pkcs11:\n[key a]\nalg = none\n", "[key a] alg: 'none' is not one of HS256 ES256");
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\nuri = y\n", "given twice");
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\n[key b]\nuri = z\n[key a]\nuri = y\n", ":7: [key a]: section appears twice");
	bad("[token]\nuri = pkcs11:\n[key a/b]\nuri = x\n", "key name 'a/b'");
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\nmax-lifetime = 1h\ndefault-lifetime = 2h\n",
	    ":3: [key a] default-lifetime: exceeds max-lifetime");
	bad("[token]\nuri = pkcs11:\n[key a]\nuri = x\nmax-lifetime = -5\n", "not a duration");
	bad("[server]\nmax-frame = 10\n", "[server] max-frame: '10' is not a number of 1024..16777216 bytes");
	bad("[tokens]\nuri = pkcs11:\n", ":1: [tokens]: unknown section (known: server, token, audit, claims, key NAME, policy NAME)");
	bad("[token]\nuri\n", "syntax error");
#define KEY "[token]\nuri = pkcs11:\n[key a]\nuri = x\n"
	bad(KEY "[audit]\nsync = sometimes\n", "[audit] sync: 'sometimes' is not one of always batch none");
	bad(KEY "[audit]\nfile = audit.jsonl\n", "[audit] file: 'audit.jsonl' is not an absolute path");
	bad(KEY "[audit]\nfile =\njournal = no\n", "[audit]: needs a sink");
	bad(KEY "[audit]\njournal = maybe\n", "[audit] journal: must be yes or no, not 'maybe'");
	bad(KEY "[audit]\nsync = none\nsync = none\n", "given twice");
	bad(KEY "[audit]\nfle = /x\n", ":6: [audit] fle: unknown key (known: file, journal, head-file, sync, verify, preallocate)");

	check_int(parse_duration("90", &v), 0);
	check_int(v, 90);
	check_int(parse_duration("2h", &v), 0);
	check_int(v, 7200);
	check_int(parse_duration("3d", &v), 0);
	check_int(v, 3 * 86400);
	check_int(parse_duration("1y", &v), -EINVAL);
	check_int(parse_duration("", &v), -EINVAL);
	check_int(parse_duration("99999999999999999999", &v), -ERANGE);
	int64_t t;
	check_int(parse_timestamp("2027-01-01T00:00:00Z", &t), 0);
	check_int(t, 1798761600);
	check_int(parse_timestamp("2027-01-01T01:30:00+01:30", &t), 0);
	check_int(t, 1798761600);
	check_int(parse_timestamp("2026-12-31T22:00:00-02:00", &t), 0);
	check_int(t, 1798761600);
	check_int(parse_timestamp("1798761600", &t), 0);
	check_int(t, 1798761600);
	check_int(parse_timestamp("2027-01-01", &t), -EINVAL);
	check_int(parse_timestamp("2027-01-01T00:00:00", &t), -EINVAL); /* no zone: ambiguous */
	check_int(parse_timestamp("2027-01-01T00:00:00+1:00", &t), -EINVAL);

	/* Asymmetric keys: profile standard by default, issuer required, bits for RSA only. */
	Config *c = NULL;
	char *err = NULL;
	check_int(load("[token]\nuri = pkcs11:\n[key e]\nuri = pkcs11:object=e\nalg = ES256\n"
		       "issuer = https://i\nstate = published\nnot-after = 2030-01-01T00:00:00Z\n"
		       "[key h]\nuri = pkcs11:object=h\n",
		       &c, &err),
		  0);
	check_int(c->keys[0].profile, PROFILE_STANDARD);
	check_int(c->keys[0].state, KEY_STATE_PUBLISHED);
	check(c->keys[0].kid == NULL); /* the thumbprint, once the key is read */
	check(config_default_key(c) == &c->keys[1]);
	config_free(c);
	bad("[token]\nuri = pkcs11:\n[key e]\nuri = x\nalg = ES256\n", "needs an issuer");
	bad("[token]\nuri = pkcs11:\n[key e]\nuri = x\nalg = ES256\nissuer = i\nbits = 3072\n",
	    "RSA keys only");
	bad("[token]\nuri = pkcs11:\n[key e]\nuri = x\nalg = RS256\nissuer = i\nbits = 1024\n",
	    "[key e] bits: '1024' is not 2048, 3072 or 4096");
	bad("[token]\nuri = pkcs11:\n[key e]\nuri = x\nalg = ES256\nprofile = zumo-v2\n",
	    "requires alg HS256");
	bad("[token]\nuri = pkcs11:\n[key e]\nuri = x\nalg = none\n", "alg: 'none' is not one of");
	bad("[token]\nuri = pkcs11:\n[key e]\nuri = x\nstate = on\n", "[key e] state: 'on' is not one of active published retired");
	unlink(path);
	return 0;
}
