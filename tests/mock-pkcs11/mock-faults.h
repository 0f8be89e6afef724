/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The faults the mock PKCS#11 module injects, from a spec: entries
 * separated by commas, spaces or newlines, each KEY=VALUE[@N|@N+]:
 *
 *   sign-rv=CKR_DEVICE_REMOVED@3   the 3rd C_Sign fails so (@3+: and every later one;
 *                                  no @: every call)
 *   sign-sleep-ms=1500@2+          C_Sign sleeps that long first (before any sign-rv)
 *   sign-sleep-mech=CKM_ECDSA      ... only when signing with that mechanism (a slow
 *                                  key next to fast ones, as RS256 next to HS256)
 *   verify-bad-mac=CKR_DEVICE_ERROR  a signature that does not verify returns this,
 *                                  not CKR_SIGNATURE_INVALID (as NSS softokn does)
 *   copy-rv=CKR_FUNCTION_NOT_SUPPORTED  C_CopyObject refused
 *   omit-mech=CKM_ECDSA            the mechanism is not offered (repeatable)
 *   init-rv=CKR_DEVICE_ERROR       C_Initialize fails (the token is still gone)
 *   login-rv=CKR_PIN_INCORRECT     C_Login fails
 *   hmac-extractable=1             the HMAC key reports CKA_EXTRACTABLE=TRUE (tpm2_ptool import)
 *   init-thread=1                  C_Initialize starts a thread that just waits (as
 *                                  tpm2-pkcs11's D-Bus TCTI does)
 *   init-string=1                  C_Initialize fails CKR_ARGUMENTS_BAD unless pReserved
 *                                  is "hsmjwt-mock-init" (as NSS softokn needs its configdir)
 *
 * Values are CKR_ / CKM_ names or numbers. The spec comes from
 * $HSMJWT_MOCK_PKCS11, or from the file $HSMJWT_MOCK_PKCS11_CONTROL names,
 * which is read again whenever it changes (replace it by rename()). Call
 * counts start again at every change of the spec, not at C_Initialize: a
 * reopened token goes on counting.
 */

#include <stdbool.h>

#include <p11-kit/pkcs11.h>

#define MOCK_OMIT_MAX 8

typedef struct MockWhen {
	bool set;
	unsigned long from, to; /* call numbers, 1-based, inclusive; to 0: no end */
} MockWhen;

typedef struct MockFaults {
	CK_RV sign_rv;
	MockWhen sign_rv_when;
	unsigned long sign_sleep_ms;
	MockWhen sign_sleep_when;
	CK_MECHANISM_TYPE sign_sleep_mech; /* 0: any */
	bool sign_sleep_mech_set;
	CK_RV verify_bad_mac; /* 0: CKR_SIGNATURE_INVALID */
	CK_RV copy_rv;
	CK_RV init_rv;
	CK_RV login_rv;
	bool hmac_extractable; /* the HMAC key reports CKA_EXTRACTABLE=TRUE */
	bool init_thread;      /* C_Initialize starts a thread of the module's own */
	bool init_string;      /* C_Initialize wants "hsmjwt-mock-init" in pReserved */
	CK_MECHANISM_TYPE omit[MOCK_OMIT_MAX];
	unsigned n_omit;
} MockFaults;

/* 0, or -EINVAL for a spec it cannot read (*f is then all clear). */
int mock_faults_parse(const char *spec, MockFaults *f);
bool mock_when_matches(const MockWhen *w, unsigned long call);
