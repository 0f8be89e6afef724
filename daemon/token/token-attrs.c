/* SPDX-License-Identifier: MIT */
/* What a key object says about itself: read back after creation and at every load. */
#include <errno.h>
#include <stdio.h>

#include "token-internal.h"

static bool flag(const CK_ATTRIBUTE *a, CK_BBOOL v, bool unreported)
{
	return a->ulValueLen == sizeof(CK_BBOOL) ? v == CK_TRUE : unreported;
}

int token_key_flags(Token *t, TokenObject o, TokenKeyFlags *ret)
{
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, sign = CK_FALSE;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE a[] = {
		{ CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
		{ CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
	};
	CK_RV rv;

	rv = t->module->C_GetAttributeValue(t->session, o, a, ELEMENTSOF(a));
	/* Unavailable attributes come back with length -1; the others are still filled in. */
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
		return fail_rv(rv, "C_GetAttributeValue(CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN)");
	/* An attribute the module does not report counts as the weaker value. */
	*ret = (TokenKeyFlags){
		.sensitive = flag(&a[0], sensitive, false),
		.extractable = flag(&a[1], extractable, true),
		.sign = flag(&a[2], sign, false),
		.hmac_type = a[3].ulValueLen == sizeof(kt) &&
			     (kt == CKK_GENERIC_SECRET || kt == CKK_SHA256_HMAC),
	};
	return 0;
}

const char *token_key_weakness(const TokenKeyFlags *f)
{
	if (!f->sensitive)
		return "CKA_SENSITIVE is FALSE (or not reported)";
	if (f->extractable)
		return "CKA_EXTRACTABLE is TRUE (or not reported)";
	return NULL;
}
