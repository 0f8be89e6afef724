/* SPDX-License-Identifier: MIT */
/* Which module, initialised how, and which of its tokens: token_open()'s first half. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "token-internal.h"

static void describe(Token *t)
{
	int l = (int)p11_kit_space_strlen(t->info.label, sizeof(t->info.label));
	int m = (int)p11_kit_space_strlen(t->info.manufacturerID, sizeof(t->info.manufacturerID));

	snprintf(t->description, sizeof(t->description), "%.*s (%.*s)", l, t->info.label, m,
		 t->info.manufacturerID);
}

/* Looks through one module's slots; counts matches, keeps the first. */
static int match_slots(Token *t, CK_FUNCTION_LIST *m, P11KitUri *uri, unsigned *n_found)
{
	_cleanup_free_ CK_SLOT_ID *slots = NULL;
	CK_INFO minfo;
	CK_ULONG n = 0;
	CK_RV rv;

	rv = m->C_GetInfo(&minfo);
	if (rv != CKR_OK || !p11_kit_uri_match_module_info(uri, &minfo))
		return 0;
	rv = m->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_GetSlotList");
	if (n == 0)
		return 0;
	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	rv = m->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return fail_rv(rv, "C_GetSlotList");
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;

		if (m->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		if (!p11_kit_uri_match_token_info(uri, &info))
			continue;
		if ((*n_found)++ == 0) {
			int d = (int)p11_kit_space_strlen(minfo.libraryDescription,
							  sizeof(minfo.libraryDescription));
			int v = (int)p11_kit_space_strlen(minfo.manufacturerID,
							  sizeof(minfo.manufacturerID));

			t->module = m;
			t->slot = slots[i];
			t->info = info;
			snprintf(t->module_description, sizeof(t->module_description), "%.*s (%.*s)", d,
				 minfo.libraryDescription, v, minfo.manufacturerID);
		}
	}
	return 0;
}

static int load_by_path(Token *t, const char *path, const char *init_args)
{
	/* SoftHSM without locking callbacks crashes under two threads (ARCHITECTURE.md, Token facts). */
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK, .pReserved = (void *)init_args };
	CK_RV rv;

	t->module = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
	if (!t->module)
		return log_error_errno(ENOENT, "Failed to load PKCS#11 module %s: %s", path,
				       p11_kit_message());
	rv = t->module->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p11_kit_module_release(t->module);
		t->module = NULL;
		if (rv == CKR_ARGUMENTS_BAD && !init_args)
			return log_error_errno(EINVAL, "C_Initialize of %s failed: CKR_ARGUMENTS_BAD; "
						       "this module may need an init string ([token] "
						       "init-args, e.g. NSS softokn's configdir=...)",
					       path);
		return log_error_errno(p11_rv_to_errno(rv), "C_Initialize of %s failed: %s (%s)", path,
				       p11_rv_name(rv), p11_kit_strerror(rv));
	}
	t->loaded_by_path = rv == CKR_OK;
	return 0;
}

/* A module registered with p11-kit, by its name: only that one is initialised. */
static int load_by_name(Token *t, const char *name)
{
	CK_RV rv;

	t->registered = p11_kit_modules_load(NULL, 0);
	if (!t->registered)
		return log_error_errno(ENOENT, "Failed to load registered PKCS#11 modules: %s",
				       p11_kit_message());
	for (size_t i = 0; t->registered[i]; i++) {
		_cleanup_free_ char *n = p11_kit_module_get_name(t->registered[i]);

		if (n && strcmp(n, name) == 0) {
			t->module = t->registered[i];
			break;
		}
	}
	if (!t->module)
		return log_error_errno(ENOENT, "No PKCS#11 module named '%s' is registered with p11-kit "
					       "(p11-kit list-modules shows them; note that p11-kit "
					       "reads ~/.config/pkcs11/modules only for non-root users)",
				       name);
	/* p11-kit passes its own locking callbacks and the module file's x-init-reserved. */
	rv = p11_kit_module_initialize(t->module);
	if (rv != CKR_OK) {
		t->module = NULL;
		return log_error_errno(p11_rv_to_errno(rv), "C_Initialize of registered module %s "
					       "failed: %s (%s)", name, p11_rv_name(rv),
				       p11_kit_strerror(rv));
	}
	t->one_registered = true;
	return 0;
}

int token_select(Token *t, const char *module, const char *init_args, const char *token_uri)
{
	_cleanup_(p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_FUNCTION_LIST *loaded;
	unsigned found = 0;
	int r;

	r = token_parse_uri(token_uri, P11_KIT_URI_FOR_TOKEN | P11_KIT_URI_FOR_MODULE, &uri);
	if (r < 0)
		return r;

	if (init_args && (!module || !strchr(module, '/')))
		return log_error_errno(EINVAL, "[token] init-args needs module = PATH; a module "
					       "registered with p11-kit takes x-init-reserved: in its "
					       "module file instead");
	if (module) {
		r = strchr(module, '/') ? load_by_path(t, module, init_args) : load_by_name(t, module);
		if (r < 0)
			return r;
		loaded = t->module;
		r = match_slots(t, loaded, uri, &found);
	} else {
		/* Managed loading: p11-kit passes its own locking callbacks. */
		t->registered = p11_kit_modules_load_and_initialize(0);
		if (!t->registered)
			return log_error_errno(ENOENT, "Failed to load registered PKCS#11 modules: %s",
					       p11_kit_message());
		t->registered_all = true;
		for (size_t i = 0; t->registered[i] && r >= 0; i++)
			r = match_slots(t, t->registered[i], uri, &found);
	}
	if (r < 0)
		return r;
	if (found == 0)
		return log_error_errno(ENODEV, "No token matches %s", token_uri);
	if (found > 1)
		return log_error_errno(ENOTUNIQ, "%u tokens match %s; name one with token= or serial=",
				       found, token_uri);
	describe(t);
	return 0;
}
