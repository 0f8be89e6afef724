/* SPDX-License-Identifier: MIT */
/*
 * adopt: takes over a key that a module's own tool put in the token (where
 * C_CreateObject cannot: tpm2_ptool import), checks it and hardens it.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "secret.h"
#include "token.h"
#include "zumo-key.h"

static const char check_input[] = "hsmjwtctl adopt: does this key sign as the master says?";

/* The token's MAC over check_input against the one the derived key gives on the host. */
static int check_master(Token *t, TokenObject key, const KeyConfig *kc)
{
	char master[MASTER_KEY_MAX + 2];
	uint8_t derived[32], want[32], got[TOKEN_HMAC_SHA256_LEN];
	unsigned want_len = sizeof(want);
	size_t n = 0, got_len = sizeof(got);
	int r;

	r = ctl_read_master(master, &n);
	if (r >= 0)
		r = zumo_derive_signing_key(master, n, derived);
	secret_wipe(master, sizeof(master));
	if (r >= 0 && !HMAC(EVP_sha256(), derived, sizeof(derived), (const uint8_t *)check_input,
			    sizeof(check_input) - 1, want, &want_len))
		r = -EIO;
	secret_wipe(derived, sizeof(derived));
	if (r < 0)
		return r;
	r = token_sign(t, token_main_session(t), key, TOKEN_MECH_HMAC_SHA256, check_input,
		       sizeof(check_input) - 1, got, &got_len);
	if (r < 0)
		return log_error_errno(r, "Key %s cannot sign with CKM_SHA256_HMAC on token %s (module "
					  "%s)", kc->name, token_describe(t), token_module_describe(t));
	if (got_len != want_len || CRYPTO_memcmp(got, want, want_len) != 0)
		return log_error_errno(EKEYREJECTED, "Key %s (%s) is not the key this master derives: "
						     "its MAC differs", kc->name, kc->uri);
	fprintf(stderr, "Key %s signs as SHA-256(master || \"JWTSig\") does\n", kc->name);
	return 0;
}

int ctl_adopt(const Config *config, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "check-master", no_argument, NULL, 'm' },
		{},
	};
	_cleanup_(token_closep) Token *token = NULL;
	const AlgorithmInfo *ai;
	const KeyConfig *kc;
	bool want_master = false;
	TokenObject key;
	TokenKeyFlags f;
	const char *weak;
	int r, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c != 'm')
			return -EINVAL;
		want_master = true;
	}
	r = ctl_key_argument(config, argc, argv, optind, "adopt", &kc);
	if (r < 0)
		return r;
	ai = algorithm_info(kc->alg);
	if (want_master && (!ai->symmetric || kc->profile != PROFILE_ZUMO_V2))
		return log_error_errno(EINVAL, "--check-master needs a zumo-v2 HS256 key; %s is not",
				       kc->name);
	r = ctl_open_token_rw(config, &token);
	if (r < 0)
		return r;
	r = token_find_key(token, kc->uri,
			   ai->symmetric ? TOKEN_CLASS_SECRET_KEY : TOKEN_CLASS_PRIVATE_KEY, &key);
	if (r < 0)
		return r;
	r = token_harden_key(token, key, &f);
	if (r < 0)
		return r;
	if (!f.sign)
		return log_error_errno(EPERM, "Key %s: CKA_SIGN is FALSE; it cannot serve", kc->name);
	if (ai->symmetric && !f.hmac_type)
		return log_error_errno(EINVAL, "Key %s: CKA_KEY_TYPE is neither CKK_GENERIC_SECRET nor "
					       "CKK_SHA256_HMAC", kc->name);
	if (want_master && (r = check_master(token, key, kc)) < 0)
		return r;
	weak = token_key_weakness(&f);
	if (weak && !kc->allow_extractable)
		return log_error_errno(EPERM, "Key %s: %s, and module %s will not change that; "
					      "hsmjwtd refuses it unless [key %s] says "
					      "allow-extractable = yes", kc->name, weak,
				       token_module_describe(token), kc->name);
	fprintf(stderr, "Key %s (%s) on token %s is ready for hsmjwtd%s%s\n", kc->name, kc->uri,
		token_describe(token), weak ? "; WARNING: " : "", weak ? weak : "");
	return 0;
}
