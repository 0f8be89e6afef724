/* SPDX-License-Identifier: MIT */
/* Extra claims on a sign request, kept in the wire's form until hsmjwt_sign() sends them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client-internal.h"

static void claim_free(Hsmjwt__V1__ExtraClaim *c)
{
	if (!c)
		return;
	client_free_string(c->name);
	if (c->value_case == HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_VALUE)
		client_free_string(c->string_value);
	if (c->value_case == HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_LIST_VALUE &&
	    c->string_list_value) {
		for (size_t i = 0; i < c->string_list_value->n_values; i++)
			client_free_string(c->string_list_value->values[i]);
		free(c->string_list_value->values);
		free(c->string_list_value);
	}
	free(c);
}

void client_claims_done(ClientClaims *c)
{
	for (size_t i = 0; i < c->n; i++)
		claim_free(c->items[i]);
	free(c->items);
	*c = (ClientClaims){};
}

/* A claim named name with the value type kind, for the caller to fill in and append. */
static int claim_new(const hsmjwt_sign_request *r, const char *name,
		     Hsmjwt__V1__ExtraClaim__ValueCase kind, Hsmjwt__V1__ExtraClaim **ret)
{
	Hsmjwt__V1__ExtraClaim *c;

	if (!r || !name)
		return -EINVAL;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	hsmjwt__v1__extra_claim__init(c);
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return -ENOMEM;
	}
	c->value_case = kind;
	*ret = c;
	return 0;
}

/* Takes c: appended, or freed on failure. */
static int append(hsmjwt_sign_request *r, Hsmjwt__V1__ExtraClaim *c)
{
	ClientClaims *cc = client_sign_request_claims(r);
	Hsmjwt__V1__ExtraClaim **items;

	items = reallocarray(cc->items, cc->n + 1, sizeof(*items));
	if (!items) {
		claim_free(c);
		return -ENOMEM;
	}
	cc->items = items;
	cc->items[cc->n++] = c;
	return 0;
}

_public_ int hsmjwt_sign_request_add_claim_string(hsmjwt_sign_request *r, const char *name,
						  const char *value)
{
	Hsmjwt__V1__ExtraClaim *c;
	int k;

	k = value ? claim_new(r, name, HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_VALUE, &c) : -EINVAL;
	if (k < 0)
		return k;
	c->string_value = strdup(value);
	if (!c->string_value) {
		claim_free(c);
		return -ENOMEM;
	}
	return append(r, c);
}

_public_ int hsmjwt_sign_request_add_claim_integer(hsmjwt_sign_request *r, const char *name,
						   int64_t value)
{
	Hsmjwt__V1__ExtraClaim *c;
	int k = claim_new(r, name, HSMJWT__V1__EXTRA_CLAIM__VALUE_INTEGER_VALUE, &c);

	if (k < 0)
		return k;
	c->integer_value = value;
	return append(r, c);
}

_public_ int hsmjwt_sign_request_add_claim_boolean(hsmjwt_sign_request *r, const char *name,
						   int value)
{
	Hsmjwt__V1__ExtraClaim *c;
	int k = claim_new(r, name, HSMJWT__V1__EXTRA_CLAIM__VALUE_BOOLEAN_VALUE, &c);

	if (k < 0)
		return k;
	c->boolean_value = !!value;
	return append(r, c);
}

_public_ int hsmjwt_sign_request_add_claim_string_list(hsmjwt_sign_request *r, const char *name,
						       const char *const *values, size_t n_values)
{
	Hsmjwt__V1__StringList *list;
	Hsmjwt__V1__ExtraClaim *c;

	int k;

	if (n_values && !values)
		return -EINVAL;
	for (size_t i = 0; i < n_values; i++)
		if (!values[i])
			return -EINVAL;
	k = claim_new(r, name, HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_LIST_VALUE, &c);
	if (k < 0)
		return k;
	list = calloc(1, sizeof(*list));
	if (!list) {
		claim_free(c);
		return -ENOMEM;
	}
	hsmjwt__v1__string_list__init(list);
	c->string_list_value = list;
	list->values = calloc(n_values ? n_values : 1, sizeof(char *));
	if (!list->values) {
		claim_free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_values; i++) {
		list->values[i] = strdup(values[i]);
		if (!list->values[i]) {
			claim_free(c);
			return -ENOMEM;
		}
		list->n_values = i + 1;
	}
	return append(r, c);
}
