/* SPDX-License-Identifier: MIT */
/* The mock token's objects: finding them, reading their attributes, copying them. */
#include <string.h>
#include <stdlib.h>

#include <openssl/sha.h>

#include "mock-crypto.h"
#include "mock-internal.h"

#define COPY_FIRST_HANDLE 100

typedef struct Attr {
	CK_ATTRIBUTE_TYPE type;
	uint8_t bytes[80];
	CK_ULONG len;
} Attr;

typedef struct Object {
	CK_OBJECT_HANDLE handle; /* 0: free */
	CK_SESSION_HANDLE owner; /* a session object's session; 0 for token objects */
	CK_KEY_TYPE key_type;
	Attr attrs[ATTRS_MAX];
	unsigned n_attrs;
} Object;

static Object objects[OBJECTS_MAX];
static CK_OBJECT_HANDLE next_copy = COPY_FIRST_HANDLE;
uint8_t mock_hmac_key[32];

static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

static void attr_set(Object *o, CK_ATTRIBUTE_TYPE type, const void *v, CK_ULONG len)
{
	for (unsigned i = 0; i < o->n_attrs; i++)
		if (o->attrs[i].type == type) {
			memcpy(o->attrs[i].bytes, v, len);
			o->attrs[i].len = len;
			return;
		}
	if (o->n_attrs == ATTRS_MAX || len > sizeof(o->attrs[0].bytes))
		abort(); /* a mistake in this file */
	o->attrs[o->n_attrs] = (Attr){ .type = type, .len = len };
	memcpy(o->attrs[o->n_attrs++].bytes, v, len);
}

static void attr_bool(Object *o, CK_ATTRIBUTE_TYPE type, CK_BBOOL v)
{
	attr_set(o, type, &v, sizeof(v));
}

static void attr_ulong(Object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	attr_set(o, type, &v, sizeof(v));
}

static const Attr *attr_get(const Object *o, CK_ATTRIBUTE_TYPE type)
{
	for (unsigned i = 0; i < o->n_attrs; i++)
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	return NULL;
}

static Object *object_get(CK_OBJECT_HANDLE h)
{
	for (size_t i = 0; i < OBJECTS_MAX; i++)
		if (h && objects[i].handle == h)
			return &objects[i];
	return NULL;
}

static Object *object_new(CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
			  const char *label, uint8_t id)
{
	for (size_t i = 0; i < OBJECTS_MAX; i++) {
		Object *o = &objects[i];

		if (o->handle)
			continue;
		*o = (Object){ .handle = h, .key_type = kt };
		attr_ulong(o, CKA_CLASS, cls);
		attr_ulong(o, CKA_KEY_TYPE, kt);
		attr_bool(o, CKA_TOKEN, CK_TRUE);
		attr_set(o, CKA_LABEL, label, strlen(label));
		attr_set(o, CKA_ID, &id, 1);
		return o;
	}
	return NULL;
}

int mock_objects_create(void)
{
	static const char master[] = "shared-vector-1 master key" "JWTSig";
	uint8_t point[67] = { 0x04, 65 };
	Object *o;

	if (mock_crypto_init() < 0 || mock_ec_point(point + 2) < 0)
		return -1;
	SHA256((const uint8_t *)master, strlen(master), mock_hmac_key);
	memset(objects, 0, sizeof(objects));
	o = object_new(1, CKO_SECRET_KEY, CKK_GENERIC_SECRET, "zumo", 1);
	attr_bool(o, CKA_SIGN, CK_TRUE);
	attr_bool(o, CKA_VERIFY, CK_TRUE);
	attr_bool(o, CKA_SENSITIVE, CK_TRUE);
	attr_bool(o, CKA_EXTRACTABLE, CK_FALSE);
	attr_ulong(o, CKA_VALUE_LEN, 32);
	o = object_new(2, CKO_PRIVATE_KEY, CKK_EC, "es", 2);
	attr_bool(o, CKA_SIGN, CK_TRUE);
	attr_bool(o, CKA_SENSITIVE, CK_TRUE);
	attr_bool(o, CKA_EXTRACTABLE, CK_FALSE);
	attr_set(o, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
	o = object_new(3, CKO_PUBLIC_KEY, CKK_EC, "es", 2);
	attr_bool(o, CKA_VERIFY, CK_TRUE);
	attr_set(o, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
	attr_set(o, CKA_EC_POINT, point, sizeof(point));
	next_copy = COPY_FIRST_HANDLE;
	return 0;
}

static bool object_matches(const Object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		const Attr *a = attr_get(o, tmpl[i].type);

		if (!a || a->len != tmpl[i].ulValueLen || memcmp(a->bytes, tmpl[i].pValue, a->len))
			return false;
	}
	return true;
}

long mock_key_type(CK_OBJECT_HANDLE h)
{
	Object *o = object_get(h);

	return o ? (long)o->key_type : -1;
}

bool mock_object_flag(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
	Object *o = object_get(h);
	const Attr *a = o ? attr_get(o, type) : NULL;

	return a && a->len == sizeof(CK_BBOOL) && a->bytes[0] == CK_TRUE;
}

void mock_objects_drop_session(CK_SESSION_HANDLE h)
{
	for (size_t i = 0; i < OBJECTS_MAX; i++)
		if (objects[i].handle && objects[i].owner == h)
			objects[i].handle = 0;
}

CK_RV mock_get_attribute_value(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh,
				      CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	CK_RV rv = CKR_OK;
	Object *o;

	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	o = object_get(oh);
	if (!o)
		LEAVE(CKR_OBJECT_HANDLE_INVALID);
	for (CK_ULONG i = 0; i < n; i++) {
		const Attr *a = attr_get(o, tmpl[i].type);

		if (tmpl[i].type == CKA_VALUE && o->key_type != CKK_EC) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
		} else if (!a) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (!tmpl[i].pValue) {
			tmpl[i].ulValueLen = a->len;
		} else if (tmpl[i].ulValueLen < a->len) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(tmpl[i].pValue, a->bytes, a->len);
			tmpl[i].ulValueLen = a->len;
			/* tpm2_ptool's HMAC import leaves CKA_EXTRACTABLE=TRUE. */
			if (tmpl[i].type == CKA_EXTRACTABLE && o->key_type == CKK_GENERIC_SECRET &&
			    mock_faults.hmac_extractable)
				*(CK_BBOOL *)tmpl[i].pValue = CK_TRUE;
		}
	}
	LEAVE(rv);
}

CK_RV mock_find_objects_init(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	Session *s;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (s->finding)
		LEAVE(CKR_OPERATION_ACTIVE);
	s->finding = true;
	s->n_found = s->next_found = 0;
	for (size_t i = 0; i < OBJECTS_MAX; i++)
		if (objects[i].handle && object_matches(&objects[i], tmpl, n))
			s->found[s->n_found++] = objects[i].handle;
	LEAVE(CKR_OK);
}

CK_RV mock_find_objects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR ret, CK_ULONG max,
			       CK_ULONG_PTR ret_n)
{
	Session *s;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (!s->finding)
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	*ret_n = 0;
	while (*ret_n < max && s->next_found < s->n_found)
		ret[(*ret_n)++] = s->found[s->next_found++];
	LEAVE(CKR_OK);
}

CK_RV mock_find_objects_final(CK_SESSION_HANDLE h)
{
	Session *s;

	ENTER();
	s = mock_session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	s->finding = false;
	LEAVE(CKR_OK);
}

CK_RV mock_copy_object(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl,
			      CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
	Object *from, *to = NULL;

	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (mock_faults.copy_rv)
		LEAVE(mock_faults.copy_rv);
	from = object_get(oh);
	if (!from)
		LEAVE(CKR_OBJECT_HANDLE_INVALID);
	/* Only CKA_TOKEN may change, as SoftHSM refuses weakening CKA_SENSITIVE. */
	for (CK_ULONG i = 0; i < n; i++)
		if (tmpl[i].type != CKA_TOKEN || tmpl[i].ulValueLen != sizeof(CK_BBOOL))
			LEAVE(CKR_ATTRIBUTE_READ_ONLY);
	for (size_t i = 0; i < OBJECTS_MAX && !to; i++)
		if (!objects[i].handle)
			to = &objects[i];
	if (!to)
		LEAVE(CKR_DEVICE_MEMORY);
	*to = *from;
	to->handle = next_copy++;
	for (CK_ULONG i = 0; i < n; i++)
		attr_set(to, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	if (*(CK_BBOOL *)attr_get(to, CKA_TOKEN)->bytes == CK_FALSE)
		to->owner = h;
	*ret = to->handle;
	LEAVE(CKR_OK);
}

CK_RV mock_destroy_object(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
	Object *o;

	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	o = object_get(oh);
	if (!o)
		LEAVE(CKR_OBJECT_HANDLE_INVALID);
	o->handle = 0;
	LEAVE(CKR_OK);
}
