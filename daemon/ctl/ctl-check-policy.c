/* SPDX-License-Identifier: MIT */
/*
 * hsmjwtctl check-policy: what hsmjwtd would decide for a peer and a
 * request, offline (no token, no PIN), with the daemon's own policy code.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "policy.h"

/* The exit codes of `hsmjwt sign` for the same outcomes. */
enum { CHECK_ALLOW = 0, CHECK_USAGE = 2, CHECK_INVALID = 3, CHECK_DENY = 4 };

#define CHECK_EXTRA_MAX 64

static int parse_id(const char *s, bool group, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s >= '0' && *s <= '9' && !errno && !*end && v < UINT32_MAX) {
		*ret = (uint32_t)v;
		return 0;
	}
	if (group) {
		struct group *gr = getgrnam(s);

		if (!gr)
			return -ENOENT;
		*ret = gr->gr_gid;
	} else {
		struct passwd *pw = getpwnam(s);

		if (!pw)
			return -ENOENT;
		*ret = pw->pw_uid;
	}
	return 0;
}

/* No --gid: the groups the user database gives the user, as a login would. */
static int groups_from_passwd(Peer *peer)
{
	struct passwd *pw = getpwuid(peer->uid);
	int n = 64;

	if (!pw)
		return -ENOENT;
	peer->gid = pw->pw_gid;
	peer->groups = calloc((size_t)n, sizeof(gid_t));
	if (!peer->groups)
		return -ENOMEM;
	if (getgrouplist(pw->pw_name, pw->pw_gid, peer->groups, &n) < 0)
		n = 64; /* more than 64: the first 64 */
	peer->n_groups = (size_t)n;
	return 0;
}

static void print_peer(const Peer *peer)
{
	printf("peer: uid %u gid %u", (unsigned)peer->uid, (unsigned)peer->gid);
	for (size_t i = 0; i < peer->n_groups; i++)
		printf("%s%u", i ? "," : " groups ", (unsigned)peer->groups[i]);
	printf(" %s%s\n", peer->unit ? "unit " : "(no unit)", peer->unit ? peer->unit : "");
}

static void usage(void)
{
	fprintf(stderr, "Usage: hsmjwtctl check-policy --uid USER [--gid GROUP]... [--unit UNIT]\n"
			"         --aud AUDIENCE [--sub USER_ID] [--key NAME] [--lifetime SECONDS]\n"
			"         [--credentials] [--extra-claim NAME]... [--legacy-claims]\n"
			"         [--payload]\n");
}

typedef struct CheckArgs {
	Peer peer;
	bool have_uid, gid_given;
	PolicyRequest rq;
	const char *extra[CHECK_EXTRA_MAX];
	const char *key;
} CheckArgs;

static int parse_args(CheckArgs *a, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "unit", required_argument, NULL, 'U' },
		{ "aud", required_argument, NULL, 'a' },
		{ "sub", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "credentials", no_argument, NULL, 'c' },
		{ "extra-claim", required_argument, NULL, 'x' },
		{ "legacy-claims", no_argument, NULL, 'L' },
		{ "payload", no_argument, NULL, 'P' },
		{},
	};
	uint32_t id;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'u':
		case 'g':
			if (parse_id(optarg, c == 'g', &id) < 0) {
				fprintf(stderr, "hsmjwtctl: no %s '%s'\n", c == 'g' ? "group" : "user",
					optarg);
				return -EINVAL;
			}
			if (c == 'u') {
				a->peer.uid = id;
				a->have_uid = true;
			} else if (!a->gid_given) {
				a->peer.gid = id;
				a->gid_given = true;
			} else {
				gid_t *g = realloc(a->peer.groups, (a->peer.n_groups + 1) * sizeof(gid_t));

				if (!g)
					return -ENOMEM;
				a->peer.groups = g;
				g[a->peer.n_groups++] = id;
			}
			break;
		case 'U':
			free(a->peer.unit);
			a->peer.unit = strdup(optarg);
			if (!a->peer.unit)
				return -ENOMEM;
			break;
		case 'a':
			a->rq.audience = (Span){ optarg, strlen(optarg) };
			break;
		case 's':
			a->rq.user_id = (Span){ optarg, strlen(optarg) };
			break;
		case 'k':
			a->key = optarg;
			break;
		case 'l':
			errno = 0;
			a->rq.lifetime = strtoull(optarg, &end, 10);
			if (errno || *end || *optarg < '1' || *optarg > '9') {
				fprintf(stderr, "hsmjwtctl: --lifetime takes a number of seconds\n");
				return -EINVAL;
			}
			break;
		case 'c':
			a->rq.credentials = true;
			break;
		case 'x':
			if (a->rq.n_extra_claims >= CHECK_EXTRA_MAX)
				return -E2BIG;
			a->extra[a->rq.n_extra_claims++] = optarg;
			break;
		case 'L':
			a->rq.legacy_claims = true;
			break;
		case 'P':
			a->rq.payload = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (!a->have_uid || !a->rq.audience.p || optind < argc)
		return -EINVAL;
	a->rq.extra_claims = a->extra;
	return 0;
}

static int decide(const Config *config, CheckArgs *a)
{
	const KeyConfig *kc = a->key ? config_find_key(config, a->key) : config_default_key(config);
	const Policy *p = NULL;
	char msg[POLICY_MESSAGE_MAX], rate[64];

	/* The daemon's own checks on the key, as far as they need no token. */
	if (!kc && !a->key) {
		printf("unavailable: no key is active\n");
		return CHECK_INVALID;
	}
	if (!kc) {
		printf("invalid: no key named '%s'\n", a->key);
		return CHECK_INVALID;
	}
	if (kc->state != KEY_STATE_ACTIVE) {
		printf("invalid: key %s is %s, not active\n", kc->name, key_state_to_string(kc->state));
		return CHECK_INVALID;
	}
	if (a->rq.lifetime > kc->max_lifetime) {
		printf("invalid: lifetime %" PRIu64 " s exceeds key %s's max-lifetime of %" PRIu64
		       " s\n", a->rq.lifetime, kc->name, kc->max_lifetime);
		return CHECK_INVALID;
	}
	a->rq.key = kc->name;
	if (policy_decide(config->policies, config->n_policies, &a->peer, &a->rq, &p, msg,
			  sizeof(msg)) < 0) {
		printf("deny: %s\n", msg);
		return CHECK_DENY;
	}
	printf("allow: policy '%s', key %s, lifetime %" PRIu64 " s%s\n", p->name, kc->name,
	       a->rq.lifetime ? a->rq.lifetime : policy_default_lifetime(p, kc->default_lifetime),
	       a->rq.lifetime ? "" : " (default)");
	if (!a->rq.user_id.p)
		printf("note: no --sub given, so the policy's user-ids were not checked\n");
	rate_spec_format(&p->rate, rate, sizeof(rate));
	printf("rate: %s per uid and unit (state not known offline)\n", rate);
	return CHECK_ALLOW;
}

int ctl_check_policy(const Config *config, int argc, char *argv[])
{
	CheckArgs a = { .peer = PEER_NULL };
	int r;

	r = parse_args(&a, argc, argv);
	if (r < 0) {
		usage();
		peer_done(&a.peer);
		return r == -ENOMEM ? r : CHECK_USAGE;
	}
	if (!a.gid_given && groups_from_passwd(&a.peer) < 0)
		fprintf(stderr, "hsmjwtctl: uid %u is not in the user database and no --gid was "
				"given: group rules can only match gid 0\n",
			(unsigned)a.peer.uid);
	print_peer(&a.peer);
	r = decide(config, &a);
	peer_done(&a.peer);
	return r;
}
