/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "zumo-key.h"

int zumo_derive_signing_key(const char *master, size_t n, uint8_t ret_key[static 32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	if (!md)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, master, n) &&
	     EVP_DigestUpdate(md, "JWTSig", 6) && EVP_DigestFinal_ex(md, ret_key, &len) &&
	     len == 32;
	/* EVP_MD_CTX_free cleanses the context, which held the master key's state. */
	EVP_MD_CTX_free(md);
	return ok ? 0 : -EIO;
}
