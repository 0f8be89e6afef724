/* SPDX-License-Identifier: MIT */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "p11.h"
#include "token-internal.h"
#include "pin.h"
#include "secret.h"

int token_parse_uri(const char *s, P11KitUriType type, P11KitUri **ret)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *u = p11_kit_uri_new();
	int r;

	if (!u)
		return -ENOMEM;
	r = p11_kit_uri_parse(s, type, u);
	if (r != P11_KIT_URI_OK)
		return log_error_errno(EINVAL, "Invalid PKCS#11 URI '%s': %s", s, p11_kit_uri_message(r));
	if (p11_kit_uri_get_pin_value(u) || p11_kit_uri_get_pin_source(u))
		return log_error_errno(EINVAL, "PKCS#11 URI '%s' carries a PIN; use [token] pin-file or "
					       "LoadCredential=pin instead", s);
	*ret = TAKE_PTR(u);
	return 0;
}

int token_open(const char *module, const char *init_args, const char *token_uri, bool rw,
	       Token **ret)
{
	Token *t;
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = token_select(t, module, init_args, token_uri);
	if (r < 0)
		goto fail;
	rv = t->module->C_OpenSession(t->slot, flags, NULL, NULL, &t->session);
	if (rv != CKR_OK) {
		r = fail_rv(rv, "C_OpenSession");
		goto fail;
	}
	t->has_session = true;
	*ret = t;
	return 0;
fail:
	token_close(t);
	return r;
}

Token *token_close(Token *t)
{
	if (!t)
		return NULL;
	if (t->has_session)
		t->module->C_CloseSession(t->session);
	if (t->registered && t->registered_all) {
		p11_kit_modules_finalize_and_release(t->registered);
	} else if (t->registered) {
		/* Loaded by name: only the one module was initialised, if at all. */
		if (t->one_registered)
			p11_kit_module_finalize(t->module);
		p11_kit_modules_release(t->registered);
	} else if (t->module) {
		if (t->loaded_by_path)
			t->module->C_Finalize(NULL);
		p11_kit_module_release(t->module);
	}
	free(t);
	return NULL;
}

TokenSession token_main_session(const Token *t)
{
	return t->session;
}

int token_session_open(Token *t, TokenSession *ret)
{
	CK_SESSION_HANDLE h;
	CK_RV rv;

	rv = t->module->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_OpenSession");
	*ret = h;
	return 0;
}

void token_session_close(Token *t, TokenSession s)
{
	(void)t->module->C_CloseSession(s);
}

const char *token_describe(const Token *t)
{
	return t->description;
}

const char *token_module_describe(const Token *t)
{
	return t->module_description;
}

int token_login(Token *t, const char *pin_file)
{
	_cleanup_erase_free_ char *pin = NULL;
	_cleanup_free_ char *source = NULL;
	CK_RV rv;
	int r;

	r = pin_read(pin_file, &pin, &source);
	if (r < 0)
		return r;
	rv = t->module->C_Login(t->session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	/* One clear message, no retry: retrying a wrong PIN could lock the token. */
	if (rv == CKR_PIN_INCORRECT)
		return log_error_errno(EACCES, "Token %s refused the PIN from %s (CKR_PIN_INCORRECT); "
					       "not retrying, so the token does not lock",
				       t->description, source);
	return fail_rv(rv, "C_Login");
}

int token_find_objects(Token *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *found,
			CK_ULONG max, CK_ULONG *ret_n)
{
	CK_RV rv;

	rv = t->module->C_FindObjectsInit(t->session, tmpl, n);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_FindObjectsInit");
	rv = t->module->C_FindObjects(t->session, found, max, ret_n);
	t->module->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_FindObjects");
	return 0;
}

int token_key_template(const char *key_uri, P11KitUri **ret_uri, CK_ATTRIBUTE **ret_attrs,
			CK_ULONG *ret_n, const Token *t)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_ATTRIBUTE *attrs;
	CK_ULONG n;
	int r;

	r = token_parse_uri(key_uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE, &uri);
	if (r < 0)
		return r;
	if (!p11_kit_uri_match_token_info(uri, &t->info))
		return log_error_errno(EINVAL, "Key URI %s names a token other than %s", key_uri,
				       t->description);
	attrs = p11_kit_uri_get_attributes(uri, &n);
	if (!p11_kit_uri_get_attribute(uri, CKA_LABEL) && !p11_kit_uri_get_attribute(uri, CKA_ID))
		return log_error_errno(EINVAL, "Key URI %s names no object (object= or id=)", key_uri);
	*ret_attrs = attrs;
	*ret_n = n;
	*ret_uri = TAKE_PTR(uri);
	return 0;
}

static const CK_OBJECT_CLASS class_values[] = {
	[TOKEN_CLASS_SECRET_KEY] = CKO_SECRET_KEY,
	[TOKEN_CLASS_PRIVATE_KEY] = CKO_PRIVATE_KEY,
	[TOKEN_CLASS_PUBLIC_KEY] = CKO_PUBLIC_KEY,
};

int token_find_key(Token *t, const char *key_uri, TokenObjectClass cls, TokenObject *ret)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_OBJECT_CLASS want = class_values[cls];
	CK_BBOOL on_token = CK_TRUE;
	CK_ATTRIBUTE tmpl[10], *attrs, *uri_cls;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n, n_found = 0, k = 0;
	int r;

	r = token_key_template(key_uri, &uri, &attrs, &n, t);
	if (r < 0)
		return r;
	uri_cls = p11_kit_uri_get_attribute(uri, CKA_CLASS);
	/* A key pair shares label and id: type= in the URI is optional, the class is not. */
	if (uri_cls && (uri_cls->ulValueLen != sizeof(want) ||
			*(CK_OBJECT_CLASS *)uri_cls->pValue != want))
		return log_error_errno(EINVAL, "Key URI %s names another object type than needed here",
				       key_uri);
	for (CK_ULONG i = 0; i < n && k < ELEMENTSOF(tmpl) - 2; i++)
		if (attrs[i].type != CKA_CLASS)
			tmpl[k++] = attrs[i];
	tmpl[k++] = (CK_ATTRIBUTE){ CKA_CLASS, &want, sizeof(want) };
	/* Only token objects: our own session copies carry the same label and id. */
	tmpl[k++] = (CK_ATTRIBUTE){ CKA_TOKEN, &on_token, sizeof(on_token) };

	r = token_find_objects(t, tmpl, k, found, ELEMENTSOF(found), &n_found);
	if (r < 0)
		return r;
	if (n_found == 0)
		return log_error_errno(ENOENT, "No %s on token %s matches %s",
				       cls == TOKEN_CLASS_SECRET_KEY ? "secret key" :
				       cls == TOKEN_CLASS_PRIVATE_KEY ? "private key" : "public key",
				       t->description, key_uri);
	if (n_found > 1)
		return log_error_errno(ENOTUNIQ, "Several objects on token %s match %s; add id= to the "
						 "URI", t->description, key_uri);
	*ret = found[0];
	return 0;
}

void token_destroy_session_object(Token *t, TokenObject o)
{
	(void)t->module->C_DestroyObject(t->session, o);
}

int token_copy_to_session(Token *t, TokenObject key, TokenObject *ret)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = { { CKA_TOKEN, &no, sizeof(no) } };
	CK_OBJECT_HANDLE copy;
	CK_RV rv;

	rv = t->module->C_CopyObject(t->session, key, tmpl, ELEMENTSOF(tmpl), &copy);
	if (rv != CKR_OK)
		return p11_rv_to_errno(rv);
	*ret = copy;
	return 0;
}

int token_new_key_uri(const Token *t, const char *key_uri, P11KitUri **ret_uri,
		      CK_ATTRIBUTE **ret_attrs, CK_ULONG *ret_n, CK_ATTRIBUTE **ret_label,
		      CK_ATTRIBUTE **ret_id)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_ATTRIBUTE *label;
	int r;

	r = token_key_template(key_uri, &uri, ret_attrs, ret_n, t);
	if (r < 0)
		return r;
	label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
	if (!label)
		return log_error_errno(EINVAL, "Key URI %s needs object= to label the new key", key_uri);
	*ret_label = label;
	*ret_id = p11_kit_uri_get_attribute(uri, CKA_ID);
	*ret_uri = TAKE_PTR(uri);
	return 0;
}

int token_find_replaced(Token *t, const char *key_uri, CK_ATTRIBUTE *attrs, CK_ULONG n,
			bool replace, CK_OBJECT_HANDLE *old, CK_ULONG max, CK_ULONG *ret_n_old)
{
	int r;

	*ret_n_old = 0;
	r = token_find_objects(t, attrs, n, old, max, ret_n_old);
	if (r < 0)
		return r;
	if (*ret_n_old > 0 && !replace)
		return log_error_errno(EEXIST, "Token %s already holds %s; pass --replace to replace it",
				       t->description, key_uri);
	return 0;
}

int token_destroy_replaced(Token *t, const CK_OBJECT_HANDLE *old, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		CK_RV rv = t->module->C_DestroyObject(t->session, old[i]);
		if (rv != CKR_OK)
			return fail_rv(rv, "C_DestroyObject (old key; the new one exists too now)");
	}
	return 0;
}
