/* SPDX-License-Identifier: MIT */
/* Signing and verifying, with the faults the spec asks for. */
#include <errno.h>
#include <time.h>

#include "mock-crypto.h"
#include "mock-internal.h"

/* Under lock: may key do what with mech? */
static CK_RV op_init(Op *op, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key, CK_ATTRIBUTE_TYPE use)
{
	long key_type = mock_key_type(key);
	CK_KEY_TYPE want;

	if (op->active)
		return CKR_OPERATION_ACTIVE;
	if (key_type < 0)
		return CKR_KEY_HANDLE_INVALID;
	if (mock_mechanism_omitted(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	if (mech->mechanism == CKM_SHA256_HMAC)
		want = CKK_GENERIC_SECRET;
	else if (mech->mechanism == CKM_ECDSA)
		want = CKK_EC;
	else
		return CKR_MECHANISM_INVALID;
	if ((CK_KEY_TYPE)key_type != want)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!mock_object_flag(key, use))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!mock_logged_in)
		return CKR_USER_NOT_LOGGED_IN;
	*op = (Op){ .active = true, .mech = mech->mechanism, .key = key };
	return CKR_OK;
}

CK_RV mock_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	Session *s;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	LEAVE(op_init(&s->sign, mech, key, CKA_SIGN));
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

CK_RV mock_sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
		       CK_ULONG_PTR sig_len)
{
	CK_ULONG want;
	unsigned long call;
	Session *s;
	Op op;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (!s->sign.active)
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	want = s->sign.mech == CKM_ECDSA ? 64 : 32;
	if (!sig) {
		*sig_len = want;
		LEAVE(CKR_OK);
	}
	if (*sig_len < want) {
		*sig_len = want;
		LEAVE(CKR_BUFFER_TOO_SMALL);
	}
	op = s->sign;
	s->sign.active = false;
	call = ++mock_sign_calls;
	if (mock_faults.sign_sleep_ms && mock_when_matches(&mock_faults.sign_sleep_when, call) &&
	    (!mock_faults.sign_sleep_mech_set || mock_faults.sign_sleep_mech == op.mech)) {
		unsigned long ms = mock_faults.sign_sleep_ms;

		/* A stuck token holds its caller, not the other sessions. */
		pthread_mutex_unlock(&mock_lock);
		sleep_ms(ms);
		pthread_mutex_lock(&mock_lock);
	}
	if (mock_faults.sign_rv && mock_when_matches(&mock_faults.sign_rv_when, call))
		LEAVE(mock_faults.sign_rv);
	if (!mock_initialized || mock_key_type(op.key) < 0)
		LEAVE(CKR_KEY_HANDLE_INVALID);
	if (op.mech == CKM_ECDSA) {
		if (mock_ecdsa_sign(data, n, sig) < 0)
			LEAVE(CKR_FUNCTION_FAILED);
	} else {
		mock_hmac_sha256(mock_hmac_key, data, n, sig);
	}
	*sig_len = want;
	LEAVE(CKR_OK);
}

CK_RV mock_verify_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	Session *s;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	LEAVE(op_init(&s->verify, mech, key, CKA_VERIFY));
}

CK_RV mock_verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
			 CK_ULONG sig_len)
{
	Session *s;
	bool ok;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (!s->verify.active)
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	s->verify.active = false;
	if (s->verify.mech == CKM_ECDSA)
		ok = mock_ecdsa_verify(data, n, sig, sig_len);
	else
		ok = mock_hmac_verify(mock_hmac_key, data, n, sig, sig_len);
	if (ok)
		LEAVE(CKR_OK);
	LEAVE(mock_faults.verify_bad_mac ? mock_faults.verify_bad_mac : CKR_SIGNATURE_INVALID);
}
