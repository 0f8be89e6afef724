/* SPDX-License-Identifier: MIT */
/* hsmjwtd.conf's [claims] section and a key's add-claims. */
#include <errno.h>
#include <unistd.h>

#include "config.h"
#include "tests.h"

static char path[] = "/tmp/hsmjwt-test-config-claims-XXXXXX";

#define HEAD "[token]\nuri = pkcs11:\n"

static Config *load(const char *text, char **ret_error)
{
	FILE *f = fopen(path, "we");
	Config *c = NULL;

	check(f);
	fputs(text, f);
	fclose(f);
	*ret_error = NULL;
	if (config_load(path, &c, ret_error) < 0)
		return NULL;
	return c;
}

static void bad(const char *text, const char *message_part)
{
	char *err;

	check(load(text, &err) == NULL);
	if (!err || !strstr(err, message_part)) {
		fprintf(stderr, "error '%s' lacks '%s'\n", err ? err : "(none)", message_part);
		exit(EXIT_FAILURE);
	}
	free(err);
}

int main(void)
{
	unsigned set = 0;
	char err[256];
	Config *c;
	char *e;
	int fd = mkstemp(path);

	check(fd >= 0);
	close(fd);

	c = load(HEAD "[key a]\nuri = x\n", &e);
	check(c);
	check_int(c->claims.max_extra, 32);
	check_int(c->claims.max_name, 128);
	check_int(c->claims.max_value, 4096);
	check_int(c->claims.max_payload, 65536);
	check_int(c->keys[0].add_claims, 0); /* zumo-v2 stays byte-identical by default */
	config_free(c);

	c = load(HEAD "[claims]\nmax-extra-claims = 0\nmax-claim-name = 1\nmax-claim-value = 17\n"
		      "max-payload = 1024\n[key a]\nuri = x\nadd-claims = jti,iat\n[key b]\nuri = y\n"
		      "add-claims = iat , nbf, jti\nkid = b\n[key c]\nuri = z\nadd-claims =\nkid = c\n",
		 &e);
	check(c);
	check_int(c->claims.max_extra, 0);
	check_int(c->claims.max_name, 1);
	check_int(c->claims.max_value, 17);
	check_int(c->claims.max_payload, 1024);
	check_int(c->keys[0].add_claims, ADD_CLAIM_JTI | ADD_CLAIM_IAT);
	check_int(c->keys[1].add_claims, ADD_CLAIM_IAT | ADD_CLAIM_NBF | ADD_CLAIM_JTI);
	check_int(c->keys[2].add_claims, 0);
	config_free(c);

	bad(HEAD "[claims]\nmax-claims = 3\n[key a]\nuri = x\n", "[claims] max-claims: unknown key (known: max-extra-claims,");
	bad(HEAD "[claims]\nmax-claim-value = 16\n[key a]\nuri = x\n", "max-claim-value: '16' is not a number of 17..1048576 bytes");
	bad(HEAD "[claims]\nmax-payload = 1k\n[key a]\nuri = x\n", "max-payload: '1k' is not a number of");
	bad(HEAD "[claims]\nmax-extra-claims = -1\n[key a]\nuri = x\n", "max-extra-claims: '-1' is not a number of 0..1024");
	bad(HEAD "[claims]\nmax-claim-name = 0\n[key a]\nuri = x\n", "max-claim-name: '0' is not a number of 1..1024");
	bad(HEAD "[key a]\nuri = x\nadd-claims = sub\n", "'sub' is not known");
	bad(HEAD "[key a]\nuri = x\nadd-claims = iat, iat\n", "'iat' is given twice");
	bad(HEAD "[key a]\nuri = x\nadd-claims = iat nbf\n", "separate names with commas");
	bad(HEAD "[key a]\nuri = x\nadd-claims = iat\nadd-claims = nbf\n", "[key a] add-claims: given twice");
	bad(HEAD "[key a]\nuri = x\nalg = ES256\nissuer = i\nadd-claims = iat\n",
	    "[key a] add-claims: applies to zumo-v2 keys");

	check_int(config_parse_add_claims("", &set, err, sizeof(err)), 0);
	check_int(set, 0);
	check_int(config_parse_add_claims("nbf,", &set, err, sizeof(err)), 0);
	check_int(set, ADD_CLAIM_NBF);
	check_int(config_parse_add_claims(",", &set, err, sizeof(err)), -EINVAL);
	unlink(path);
	return 0;
}
