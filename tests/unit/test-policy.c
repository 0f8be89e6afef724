/* SPDX-License-Identifier: MIT */
/* [policy NAME] parsing and the decision, on hand-made peers and requests. */
#include <errno.h>
#include <unistd.h>

#include "authorize.h"
#include "config-text.h"
#include "policy.h"
#include "tests.h"

#define BASE "[token]\nuri = pkcs11:token=t\n[key zumo]\nuri = pkcs11:object=z\n" \
	     "default-lifetime = 1h\n[key other]\nuri = pkcs11:object=o\nkid = other\n"
#define SEC 1000000000ull

static Config *good(const char *text)
{
	Config *c = NULL;
	char *err = NULL;

	if (load(text, &c, &err) < 0) {
		fprintf(stderr, "unexpected error: %s\n", err);
		exit(EXIT_FAILURE);
	}
	return c;
}

static Peer peer(uid_t uid, gid_t gid, const char *unit)
{
	Peer p = PEER_NULL;

	p.uid = uid;
	p.gid = gid;
	p.unit = unit ? strdup(unit) : NULL;
	return p;
}

static PolicyRequest request(const char *key, const char *aud, const char *sub)
{
	return (PolicyRequest){
		.key = key,
		.audience = { aud, strlen(aud) },
		.user_id = { sub, strlen(sub) },
	};
}

/* The decision as text: "allow NAME" or "deny: MESSAGE". */
static void expect(const Config *c, const Peer *p, const PolicyRequest *rq, const char *want)
{
	const Policy *pol = NULL;
	char msg[POLICY_MESSAGE_MAX], got[POLICY_MESSAGE_MAX + 16];

	if (policy_decide(c->policies, c->n_policies, p, rq, &pol, msg, sizeof(msg)) == 0)
		snprintf(got, sizeof(got), "allow %s", pol->name);
	else
		snprintf(got, sizeof(got), "deny: %s", msg);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "got      %s\nexpected %s\n", got, want);
		exit(EXIT_FAILURE);
	}
}

static void parsing(void)
{
	Config *c = good(BASE "[policy pay]\nuser = root\nuid = 1000 1001\ngroup = 0\n"
			      "unit = pay-*.service\n  pay.service\nkeys = zumo\n"
			      "audiences = Custom Face*\naudiences = Google\n"
			      "user-ids = Custom:* My\\ Provider:*\nmax-lifetime = 15min\n"
			      "credentials = yes\nlegacy-claims = no\nextra-claims = role\n"
			      "rate = 10/s\nburst = 20\n"
			      "[policy all]\nuser = *\nkeys = *\naudiences = *\nuser-ids = *\n");
	const Policy *p = &c->policies[0];

	check_int(c->n_policies, 2);
	check(strcmp(p->name, "pay") == 0);
	check_int(p->n_uids, 3);
	check_int(p->uids[0], 0);
	check_int(p->uids[2], 1001);
	check_int(p->n_gids, 1);
	check(strcmp(p->units[1], "pay.service") == 0 && !p->units[2]); /* continuation line */
	check(strcmp(p->audiences[2], "Google") == 0 && !p->audiences[3]); /* repeated list key */
	check(strcmp(p->user_ids[1], "My\\ Provider:*") == 0);
	check_int(p->max_lifetime, 900);
	check(p->credentials && !p->legacy_claims);
	check_int(p->rate.cost_ns, SEC / 10);
	check_int(p->rate.burst, 20);
	check(c->policies[1].any_user && c->policies[1].n_uids == 0);
	check_int(c->policies[1].rate.cost_ns, 0);
	config_free(c);

	/* No [policy] at all is valid: it denies everything. */
	c = good(BASE);
	check_int(c->n_policies, 0);
	config_free(c);

	bad(BASE "[policy p]\nkeys = *\naudiences = *\nuser-ids = *\n", "matches no one");
	bad(BASE "[policy p]\nuid = 1\naudiences = *\nuser-ids = *\n", "which keys it grants");
	bad(BASE "[policy p]\nuid = 1\nkeys = *\nuser-ids = *\n", "which audiences");
	bad(BASE "[policy p]\nuid = 1\nkeys = *\naudiences = *\n", "which user-ids");
	bad(BASE "[policy p]\nuid = 1\nkeys = nope\naudiences = *\nuser-ids = *\n",
	    "grants key 'nope', but there is no [key nope]");
	bad(BASE "[policy p]\nuid = alice\n", ":10: [policy p] uid: 'alice' is not a number");
	bad(BASE "[policy p]\nuser = no-such-user-hsmjwt\n", "no user named 'no-such-user-hsmjwt'");
	bad(BASE "[policy p]\ngroup = no-such-group-hsmjwt\n", "no group named");
	bad(BASE "[policy p]\nuid = 4294967295\n", "not a number");
	bad(BASE "[policy p]\nuid = 1\nmax-lifetime = 1h\nmax-lifetime = 2h\n", "given twice");
	bad(BASE "[policy p]\nuid = 1\nmax-lifetime = 0\n", "not a duration");
	bad(BASE "[policy p]\nuid = 1\ncredentials = maybe\n", "[policy p] credentials: must be yes or no, not 'maybe'");
	bad(BASE "[policy p]\nuid = 1\nrate = 10\n", "[policy p] rate: '10' is not N/s");
	bad(BASE "[policy p]\nuid = 1\nrate = 0/s\n", "is not N/s");
	bad(BASE "[policy p]\nuid = 1\nburst = 0\n", "[policy p] burst: '0' is not a number of 1..");
	bad(BASE "[policy p]\nuid = 1\nkeys = *\naudiences = *\nuser-ids = *\nburst = 5\n",
	    "[policy p] burst: needs a rate");
	bad(BASE "[policy p]\nuid = 1\naudiences = [abc\n", "not a valid pattern");
	bad(BASE "[policy p]\nuid = 1\nunit = [[:alpha:]]*\n", "not a valid pattern");
	bad(BASE "[policy p]\nuid = 1\nkey = zumo\n", "[policy p] key: unknown key (known: user, uid, group, gid, unit, keys,");
	bad(BASE "[policy p]\nuid = 1\nkeys = *\naudiences = *\nuser-ids = *\n"
		 "[policy q]\nuid = 2\n[policy p]\nuid = 3\n", "[policy p]: section appears twice");
	bad(BASE "[policy a/b]\nuid = 1\n", "policy name 'a/b'");
	bad(BASE "[policy p]\nuid = 1\naudiences =\n", "[policy p] audiences: needs at least one value");

	/* inih would read the tail of a long line as an option of its own: refused instead. */
	char text[512];
	snprintf(text, sizeof(text), BASE "[policy p]\nuid = 1\naudiences = %0190d x\nkeys = *\n", 0);
	bad(text, ":11: line longer than 198 bytes");
}

static void decisions(void)
{
	Config *c = good(BASE "[policy pay]\nuser = 1000\nunit = pay*.service\nkeys = zumo\n"
			      "audiences = Custom Face*\nuser-ids = Custom:*\nmax-lifetime = 10min\n"
			      "extra-claims = role tenant-*\n"
			      "[policy ops]\ngroup = 50\nkeys = *\naudiences = *\nuser-ids = *\n"
			      "credentials = yes\nlegacy-claims = yes\n");
	Peer pay = peer(1000, 1000, "pay-api.service"), same_uid_no_unit = peer(1000, 1000, NULL);
	Peer root = peer(0, 0, NULL), op = peer(2000, 2000, NULL);
	PolicyRequest rq = request("zumo", "Custom", "Custom:42");
	const char *extra[] = { "role", "tenant-eu", "admin" };

	expect(c, &pay, &rq, "allow pay");
	/* The unit is part of the match: same uid outside the unit, or in another, is someone else. */
	expect(c, &same_uid_no_unit, &rq,
	       "deny: no policy grants tokens to uid 1000 (gid 1000, no systemd unit)");
	free(pay.unit);
	pay.unit = strdup("other.service");
	expect(c, &pay, &rq,
	       "deny: no policy grants tokens to uid 1000 (gid 1000, unit other.service)");
	free(pay.unit);
	pay.unit = strdup("pay.service");
	/* Root is nobody special. */
	expect(c, &root, &rq, "deny: no policy grants tokens to uid 0 (gid 0, no systemd unit)");

	rq = request("other", "Custom", "Custom:42");
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant key 'other'");
	rq = request("zumo", "Facebook", "Custom:42");
	expect(c, &pay, &rq, "allow pay");
	rq = request("zumo", "Google", "Custom:42");
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant audience 'Google'");
	/* What a client sent comes back printable and short. */
	rq = request("zumo", "Goo\ngle\xc3\xa9", "Custom:42");
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant audience 'Goo?gle?" "?'");
	rq = request("zumo", "Custom", "Facebook:42");
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant user id 'Facebook:42'");

	rq = request("zumo", "Custom", "Custom:42");
	rq.lifetime = 600;
	expect(c, &pay, &rq, "allow pay");
	rq.lifetime = 601;
	expect(c, &pay, &rq, "deny: lifetime 601 s exceeds policy 'pay' max-lifetime of 600 s");
	check_int(policy_default_lifetime(&c->policies[0], 3600), 600);
	check_int(policy_default_lifetime(&c->policies[0], 60), 60);
	check_int(policy_default_lifetime(&c->policies[1], 3600), 3600);

	rq = request("zumo", "Custom", "Custom:42");
	rq.credentials = true;
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant the credentials claim");
	rq.credentials = false;
	rq.legacy_claims = true;
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant legacy claims");
	rq.legacy_claims = false;
	rq.extra_claims = extra;
	rq.n_extra_claims = 2;
	expect(c, &pay, &rq, "allow pay");
	rq.n_extra_claims = 3;
	expect(c, &pay, &rq, "deny: policy 'pay' does not grant claim 'admin'");

	/* Groups: primary or supplementary. */
	rq = request("other", "Any", "Thing:1");
	rq.credentials = rq.legacy_claims = true;
	rq.extra_claims = extra;
	rq.n_extra_claims = 3;
	expect(c, &op, &rq, "deny: no policy grants tokens to uid 2000 (gid 2000, no systemd unit)");
	op.gid = 50;
	expect(c, &op, &rq, "deny: policy 'ops' does not grant claim 'role'");
	rq.n_extra_claims = 0;
	expect(c, &op, &rq, "allow ops");
	op.gid = 2000;
	op.groups = calloc(2, sizeof(gid_t));
	op.groups[0] = 7;
	op.groups[1] = 50;
	op.n_groups = 2;
	expect(c, &op, &rq, "allow ops");

	peer_done(&pay);
	peer_done(&same_uid_no_unit);
	peer_done(&root);
	peer_done(&op);
	config_free(c);
}

/* First match decides, even when a later policy would grant more. */
static void first_match(void)
{
	Config *c = good(BASE "[policy narrow]\nuid = 1000\nkeys = zumo\naudiences = Custom\n"
			      "user-ids = *\n[policy wide]\nuid = 1000\nkeys = *\naudiences = *\n"
			      "user-ids = *\n");
	Peer p = peer(1000, 1000, NULL);
	PolicyRequest rq = request("zumo", "Facebook", "x");

	expect(c, &p, &rq, "deny: policy 'narrow' does not grant audience 'Facebook'");
	peer_done(&p);
	config_free(c);
}

/* Per-uid limits: [server] defaults, a policy's overrides, the rest of the defaults kept. */
static void limits(void)
{
	Config *c = good("[server]\nmax-connections-per-uid = 10\nmax-inflight-per-uid = 20\n"
			 "denial-records = 5\nmax-queue = 100\n" BASE
			 "[policy big]\nuid = 1000\nkeys = *\naudiences = *\nuser-ids = *\n"
			 "max-connections = 300\ndenial-records = 1000\n");
	PeerLimits d = c->peer_limits, l = peer_limits_apply(&d, &c->policies[0].limits);

	check_int(d.connections, 10);
	check_int(d.inflight, 20);
	check_int(d.denial_records, 5);
	check_int(c->max_queue, 100);
	check_int(l.connections, 300);
	check_int(l.inflight, 20);
	check_int(l.denial_records, 1000);
	l = peer_limits_apply(&d, NULL);
	check_int(l.connections, 10);
	config_free(c);
	c = good(BASE);
	check_int(c->peer_limits.connections, PEER_DEFAULT_CONNECTIONS);
	check_int(c->peer_limits.inflight, PEER_DEFAULT_INFLIGHT);
	check_int(c->peer_limits.denial_records, PEER_DEFAULT_DENIAL_RECORDS);
	check_int(c->max_queue, CONFIG_DEFAULT_MAX_QUEUE);
	config_free(c);
}

/*
 * A peer whose unit could not be established (it exited before accept) is
 * not judged by a later, broader policy: the unit policy denies it. A peer
 * known to be in no unit is not in the unit policy's unit and goes on.
 */
static void unknown_identity(void)
{
	Config *c = good(BASE "[policy sandbox]\nuid = 4002\nunit = payments-api.service\n"
			      "keys = zumo\naudiences = Test\nuser-ids = *\n"
			      "[policy app]\nuid = 4002\nkeys = *\naudiences = *\nuser-ids = *\n");
	Peer gone = peer(4002, 4002, NULL), none = peer(4002, 4002, NULL),
	     in = peer(4002, 4002, "payments-api.service");
	PolicyRequest rq = request("zumo", "Custom", "x");

	gone.unit_unknown = true;
	gone.pid = 77;
	expect(c, &gone, &rq,
	       "deny: policy 'sandbox' matches on the systemd unit, which could not be established "
	       "for pid 77 uid 4002 (did it exit before the daemon accepted?); denied, no later "
	       "policy is tried");
	check(policy_match(c->policies, c->n_policies, &gone) == NULL);
	expect(c, &none, &rq, "allow app");
	expect(c, &in, &rq, "deny: policy 'sandbox' does not grant audience 'Custom'");
	peer_done(&gone);
	peer_done(&none);
	peer_done(&in);
	config_free(c);
}

/* authorize(): no match, rate, then grants; the rate counts refused requests too. */
static void authorizing(void)
{
	Config *c = good(BASE "[policy pay]\nuid = 1000\nkeys = zumo\naudiences = Custom\n"
			      "user-ids = *\nrate = 1/s\nburst = 2\n");
	RateLimiter *rl = ratelimit_new(16);
	Peer p = peer(1000, 1000, "a.service"), stranger = peer(1001, 1001, "a.service");
	PolicyRequest ok = request("zumo", "Custom", "x"), no = request("zumo", "Google", "x");
	const Policy *pol = NULL;
	Failure f = {};

	check_int(authorize(c, rl, &stranger, &ok, SEC, &pol, &f), -EPERM);
	check_int(f.code, SERVICE_PERMISSION_DENIED);
	check_int(ratelimit_buckets(rl), 0); /* strangers cost no memory */
	check_int(authorize(c, rl, &p, &ok, SEC, &pol, &f), 0);
	check(pol == &c->policies[0]);
	f = (Failure){};
	check_int(authorize(c, rl, &p, &no, SEC, &pol, &f), -EPERM);
	check_int(f.code, SERVICE_PERMISSION_DENIED);
	check(strstr(f.message, "does not grant audience"));
	f = (Failure){};
	check_int(authorize(c, rl, &p, &ok, SEC + SEC / 4, &pol, &f), -EAGAIN);
	check_int(f.code, SERVICE_RATE_LIMITED);
	check_int(f.retry_after_ms, 750);
	check(strcmp(f.message, "rate limited by policy 'pay' (1/s burst 2); retry in 750 ms") == 0);
	check_int(authorize(c, rl, &p, &ok, 2 * SEC, &pol, &f), 0);
	peer_done(&p);
	peer_done(&stranger);
	ratelimit_free(rl);
	config_free(c);
}

int main(void)
{
	int fd = mkstemp(path);

	check(fd >= 0);
	close(fd);
	parsing();
	decisions();
	first_match();
	unknown_identity();
	limits();
	authorizing();
	unlink(path);
	return 0;
}
