/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "token-internal.h"

/* hsmjwtctl list shows at most this many objects; a token holding more is not ours alone. */
#define LIST_MAX 1024

static const char *key_type_name(CK_KEY_TYPE k)
{
	switch (k) {
	case CKK_GENERIC_SECRET:
		return "generic-secret";
	case CKK_SHA256_HMAC:
		return "sha256-hmac";
	case CKK_EC:
		return "ec";
	case CKK_RSA:
		return "rsa";
	case CKK_EC_EDWARDS:
		return "ec-edwards";
	case CKK_AES:
		return "aes";
	default:
		return "other";
	}
}

static void describe_object(Token *t, CK_OBJECT_HANDLE o, CK_OBJECT_CLASS cls, TokenKeyInfo *info)
{
	uint8_t id[32];
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_FALSE;
	CK_ATTRIBUTE a[] = {
		{ CKA_LABEL, info->label, sizeof(info->label) - 1 },
		{ CKA_ID, id, sizeof(id) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
		{ CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
	};

	/* Attributes a class lacks come back unavailable; the others are still filled in. */
	(void)t->module->C_GetAttributeValue(t->session, o, a, cls == CKO_PUBLIC_KEY ? 3 : 5);
	if (a[0].ulValueLen < sizeof(info->label))
		info->label[a[0].ulValueLen] = '\0';
	else
		info->label[0] = '\0';
	info->id_hex[0] = '\0';
	for (CK_ULONG i = 0; a[1].ulValueLen <= sizeof(id) && i < a[1].ulValueLen; i++)
		snprintf(info->id_hex + 2 * i, 3, "%02x", id[i]);
	info->class_name = cls == CKO_SECRET_KEY	? "secret-key" :
			   cls == CKO_PRIVATE_KEY ? "private-key" :
						    "public-key";
	info->key_type = a[2].ulValueLen == sizeof(kt) ? key_type_name(kt) : "unknown";
	info->sensitive = cls != CKO_PUBLIC_KEY && a[3].ulValueLen == 1 && sensitive;
	info->extractable = cls != CKO_PUBLIC_KEY && a[4].ulValueLen == 1 && extractable;
}

int token_list_keys(Token *t, TokenKeyInfo **ret, size_t *ret_n)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	_cleanup_free_ TokenKeyInfo *infos = NULL;
	_cleanup_free_ CK_OBJECT_HANDLE *found = NULL;
	size_t total = 0;
	int r;

	infos = calloc(LIST_MAX, sizeof(*infos));
	found = calloc(LIST_MAX, sizeof(*found));
	if (!infos || !found)
		return -ENOMEM;
	for (size_t c = 0; c < ELEMENTSOF(classes); c++) {
		CK_OBJECT_CLASS cls = classes[c];
		CK_ATTRIBUTE tmpl = { CKA_CLASS, &cls, sizeof(cls) };
		CK_ULONG n = 0;

		r = token_find_objects(t, &tmpl, 1, found, LIST_MAX - total, &n);
		if (r < 0)
			return r;
		for (CK_ULONG i = 0; i < n; i++)
			describe_object(t, found[i], cls, &infos[total++]);
	}
	*ret = TAKE_PTR(infos);
	*ret_n = total;
	return 0;
}
