/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "cleanup.h"
#include "log.h"
#include "token-internal.h"

/* What a module answers when it takes no secret key of this type through C_CreateObject. */
static bool refused_template(CK_RV rv)
{
	return rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	       rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_KEY_TYPE_INCONSISTENT ||
	       rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_GENERAL_ERROR;
}

int token_import_hmac_key(Token *t, const char *key_uri, const uint8_t secret[static 32],
			  bool replace)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	static const CK_KEY_TYPE types[] = { CKK_GENERIC_SECRET, CKK_SHA256_HMAC };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE old[16], created;
	CK_ATTRIBUTE *label, *id, *cls_attr, *attrs;
	CK_ULONG n, n_old = 0;
	CK_RV rv = CKR_OK, first_rv = CKR_OK;
	TokenKeyFlags f;
	const char *weak;
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
	for (size_t i = 0; i < ELEMENTSOF(types); i++) {
		type = types[i];
		rv = t->module->C_CreateObject(t->session, tmpl, ELEMENTSOF(tmpl) - (id ? 0 : 1),
					       &created);
		if (i == 0)
			first_rv = rv;
		if (rv == CKR_OK || !refused_template(rv))
			break;
	}
	if (rv != CKR_OK && refused_template(first_rv))
		return log_error_errno(EOPNOTSUPP, "Token %s (module %s) cannot take the key through "
						   "C_CreateObject: %s for CKK_GENERIC_SECRET, %s for "
						   "CKK_SHA256_HMAC", t->description,
				       t->module_description, p11_rv_name(first_rv), p11_rv_name(rv));
	if (rv != CKR_OK)
		return log_error_errno(p11_rv_to_errno(rv), "C_CreateObject on token %s (module %s) "
						   "failed: %s (%s)", t->description,
				       t->module_description, p11_rv_name(rv), p11_kit_strerror(rv));

	r = token_key_flags(t, created, &f);
	weak = r < 0 ? "its attributes cannot be read" : !f.sign ? "CKA_SIGN is FALSE" :
							   token_key_weakness(&f);
	if (weak) {
		(void)t->module->C_DestroyObject(t->session, created);
		return log_error_errno(EPERM, "Token %s (module %s) made the key weaker than asked: "
					      "%s; destroyed it", t->description,
				       t->module_description, weak);
	}
	return token_destroy_replaced(t, old, n_old);
}

static void set_flag(Token *t, TokenObject key, CK_ATTRIBUTE_TYPE type, CK_BBOOL v, const char *what)
{
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };
	CK_RV rv = t->module->C_SetAttributeValue(t->session, key, &a, 1);

	if (rv != CKR_OK)
		log_warning("Token %s (module %s) will not set %s: %s", t->description,
			    t->module_description, what, p11_rv_name(rv));
}

int token_harden_key(Token *t, TokenObject key, TokenKeyFlags *ret)
{
	TokenKeyFlags f;
	int r;

	r = token_key_flags(t, key, &f);
	if (r < 0)
		return r;
	if (f.extractable)
		set_flag(t, key, CKA_EXTRACTABLE, CK_FALSE, "CKA_EXTRACTABLE=FALSE");
	if (!f.sensitive)
		set_flag(t, key, CKA_SENSITIVE, CK_TRUE, "CKA_SENSITIVE=TRUE");
	return token_key_flags(t, key, ret);
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
