/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "cleanup.h"
#include "token-internal.h"

/* RSA-PSS per RFC 7518 section 3.5: SHA-256, MGF1 with SHA-256, salt as long as the hash. */
static CK_RSA_PKCS_PSS_PARAMS pss_sha256 = {
	.hashAlg = CKM_SHA256,
	.mgf = CKG_MGF1_SHA256,
	.sLen = 32,
};

static const struct {
	CK_MECHANISM_TYPE type;
	void *param;
	CK_ULONG param_len;
	const char *name;
} mechanisms[_TOKEN_MECH_MAX] = {
	[TOKEN_MECH_HMAC_SHA256] = { CKM_SHA256_HMAC, NULL, 0, "CKM_SHA256_HMAC" },
	[TOKEN_MECH_ECDSA] = { CKM_ECDSA, NULL, 0, "CKM_ECDSA" },
	[TOKEN_MECH_RSA_PKCS_SHA256] = { CKM_SHA256_RSA_PKCS, NULL, 0, "CKM_SHA256_RSA_PKCS" },
	[TOKEN_MECH_RSA_PSS_SHA256] = { CKM_SHA256_RSA_PKCS_PSS, &pss_sha256, sizeof(pss_sha256),
					"CKM_SHA256_RSA_PKCS_PSS" },
	[TOKEN_MECH_RSA_PSS_DIGEST256] = { CKM_RSA_PKCS_PSS, &pss_sha256, sizeof(pss_sha256),
					   "CKM_RSA_PKCS_PSS" },
	[TOKEN_MECH_EDDSA] = { CKM_EDDSA, NULL, 0, "CKM_EDDSA" },
	[TOKEN_MECH_RSA_PKCS_RAW] = { CKM_RSA_PKCS, NULL, 0, "CKM_RSA_PKCS" },
};

static CK_MECHANISM_TYPE mechanism_type(TokenMechanism m)
{
	return mechanisms[m].type;
}

const char *token_mechanism_name(TokenMechanism m)
{
	return (unsigned)m < _TOKEN_MECH_MAX ? mechanisms[m].name : "unknown";
}

static bool mechanism_flags(Token *t, TokenMechanism m, CK_FLAGS want)
{
	CK_MECHANISM_INFO info;

	if (t->module->C_GetMechanismInfo(t->slot, mechanism_type(m), &info) != CKR_OK)
		return false;
	return (info.flags & want) == want;
}

bool token_has_mechanism(Token *t, TokenMechanism m)
{
	return mechanism_flags(t, m, CKF_SIGN);
}

bool token_has_verify_mechanism(Token *t, TokenMechanism m)
{
	return mechanism_flags(t, m, CKF_VERIFY);
}

/* "C_Sign (CKM_ECDSA) on token hsmjwt (SoftHSM project) failed: CKR_...": what, where, why. */
static int fail_op(Token *t, CK_RV rv, const char *call, TokenMechanism m)
{
	return log_error_errno(p11_rv_to_errno(rv), "%s (%s) on token %s failed: %s (%s)", call,
			       mechanisms[m].name, t->description, p11_rv_name(rv),
			       p11_kit_strerror(rv));
}

int token_sign(Token *t, TokenSession session, TokenObject key, TokenMechanism m,
	       const void *data, size_t n, uint8_t *sig, size_t *inout_len)
{
	CK_MECHANISM mech = { mechanism_type(m), mechanisms[m].param, mechanisms[m].param_len };
	CK_ULONG len = *inout_len;
	CK_RV rv;

	rv = t->module->C_SignInit(session, &mech, key);
	if (rv != CKR_OK)
		return fail_op(t, rv, "C_SignInit", m);
	rv = t->module->C_Sign(session, (CK_BYTE *)data, n, sig, &len);
	if (rv != CKR_OK)
		return fail_op(t, rv, "C_Sign", m);
	*inout_len = len;
	return 0;
}

int token_verify(Token *t, TokenSession session, TokenObject key, TokenMechanism m,
		 const void *data, size_t n, const uint8_t *sig, size_t sig_len)
{
	CK_MECHANISM mech = { mechanism_type(m), mechanisms[m].param, mechanisms[m].param_len };
	CK_RV rv;

	rv = t->module->C_VerifyInit(session, &mech, key);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
		return -EPERM;
	if (rv != CKR_OK)
		return fail_op(t, rv, "C_VerifyInit", m);
	/* C_Verify ends the operation whatever it returns. */
	rv = t->module->C_Verify(session, (CK_BYTE *)data, n, (CK_BYTE *)sig, sig_len);
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_SIGNATURE_INVALID:
	case CKR_SIGNATURE_LEN_RANGE:
		return -EBADMSG;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		/* The token or our session is gone: that is the token's state, not the input's. */
		return fail_op(t, rv, "C_Verify", m);
	default:
		/*
		 * The caller chose sig: what the module makes of it says nothing sure about
		 * the device (NSS answers a wrong MAC with CKR_DEVICE_ERROR). Fail closed for
		 * this signature, leave the token up; a real device failure shows in C_Sign.
		 */
		log_warning("C_Verify on %s (%s) returned %s; taken as a signature that does not "
			    "verify", t->description, mechanisms[m].name, p11_rv_name(rv));
		return -EBADMSG;
	}
}
