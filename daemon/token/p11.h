/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one place that includes p11-kit's headers. Its pkcs11.h (in
 * CRYPTOKI_COMPAT mode) #defines common words such as value, count and
 * params; they are undone here so no other code trips over them.
 */
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#undef value
#undef value_len
#undef count
#undef params
#undef parameter
#undef parameter_len
#undef reserved
#undef counter_bits
#undef iv
#undef iv_len
#undef iv_bits

/* Maps a PKCS#11 return value to -errno, for callers that decide by class. */
int p11_rv_to_errno(CK_RV rv);
/* "CKR_PIN_INCORRECT: The PIN is incorrect" */
const char *p11_rv_name(CK_RV rv);
