/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client-internal.h"

_public_ int hsmjwt_get_jwks(hsmjwt_client *c, char **ret_jwks)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__KeysRequest keys = HSMJWT__V1__KEYS_REQUEST__INIT;
	Hsmjwt__V1__Response *resp = NULL;
	int r;

	if (!c || !ret_jwks)
		return -EINVAL;
	req.body_case = HSMJWT__V1__REQUEST__BODY_KEYS;
	req.keys = &keys;
	r = client_call(c, &req, &resp);
	if (r < 0)
		return r;
	if (resp->body_case != HSMJWT__V1__RESPONSE__BODY_KEYS || !resp->keys->jwks) {
		client_response_free(resp);
		return HSMJWT_E_PROTOCOL;
	}
	*ret_jwks = strdup(resp->keys->jwks);
	client_response_free(resp);
	return *ret_jwks ? 0 : -ENOMEM;
}
