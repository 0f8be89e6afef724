/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "cleanup.h"
#include "log.h"
#include "token-internal.h"

int token_import_hmac_key(Token *t, const char *key_uri, const uint8_t secret[static 32],
			  bool replace)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE old[16], created;
	CK_ATTRIBUTE *label, *id, *cls_attr, *attrs;
	CK_ULONG n, n_old = 0;
	CK_RV rv;
	int r;

	r = token_new_key_uri(t, key_uri, &uri, &attrs, &n, &label, &id);
	if (r < 0)
		return r;
	cls_attr = p11_kit_uri_get_attribute(uri, CKA_CLASS);
	if (cls_attr && (cls_attr->ulValueLen != sizeof(cls) ||
			 *(CK_OBJECT_CLASS *)cls_attr->pValue != CKO_SECRET_KEY))
		return log_error_errno(EINVAL, "Key URI %s names a type other than secret-key", key_uri);
	r = token_find_replaced(t, key_uri, attrs, n, replace, old, ELEMENTSOF(old), &n_old);
	if (r < 0)
		return r;

	/* Every attribute explicit: SoftHSM defaults CKA_SENSITIVE to FALSE. */
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_VALUE, (void *)secret, 32 },
		{ CKA_LABEL, label->pValue, label->ulValueLen },
		{ CKA_ID, id ? id->pValue : NULL, id ? id->ulValueLen : 0 },
	};
	rv = t->module->C_CreateObject(t->session, tmpl, ELEMENTSOF(tmpl) - (id ? 0 : 1), &created);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_CreateObject");

	return token_destroy_replaced(t, old, n_old);
}

int token_enable_verify(Token *t, const char *key_uri)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE a = { CKA_VERIFY, &yes, sizeof(yes) };
	TokenObject key;
	CK_RV rv;
	int r;

	r = token_find_key(t, key_uri, TOKEN_CLASS_SECRET_KEY, &key);
	if (r < 0)
		return r;
	rv = t->module->C_SetAttributeValue(t->session, key, &a, 1);
	if (rv == CKR_ATTRIBUTE_READ_ONLY)
		return log_error_errno(EPERM, "Token %s will not change CKA_VERIFY of %s (the key is "
					      "not modifiable); re-import it with import-zumo --replace",
				       t->description, key_uri);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_SetAttributeValue(CKA_VERIFY)");
	return 0;
}
