/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "cleanup.h"
#include "hsmjwt.h"

_public_ const char *hsmjwt_strerror(int error)
{
	switch (error) {
	case 0:
		return "success";
	case HSMJWT_E_INVALID_REQUEST:
		return "invalid request";
	case HSMJWT_E_PERMISSION_DENIED:
		return "permission denied";
	case HSMJWT_E_RATE_LIMITED:
		return "rate limited";
	case HSMJWT_E_UNAVAILABLE:
		return "signing unavailable";
	case HSMJWT_E_TOO_LARGE:
		return "request too large";
	case HSMJWT_E_INTERNAL:
		return "internal daemon error";
	case HSMJWT_E_UNSUPPORTED:
		return "request not supported by this daemon";
	case HSMJWT_E_PROTOCOL:
		return "malformed response from daemon";
	}
	if (error < 0 && error > -HSMJWT_E_BASE)
		return strerror(-error);
	return "unknown error";
}
