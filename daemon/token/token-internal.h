/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the token-*.c files only: the rest of the daemon sees token.h. */

#include <stdbool.h>

#include "log.h"
#include "p11.h"
#include "token.h"

struct Token {
	CK_FUNCTION_LIST **registered; /* managed modules from p11-kit's registry, or NULL */
	bool registered_all;	       /* registered came initialised, all of them */
	bool one_registered;	       /* else: only module, named in the config, was initialised */
	CK_FUNCTION_LIST *module;      /* the module holding our token */
	bool loaded_by_path;	       /* unmanaged: we initialised it, we finalise it */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	bool has_session;
	CK_TOKEN_INFO info;
	char description[80];
	char module_description[80]; /* CK_INFO: "SoftHSM (SoftHSM)" */
};

static inline void p11_kit_uri_freep(P11KitUri **u)
{
	if (*u)
		p11_kit_uri_free(*u);
}

/* Logs a PKCS#11 failure by name and text, returns the matching -errno. */
#define fail_rv(rv, what) \
	log_error_errno(p11_rv_to_errno(rv), "%s failed: %s (%s)", what, p11_rv_name(rv), \
			p11_kit_strerror(rv))

int token_parse_uri(const char *s, P11KitUriType type, P11KitUri **ret);
/* Loads and initialises the module (token.h, token_open) and picks the one token token_uri names. */
int token_select(Token *t, const char *module, const char *init_args, const char *token_uri);
int token_find_objects(Token *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *found,
		       CK_ULONG max, CK_ULONG *ret_n);
/* Parses a key URI, checks it names this token and an object; attrs point into *ret_uri. */
int token_key_template(const char *key_uri, P11KitUri **ret_uri, CK_ATTRIBUTE **ret_attrs,
		       CK_ULONG *ret_n, const Token *t);
/*
 * Where a new key goes: token_key_template() plus object= required (it labels
 * the key); *ret_label and *ret_id (NULL without id=) point into *ret_uri.
 */
int token_new_key_uri(const Token *t, const char *key_uri, P11KitUri **ret_uri,
		      CK_ATTRIBUTE **ret_attrs, CK_ULONG *ret_n, CK_ATTRIBUTE **ret_label,
		      CK_ATTRIBUTE **ret_id);
/* The objects a new key would replace, into old[max]; -EEXIST unless replace. */
int token_find_replaced(Token *t, const char *key_uri, CK_ATTRIBUTE *attrs, CK_ULONG n,
			bool replace, CK_OBJECT_HANDLE *old, CK_ULONG max, CK_ULONG *ret_n_old);
/* --replace: the new key exists, so the objects it replaces go. */
int token_destroy_replaced(Token *t, const CK_OBJECT_HANDLE *old, CK_ULONG n);
