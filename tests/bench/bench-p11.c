/* SPDX-License-Identifier: MIT */
/*
 * A minimal PKCS#11 client, independent of the daemon's token layer so the
 * raw limit measures the token and nothing of ours. Used in-process (raw
 * cells) and by each forked p11-kit remote client.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cleanup.h"
#include "p11.h"

struct P11 {
	CK_FUNCTION_LIST *m;
	CK_SLOT_ID slot;
	bool initialized;
	char info[96];
};

struct P11Session {
	P11 *p;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_OBJECT_HANDLE copy; /* CK_INVALID_HANDLE: none */
	CK_OBJECT_HANDLE verify_key, verify_copy;
	const BenchAlg *alg;
};

static int fail(CK_RV rv, const char *what)
{
	fprintf(stderr, "hsmjwt-bench: %s failed: %s\n", what, p11_kit_strerror(rv));
	return -EIO;
}

static int find_slot(P11 *p, const char *label)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = ELEMENTSOF(slots);
	CK_RV rv = p->m->C_GetSlotList(CK_TRUE, slots, &n);

	if (rv != CKR_OK)
		return fail(rv, "C_GetSlotList");
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (p->m->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (p11_kit_space_strlen(ti.label, sizeof(ti.label)) != strlen(label) ||
		    memcmp(ti.label, label, strlen(label)) != 0)
			continue;
		p->slot = slots[i];
		snprintf(p->info, sizeof(p->info), "%.*s %u.%u",
			 (int)p11_kit_space_strlen(ti.model, sizeof(ti.model)), ti.model,
			 ti.firmwareVersion.major, ti.firmwareVersion.minor);
		return 0;
	}
	fprintf(stderr, "hsmjwt-bench: no token labelled '%s'\n", label);
	return -ENODEV;
}

int p11_open(const char *module_path, const char *token_label, P11 **ret)
{
	/* Without locking callbacks SoftHSM crashes under two threads (ARCHITECTURE.md, Token facts). */
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	P11 *p;
	CK_RV rv;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->m = p11_kit_module_load(module_path, P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
	if (!p->m) {
		fprintf(stderr, "hsmjwt-bench: cannot load %s: %s\n", module_path, p11_kit_message());
		free(p);
		return -ENOENT;
	}
	rv = p->m->C_Initialize(&args);
	if (rv != CKR_OK) {
		p11_close(p);
		return fail(rv, "C_Initialize");
	}
	p->initialized = true;
	r = find_slot(p, token_label);
	if (r < 0) {
		p11_close(p);
		return r;
	}
	*ret = p;
	return 0;
}

void p11_close(P11 *p)
{
	if (!p)
		return;
	if (p->initialized)
		p->m->C_Finalize(NULL);
	if (p->m)
		p11_kit_module_release(p->m);
	free(p);
}

const char *p11_token_info(const P11 *p)
{
	return p->info;
}

int p11_session_open(P11 *p, const char *pin, P11Session **ret)
{
	P11Session *s;
	CK_RV rv;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->p = p;
	s->copy = s->verify_copy = CK_INVALID_HANDLE;
	rv = p->m->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s->h);
	if (rv != CKR_OK) {
		free(s);
		return fail(rv, "C_OpenSession");
	}
	rv = p->m->C_Login(s->h, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		p11_session_close(s);
		return fail(rv, "C_Login");
	}
	*ret = s;
	return 0;
}

void p11_session_close(P11Session *s)
{
	if (!s)
		return;
	if (s->copy != CK_INVALID_HANDLE)
		s->p->m->C_DestroyObject(s->h, s->copy);
	if (s->verify_copy != CK_INVALID_HANDLE)
		s->p->m->C_DestroyObject(s->h, s->verify_copy);
	s->p->m->C_CloseSession(s->h);
	free(s);
}

int p11_session_use_key(P11Session *s, const BenchAlg *alg, bool session_copy)
{
	CK_OBJECT_CLASS cls = alg->asymmetric ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)alg->label, strlen(alg->label) },
	};
	CK_ATTRIBUTE copy_tmpl[] = { { CKA_TOKEN, &no, sizeof(no) } };
	CK_FUNCTION_LIST *m = s->p->m;
	CK_ULONG n = 0;
	CK_RV rv;

	rv = m->C_FindObjectsInit(s->h, tmpl, ELEMENTSOF(tmpl));
	if (rv != CKR_OK)
		return fail(rv, "C_FindObjectsInit");
	rv = m->C_FindObjects(s->h, &s->key, 1, &n);
	m->C_FindObjectsFinal(s->h);
	if (rv != CKR_OK)
		return fail(rv, "C_FindObjects");
	if (n != 1) {
		fprintf(stderr, "hsmjwt-bench: no %s key labelled '%s'\n", alg->name, alg->label);
		return -ENOENT;
	}
	s->alg = alg;
	if (!session_copy)
		return 0;
	rv = m->C_CopyObject(s->h, s->key, copy_tmpl, ELEMENTSOF(copy_tmpl), &s->copy);
	if (rv != CKR_OK)
		return fail(rv, "C_CopyObject");
	return 0;
}

int p11_sign(P11Session *s, const void *data, size_t n, uint8_t *sig, size_t *sig_len)
{
	CK_MECHANISM mech = { s->alg->mech, NULL, 0 };
	CK_OBJECT_HANDLE key = s->copy != CK_INVALID_HANDLE ? s->copy : s->key;
	CK_FUNCTION_LIST *m = s->p->m;
	unsigned char md[32];
	CK_ULONG len = *sig_len;
	CK_RV rv;

	if (s->alg->prehash) {
		if (!EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL))
			return -EIO;
		data = md;
		n = sizeof(md);
	}
	rv = m->C_SignInit(s->h, &mech, key);
	if (rv != CKR_OK)
		return fail(rv, "C_SignInit");
	rv = m->C_Sign(s->h, (CK_BYTE *)data, n, sig, &len);
	if (rv != CKR_OK)
		return fail(rv, "C_Sign");
	*sig_len = len;
	return 0;
}

int p11_session_use_verify_key(P11Session *s, bool session_copy)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)s->alg->label, strlen(s->alg->label) },
	};
	CK_ATTRIBUTE copy_tmpl[] = { { CKA_TOKEN, &no, sizeof(no) } };
	CK_FUNCTION_LIST *m = s->p->m;
	CK_ULONG n = 0;
	CK_RV rv;

	if (!s->alg->asymmetric) {
		/* HMAC verifies with the secret key itself (and its copy). */
		s->verify_key = s->key;
		s->verify_copy = CK_INVALID_HANDLE;
		return 0;
	}
	rv = m->C_FindObjectsInit(s->h, tmpl, ELEMENTSOF(tmpl));
	if (rv != CKR_OK)
		return fail(rv, "C_FindObjectsInit");
	rv = m->C_FindObjects(s->h, &s->verify_key, 1, &n);
	m->C_FindObjectsFinal(s->h);
	if (rv != CKR_OK)
		return fail(rv, "C_FindObjects");
	if (n != 1) {
		fprintf(stderr, "hsmjwt-bench: no public key labelled '%s'\n", s->alg->label);
		return -ENOENT;
	}
	if (!session_copy)
		return 0;
	rv = m->C_CopyObject(s->h, s->verify_key, copy_tmpl, ELEMENTSOF(copy_tmpl), &s->verify_copy);
	if (rv != CKR_OK)
		return fail(rv, "C_CopyObject");
	return 0;
}

int p11_verify(P11Session *s, const void *data, size_t n, const uint8_t *sig, size_t sig_len)
{
	CK_MECHANISM mech = { s->alg->mech, NULL, 0 };
	CK_OBJECT_HANDLE key = s->verify_copy != CK_INVALID_HANDLE ? s->verify_copy :
			       !s->alg->asymmetric && s->copy != CK_INVALID_HANDLE ? s->copy :
										    s->verify_key;
	CK_FUNCTION_LIST *m = s->p->m;
	unsigned char md[32];
	CK_RV rv;

	if (s->alg->prehash) {
		if (!EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL))
			return -EIO;
		data = md;
		n = sizeof(md);
	}
	rv = m->C_VerifyInit(s->h, &mech, key);
	if (rv != CKR_OK)
		return fail(rv, "C_VerifyInit");
	rv = m->C_Verify(s->h, (CK_BYTE *)data, n, (CK_BYTE *)sig, sig_len);
	if (rv != CKR_OK)
		return fail(rv, "C_Verify");
	return 0;
}
