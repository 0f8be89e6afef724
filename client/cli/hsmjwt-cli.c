/* SPDX-License-Identifier: MIT */
/* hsmjwt: the command-line client of hsmjwtd. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-claims.h"
#include "hsmjwt-build.h"
#include "hsmjwt.h"
#include "secret.h"

/* Exit codes: one per error class, documented in --help and hsmjwt(1). */
enum {
	EXIT_OK = 0,
	EXIT_LOCAL = 1,
	EXIT_USAGE = 2,
	EXIT_INVALID = 3,
	EXIT_DENIED = 4,
	EXIT_RATE_LIMITED = 5,
	EXIT_UNAVAILABLE = 6,
	EXIT_UNREACHABLE = 7,
	EXIT_PROTOCOL = 8,
	/* hsmjwt verify: the token is invalid, by class of reason. */
	EXIT_TOKEN_MALFORMED = 10,
	EXIT_TOKEN_UNKNOWN_KID = 11,
	EXIT_TOKEN_FORGED = 12,	  /* bad signature, or an algorithm the key does not use */
	EXIT_TOKEN_TIME = 13,	  /* expired or not yet valid */
	EXIT_TOKEN_MISMATCH = 14, /* wrong audience, issuer or subject */
	EXIT_TOKEN_V1 = 15,	  /* a v1 token and the key refuses them */
};

#define VERIFY_INPUT_MAX 16384

#define ACCESS_TOKEN_FILE_MAX 8192

static const char *socket_path;

static void help(void)
{
	printf("Usage: hsmjwt [--socket PATH] COMMAND [OPTIONS]\n"
	       "\n"
	       "Asks hsmjwtd for a JWT signed inside its PKCS#11 token.\n"
	       "\n"
	       "Commands:\n"
	       "  sign --aud AUD --uid UID [--lifetime SECONDS | --expires-at UNIX]\n"
	       "       [--access-token TOKEN | --access-token-file FILE] [--key NAME]\n"
	       "       [--claim NAME=STRING]... [--claim-json NAME=JSON]...\n"
	       "      print a signed token and a newline; --key names a configured key\n"
	       "  sign --claims-json FILE [--lifetime SECONDS | --expires-at UNIX] [--key NAME]\n"
	       "      upgrade an old (v1) JSON claim set (FILE \"-\": stdin) to a v2 token;\n"
	       "      an expiry option only when the claim set has no exp\n"
	       "  keys\n"
	       "      print the public key set (JWKS) verifiers need\n"
	       "  verify [--key NAME]... [--aud AUD] [--iss ISS] [--uid-pattern GLOB] TOKEN|-\n"
	       "      check a token with the daemon's keys; print its payload if valid\n"
	       "\n"
	       "Options:\n"
	       "  -s, --socket PATH   daemon socket (default: $HSMJWT_SOCKET, else %s)\n"
	       "  -h, --help          show this help\n"
	       "      --version       show the version\n"
	       "\n"
	       "--access-token puts the value on the command line, where other local users\n"
	       "can see it in ps; --access-token-file FILE (\"-\" for stdin) does not.\n"
	       "\n"
	       "Extra claims follow the fixed ones in the order given. The name ends at the\n"
	       "first '='. --claim-json takes a string, an integer, true, false or an array\n"
	       "of strings; reserved names (exp iss ver aud uid iat nbf jti sub kid alg typ\n"
	       "urn:microsoft:credentials), repeated names and names of digits only are\n"
	       "refused by the daemon, as are integers beyond +-(2^53 - 1).\n"
	       "\n"
	       "Exit status: 0 success, 1 local failure, 2 usage, 3 invalid request,\n"
	       "4 permission denied, 5 rate limited, 6 signing unavailable,\n"
	       "7 daemon unreachable, 8 protocol or internal error; verify: 10 malformed,\n"
	       "11 unknown kid, 12 bad signature or algorithm, 13 expired or not yet valid,\n"
	       "14 wrong audience, issuer or subject, 15 v1 token refused.\n",
	       HSMJWT_DEFAULT_SOCKET);
}

static int exit_code_for(int r)
{
	switch (r) {
	case HSMJWT_E_INVALID_REQUEST:
		return EXIT_INVALID;
	case HSMJWT_E_PERMISSION_DENIED:
		return EXIT_DENIED;
	case HSMJWT_E_RATE_LIMITED:
		return EXIT_RATE_LIMITED;
	case HSMJWT_E_UNAVAILABLE:
		return EXIT_UNAVAILABLE;
	case HSMJWT_E_TOO_LARGE:
	case HSMJWT_E_INTERNAL:
	case HSMJWT_E_UNSUPPORTED:
	case HSMJWT_E_PROTOCOL:
		return EXIT_PROTOCOL;
	case -ENOMEM:
		return EXIT_LOCAL;
	default:
		/* The connection broke or timed out: the daemon is not answering. */
		return EXIT_UNREACHABLE;
	}
}

static int fail(hsmjwt_client *c, int r, const char *what)
{
	const char *detail = hsmjwt_client_error_message(c);
	const char *rule = hsmjwt_client_error_rule(c);

	if (detail && *detail)
		fprintf(stderr, "hsmjwt: %s: %s: %s%s%s%s\n", what, hsmjwt_strerror(r), detail,
			rule ? " [rule " : "", rule ? rule : "", rule ? "]" : "");
	else
		fprintf(stderr, "hsmjwt: %s: %s\n", what, hsmjwt_strerror(r));
	return exit_code_for(r);
}

static int connect_daemon(hsmjwt_client **ret)
{
	const char *path = socket_path ? socket_path : hsmjwt_default_socket();
	int r = hsmjwt_client_connect(path, ret);

	if (r < 0) {
		fprintf(stderr, "hsmjwt: cannot connect to %s: %s\n", path, hsmjwt_strerror(r));
		return EXIT_UNREACHABLE;
	}
	return 0;
}

static int parse_int64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cmd_sign(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "aud", required_argument, NULL, 'a' },
		{ "uid", required_argument, NULL, 'u' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "expires-at", required_argument, NULL, 'e' },
		{ "access-token", required_argument, NULL, 't' },
		{ "access-token-file", required_argument, NULL, 'T' },
		{ "key", required_argument, NULL, 'k' },
		{ "claim", required_argument, NULL, 'c' },
		{ "claim-json", required_argument, NULL, 'j' },
		{ "claims-json", required_argument, NULL, 'J' },
		{},
	};
	hsmjwt_sign_request *req = NULL;
	hsmjwt_client *client = NULL;
	hsmjwt_token *token = NULL;
	_cleanup_erase_free_ char *access_token = NULL;
	_cleanup_erase_free_ char *legacy = NULL;
	bool have_aud = false, have_uid = false, have_expiry = false, have_claims = false;
	int c, r, rc = EXIT_LOCAL;
	int64_t v;

	if (hsmjwt_sign_request_new(&req) < 0)
		return EXIT_LOCAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		r = 0;
		switch (c) {
		case 'a':
			r = hsmjwt_sign_request_set_audience(req, optarg);
			have_aud = true;
			break;
		case 'u':
			r = hsmjwt_sign_request_set_user_id(req, optarg);
			have_uid = true;
			break;
		case 'l':
		case 'e':
			if (have_expiry || parse_int64(optarg, &v) < 0) {
				fprintf(stderr, "hsmjwt: give one of --lifetime or --expires-at, as a "
						"positive whole number\n");
				rc = EXIT_USAGE;
				goto out;
			}
			have_expiry = true;
			r = c == 'l' ? hsmjwt_sign_request_set_lifetime(req, (uint64_t)v)
				     : hsmjwt_sign_request_set_expires_at(req, v);
			break;
		case 't':
		case 'T':
			if (access_token) {
				fprintf(stderr, "hsmjwt: give the access token once\n");
				rc = EXIT_USAGE;
				goto out;
			}
			if (c == 'T') {
				r = cli_read_file(optarg, ACCESS_TOKEN_FILE_MAX, &access_token);
				if (r < 0) {
					fprintf(stderr, "hsmjwt: cannot read access token from %s: %s\n",
						optarg, strerror(-r));
					goto out;
				}
			} else if (!(access_token = strdup(optarg))) {
				goto out;
			}
			r = hsmjwt_sign_request_set_access_token(req, access_token);
			break;
		case 'k':
			r = hsmjwt_sign_request_set_key(req, optarg);
			break;
		case 'c':
		case 'j':
			r = cli_add_claim(req, optarg, c == 'j');
			if (r == -EINVAL) {
				rc = EXIT_USAGE;
				goto out;
			}
			have_claims = true;
			break;
		case 'J':
			if (legacy) {
				fprintf(stderr, "hsmjwt: give --claims-json once\n");
				rc = EXIT_USAGE;
				goto out;
			}
			r = cli_read_file(optarg, CLI_CLAIMS_JSON_MAX, &legacy);
			if (r < 0) {
				fprintf(stderr, "hsmjwt: cannot read claim set from %s: %s\n", optarg,
					r == -EINVAL ? "it contains a NUL byte" : strerror(-r));
				goto out;
			}
			r = hsmjwt_sign_request_set_legacy_claims(req, legacy);
			break;
		default:
			rc = EXIT_USAGE;
			goto out;
		}
		if (r < 0)
			goto out;
	}
	if (legacy && (have_aud || have_uid || access_token || have_claims)) {
		fprintf(stderr, "hsmjwt: --claims-json carries the claims: give no --aud, --uid, "
				"--access-token or --claim with it\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if ((!legacy && (!have_aud || !have_uid)) || optind < argc) {
		fprintf(stderr, "hsmjwt: sign needs --aud and --uid (or --claims-json) and no other "
				"arguments\n");
		rc = EXIT_USAGE;
		goto out;
	}
	rc = connect_daemon(&client);
	if (rc != 0)
		goto out;
	r = hsmjwt_sign(client, req, &token);
	if (r < 0) {
		rc = fail(client, r, "sign");
		goto out;
	}
	printf("%s\n", hsmjwt_token_get_string(token));
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_LOCAL;
out:
	hsmjwt_token_free(token);
	hsmjwt_client_free(client);
	hsmjwt_sign_request_free(req);
	return rc;
}

static int verify_exit_code(int reason)
{
	switch (reason) {
	case HSMJWT_VERIFY_VALID:
		return EXIT_OK;
	case HSMJWT_VERIFY_UNKNOWN_KID:
		return EXIT_TOKEN_UNKNOWN_KID;
	case HSMJWT_VERIFY_BAD_SIGNATURE:
	case HSMJWT_VERIFY_REFUSED_ALGORITHM:
		return EXIT_TOKEN_FORGED;
	case HSMJWT_VERIFY_EXPIRED:
	case HSMJWT_VERIFY_NOT_YET_VALID:
		return EXIT_TOKEN_TIME;
	case HSMJWT_VERIFY_WRONG_AUDIENCE:
	case HSMJWT_VERIFY_WRONG_ISSUER:
	case HSMJWT_VERIFY_WRONG_SUBJECT:
		return EXIT_TOKEN_MISMATCH;
	case HSMJWT_VERIFY_V1_REFUSED:
		return EXIT_TOKEN_V1;
	default:
		return EXIT_TOKEN_MALFORMED;
	}
}

static int read_token_stdin(char **ret)
{
	char *buf = malloc(VERIFY_INPUT_MAX + 2);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	while (n < VERIFY_INPUT_MAX + 1) {
		ssize_t k = read(STDIN_FILENO, buf + n, VERIFY_INPUT_MAX + 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n > VERIFY_INPUT_MAX || memchr(buf, '\0', n)) {
		free(buf);
		return -E2BIG;
	}
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

static int cmd_verify(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "aud", required_argument, NULL, 'a' },
		{ "iss", required_argument, NULL, 'i' },
		{ "uid-pattern", required_argument, NULL, 'u' },
		{ "key", required_argument, NULL, 'k' },
		{},
	};
	const char *aud = NULL, *iss = NULL, *pattern = NULL, *keys[HSMJWT_VERIFY_KEYS_MAX];
	size_t n_keys = 0;
	hsmjwt_verification *v = NULL;
	hsmjwt_client *client = NULL;
	_cleanup_free_ char *input = NULL;
	const char *token;
	int c, r, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c == 'a')
			aud = optarg;
		else if (c == 'i')
			iss = optarg;
		else if (c == 'u')
			pattern = optarg;
		else if (c == 'k' && n_keys < HSMJWT_VERIFY_KEYS_MAX && *optarg)
			keys[n_keys++] = optarg;
		else if (c == 'k') {
			fprintf(stderr, "hsmjwt: verify takes 1 to %d non-empty --key names\n",
				HSMJWT_VERIFY_KEYS_MAX);
			return EXIT_USAGE;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "hsmjwt: verify takes one TOKEN (\"-\" reads it from stdin)\n");
		return EXIT_USAGE;
	}
	token = argv[optind];
	if (strcmp(token, "-") == 0) {
		r = read_token_stdin(&input);
		if (r < 0) {
			fprintf(stderr, "hsmjwt: cannot read a token from stdin: %s\n", strerror(-r));
			return EXIT_USAGE;
		}
		token = input;
	}
	rc = connect_daemon(&client);
	if (rc != 0)
		return rc;
	r = hsmjwt_verify_keys(client, token, aud, iss, pattern, keys, n_keys, &v);
	if (r < 0) {
		rc = fail(client, r, "verify");
	} else if (hsmjwt_verification_get_reason(v) != HSMJWT_VERIFY_VALID) {
		fprintf(stderr, "hsmjwt: invalid token: %s\n", hsmjwt_verification_get_detail(v));
		rc = verify_exit_code(hsmjwt_verification_get_reason(v));
	} else {
		if (hsmjwt_verification_is_deprecated_v1(v))
			fprintf(stderr, "hsmjwt: warning: a deprecated Mobile Services v1 token\n");
		/* stdout stays the payload alone, for scripts; which key said yes goes beside it. */
		fprintf(stderr, "hsmjwt: valid: key %s (kid \"%s\")\n", hsmjwt_verification_get_key(v),
			hsmjwt_verification_get_kid(v));
		printf("%s\n", hsmjwt_verification_get_payload(v));
		rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_LOCAL;
	}
	hsmjwt_verification_free(v);
	hsmjwt_client_free(client);
	return rc;
}

static int cmd_keys(int argc, char *argv[])
{
	hsmjwt_client *client = NULL;
	char *jwks = NULL;
	int r, rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "hsmjwt: keys takes no arguments\n");
		return EXIT_USAGE;
	}
	rc = connect_daemon(&client);
	if (rc != 0)
		return rc;
	r = hsmjwt_get_jwks(client, &jwks);
	if (r < 0) {
		rc = fail(client, r, "keys");
	} else {
		printf("%s\n", jwks);
		rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_LOCAL;
	}
	free(jwks);
	hsmjwt_client_free(client);
	return rc;
}

int main(int argc, char *argv[])
{
	enum { OPT_VERSION = 256 };
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "+s:h", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			help();
			return EXIT_OK;
		case OPT_VERSION:
			printf("hsmjwt %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		help();
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "sign") == 0)
		return cmd_sign(argc - optind, argv + optind);
	if (strcmp(argv[optind], "keys") == 0)
		return cmd_keys(argc - optind, argv + optind);
	if (strcmp(argv[optind], "verify") == 0)
		return cmd_verify(argc - optind, argv + optind);
	fprintf(stderr, "hsmjwt: unknown command '%s'; see --help\n", argv[optind]);
	return EXIT_USAGE;
}
