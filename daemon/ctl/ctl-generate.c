/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "jwk.h"
#include "log.h"
#include "token.h"

static int print_result(Token *t, const KeyConfig *kc, const AlgorithmInfo *ai)
{
	TokenPublicKey pub = {};
	TokenObject object;
	char thumb[JWK_THUMBPRINT_SIZE];
	int r;

	r = token_find_key(t, kc->uri, TOKEN_CLASS_PUBLIC_KEY, &object);
	if (r >= 0)
		r = token_read_public_key(t, object, ai->key_type, &pub);
	if (r >= 0)
		r = jwk_thumbprint(&pub, thumb);
	token_public_key_done(&pub);
	if (r < 0)
		return r;
	printf("Generated %s key %s in token %s\nkid: %s%s\n", ai->name, kc->name, token_describe(t),
	       kc->kid ? kc->kid : thumb, kc->kid ? " (configured)" : " (RFC 7638 thumbprint)");
	return 0;
}

int ctl_generate(const Config *config, int argc, char *argv[])
{
	_cleanup_(token_closep) Token *token = NULL;
	const AlgorithmInfo *ai;
	const KeyConfig *kc;
	bool replace;
	int r;

	r = ctl_key_argument_replace(config, argc, argv, "generate", &kc, &replace);
	if (r < 0)
		return r;
	ai = algorithm_info(kc->alg);
	if (ai->symmetric)
		return log_error_errno(EINVAL, "Key %s is %s: a secret key is imported "
					       "(import-zumo), not generated", kc->name, ai->name);

	r = ctl_open_token_rw(config, &token);
	if (r >= 0)
		r = token_generate_key_pair(token, kc->uri, ai->key_type, kc->bits, replace);
	if (r >= 0)
		r = print_result(token, kc, ai);
	return r;
}
