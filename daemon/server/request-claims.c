/* SPDX-License-Identifier: MIT */
#include "request-claims.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static Span span_of(const char *s)
{
	return (Span){ s ? s : "", s ? strlen(s) : 0 };
}

static void map_one(const Hsmjwt__V1__ExtraClaim *c, ExtraClaim *e, Span *items, size_t *used)
{
	e->name = span_of(c->name);
	switch (c->value_case) {
	case HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_VALUE:
		e->type = EXTRA_STRING;
		e->string = span_of(c->string_value);
		break;
	case HSMJWT__V1__EXTRA_CLAIM__VALUE_INTEGER_VALUE:
		e->type = EXTRA_INTEGER;
		e->integer = c->integer_value;
		break;
	case HSMJWT__V1__EXTRA_CLAIM__VALUE_BOOLEAN_VALUE:
		e->type = EXTRA_BOOLEAN;
		e->boolean = c->boolean_value;
		break;
	case HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_LIST_VALUE:
		e->type = EXTRA_STRING_LIST;
		e->list.items = items + *used;
		e->list.n = c->string_list_value ? c->string_list_value->n_values : 0;
		for (size_t i = 0; i < e->list.n; i++)
			items[(*used)++] = span_of(c->string_list_value->values[i]);
		break;
	default:
		e->type = EXTRA_UNSET;
		break;
	}
}

int request_map_extras(const Hsmjwt__V1__SignRequest *sr, ExtraClaim **ret_extras,
		       Span **ret_items)
{
	_cleanup_free_ ExtraClaim *extras = NULL;
	_cleanup_free_ Span *items = NULL;
	size_t n_items = 0, used = 0;

	/* Most requests carry none: then there is nothing to allocate, wipe or free. */
	if (sr->n_extra_claims == 0) {
		*ret_extras = NULL;
		*ret_items = NULL;
		return 0;
	}
	/* The decoded request already holds more than this per claim: no separate bound needed. */
	for (size_t i = 0; i < sr->n_extra_claims; i++)
		if (sr->extra_claims[i]->value_case == HSMJWT__V1__EXTRA_CLAIM__VALUE_STRING_LIST_VALUE &&
		    sr->extra_claims[i]->string_list_value)
			n_items += sr->extra_claims[i]->string_list_value->n_values;
	extras = calloc(sr->n_extra_claims ? sr->n_extra_claims : 1, sizeof(*extras));
	items = calloc(n_items ? n_items : 1, sizeof(*items));
	if (!extras || !items)
		return -ENOMEM;
	for (size_t i = 0; i < sr->n_extra_claims; i++)
		map_one(sr->extra_claims[i], &extras[i], items, &used);
	*ret_extras = TAKE_PTR(extras);
	*ret_items = TAKE_PTR(items);
	return 0;
}
