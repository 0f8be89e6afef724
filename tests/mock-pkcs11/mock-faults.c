/* SPDX-License-Identifier: MIT */
#include "mock-faults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME(x) { #x, x }
static const struct {
	const char *name;
	unsigned long value;
} names[] = {
	NAME(CKR_OK),
	NAME(CKR_GENERAL_ERROR),
	NAME(CKR_FUNCTION_FAILED),
	NAME(CKR_DEVICE_ERROR),
	NAME(CKR_DEVICE_MEMORY),
	NAME(CKR_DEVICE_REMOVED),
	NAME(CKR_FUNCTION_NOT_SUPPORTED),
	NAME(CKR_SESSION_HANDLE_INVALID),
	NAME(CKR_SESSION_CLOSED),
	NAME(CKR_TOKEN_NOT_PRESENT),
	NAME(CKR_PIN_INCORRECT),
	NAME(CKR_PIN_LOCKED),
	NAME(CKR_USER_NOT_LOGGED_IN),
	NAME(CKR_KEY_HANDLE_INVALID),
	NAME(CKR_SIGNATURE_INVALID),
	NAME(CKR_CRYPTOKI_NOT_INITIALIZED),
	NAME(CKR_ATTRIBUTE_READ_ONLY),
	NAME(CKM_SHA256_HMAC),
	NAME(CKM_ECDSA),
};
#undef NAME

static int parse_value(const char *s, unsigned long *ret)
{
	char *end;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, s) == 0) {
			*ret = names[i].value;
			return 0;
		}
	errno = 0;
	*ret = strtoul(s, &end, 0);
	return errno || end == s || *end ? -EINVAL : 0;
}

/* "@3", "@3+" or "" */
static int parse_when(const char *s, MockWhen *w)
{
	char *end;

	*w = (MockWhen){};
	if (!*s)
		return 0;
	if (*s != '@')
		return -EINVAL;
	w->from = strtoul(s + 1, &end, 10);
	if (end == s + 1 || w->from == 0)
		return -EINVAL;
	if (*end == '+')
		end++;
	else
		w->to = w->from;
	w->set = true;
	return *end ? -EINVAL : 0;
}

bool mock_when_matches(const MockWhen *w, unsigned long call)
{
	return !w->set || (call >= w->from && (w->to == 0 || call <= w->to));
}

static int parse_entry(char *e, MockFaults *f)
{
	char *eq = strchr(e, '='), *at;
	unsigned long v;
	MockWhen when;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	at = strchr(eq + 1, '@');
	if (parse_when(at ? at : "", &when) < 0)
		return -EINVAL;
	if (at)
		*at = '\0';
	if (parse_value(eq + 1, &v) < 0)
		return -EINVAL;
	if (strcmp(e, "sign-rv") == 0)
		f->sign_rv = v, f->sign_rv_when = when;
	else if (strcmp(e, "sign-sleep-ms") == 0)
		f->sign_sleep_ms = v, f->sign_sleep_when = when;
	else if (strcmp(e, "sign-sleep-mech") == 0)
		f->sign_sleep_mech = v, f->sign_sleep_mech_set = true;
	else if (strcmp(e, "verify-bad-mac") == 0)
		f->verify_bad_mac = v;
	else if (strcmp(e, "copy-rv") == 0)
		f->copy_rv = v;
	else if (strcmp(e, "init-rv") == 0)
		f->init_rv = v;
	else if (strcmp(e, "login-rv") == 0)
		f->login_rv = v;
	else if (strcmp(e, "hmac-extractable") == 0)
		f->hmac_extractable = v != 0;
	else if (strcmp(e, "init-thread") == 0)
		f->init_thread = v != 0;
	else if (strcmp(e, "init-string") == 0)
		f->init_string = v != 0;
	else if (strcmp(e, "omit-mech") == 0 && f->n_omit < MOCK_OMIT_MAX)
		f->omit[f->n_omit++] = v;
	else
		return -EINVAL;
	return 0;
}

int mock_faults_parse(const char *spec, MockFaults *f)
{
	char *copy, *save = NULL;
	int r = 0;

	*f = (MockFaults){};
	if (!spec)
		return 0;
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (char *e = strtok_r(copy, ", \t\n", &save); e && r >= 0; e = strtok_r(NULL, ", \t\n", &save))
		r = parse_entry(e, f);
	free(copy);
	if (r < 0) {
		fprintf(stderr, "mock-pkcs11: cannot read fault spec '%s'\n", spec);
		*f = (MockFaults){};
	}
	return r;
}
