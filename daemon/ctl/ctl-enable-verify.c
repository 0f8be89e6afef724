/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "token.h"

/* Keys imported before CKA_VERIFY was set cannot serve verify requests; this mends them. */
int ctl_enable_verify(const Config *config, int argc, char *argv[])
{
	_cleanup_(token_closep) Token *token = NULL;
	const KeyConfig *kc;
	int r;

	r = ctl_key_argument(config, argc, argv, 1, "enable-verify", &kc);
	if (r < 0)
		return r;
	if (!algorithm_info(kc->alg)->symmetric)
		return log_error_errno(EINVAL, "Key %s verifies with its public half already", kc->name);
	r = ctl_open_token_rw(config, &token);
	if (r >= 0)
		r = token_enable_verify(token, kc->uri);
	if (r >= 0)
		fprintf(stderr, "Key %s may now verify (CKA_VERIFY=TRUE)\n", kc->name);
	return r;
}
