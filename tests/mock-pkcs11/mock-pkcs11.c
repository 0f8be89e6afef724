/* SPDX-License-Identifier: MIT */
/*
 * A mock PKCS#11 module for tests: one slot, one token labelled "hsmjwt"
 * (PIN 1234) holding an HMAC key "zumo" (the key spec/zumo-v2.md derives
 * from "shared-vector-1 master key") and a P-256 key pair "es". It does
 * what hsmjwtd calls and nothing more; other entries of the function list
 * are NULL. Faults come from mock-faults.h's spec.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/sha.h>

#include "mock-crypto.h"
#include "mock-faults.h"

#define MOCK_SLOT 1
#define MOCK_PIN "1234"
#define SESSIONS_MAX 64
#define OBJECTS_MAX 64
#define ATTRS_MAX 14
#define FOUND_MAX OBJECTS_MAX
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

typedef struct Op {
	bool active;
	CK_MECHANISM_TYPE mech;
	CK_OBJECT_HANDLE key;
} Op;

typedef struct Session {
	bool open;
	Op sign, verify;
	bool finding;
	CK_OBJECT_HANDLE found[FOUND_MAX];
	CK_ULONG n_found, next_found;
} Session;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialized, logged_in;
static Session sessions[SESSIONS_MAX + 1]; /* handle i is sessions[i]; 0 unused */
static Object objects[OBJECTS_MAX];
static CK_OBJECT_HANDLE next_copy = COPY_FIRST_HANDLE;
static uint8_t hmac_key[32];
static MockFaults faults;
static bool faults_loaded;
static struct stat control_st;
static unsigned long sign_calls;

static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

/* ---- faults ---- */

static void faults_load(const char *spec)
{
	(void)mock_faults_parse(spec, &faults);
	sign_calls = 0;
}

/* Under lock: reads the control file again if it changed (a new inode, size or mtime). */
static void faults_refresh(void)
{
	const char *path = getenv("HSMJWT_MOCK_PKCS11_CONTROL");
	char buf[1024];
	struct stat st;
	FILE *f;
	size_t n;

	if (!path)
		return;
	if (stat(path, &st) < 0) {
		if (control_st.st_ino)
			faults_load(NULL);
		control_st = (struct stat){};
		return;
	}
	if (st.st_ino == control_st.st_ino && st.st_size == control_st.st_size &&
	    st.st_mtim.tv_sec == control_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == control_st.st_mtim.tv_nsec)
		return;
	control_st = st;
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	faults_load(buf);
}

static bool mechanism_omitted(CK_MECHANISM_TYPE m)
{
	for (unsigned i = 0; i < faults.n_omit; i++)
		if (faults.omit[i] == m)
			return true;
	return false;
}

/* ---- objects ---- */

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

static int objects_create(void)
{
	static const char master[] = "shared-vector-1 master key" "JWTSig";
	uint8_t point[67] = { 0x04, 65 };
	Object *o;

	if (mock_crypto_init() < 0 || mock_ec_point(point + 2) < 0)
		return -1;
	SHA256((const uint8_t *)master, strlen(master), hmac_key);
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

/* ---- entry points ---- */

#define ENTER()                                   \
	pthread_mutex_lock(&lock);                \
	if (!initialized) {                       \
		pthread_mutex_unlock(&lock);      \
		return CKR_CRYPTOKI_NOT_INITIALIZED; \
	}                                         \
	faults_refresh()

#define LEAVE(rv)                         \
	do {                              \
		pthread_mutex_unlock(&lock); \
		return (rv);              \
	} while (0)

static Session *session_get(CK_SESSION_HANDLE h)
{
	return h >= 1 && h <= SESSIONS_MAX && sessions[h].open ? &sessions[h] : NULL;
}

static CK_RV mock_initialize(CK_VOID_PTR args)
{
	(void)args;
	pthread_mutex_lock(&lock);
	if (initialized)
		LEAVE(CKR_CRYPTOKI_ALREADY_INITIALIZED);
	/* The spec and its counts outlive C_Finalize, as a device's troubles do. */
	if (!faults_loaded) {
		faults_load(getenv("HSMJWT_MOCK_PKCS11"));
		faults_loaded = true;
	}
	faults_refresh();
	if (faults.init_rv)
		LEAVE(faults.init_rv);
	if (objects_create() < 0)
		LEAVE(CKR_GENERAL_ERROR);
	memset(sessions, 0, sizeof(sessions));
	logged_in = false;
	initialized = true;
	LEAVE(CKR_OK);
}

static CK_RV mock_finalize(CK_VOID_PTR reserved)
{
	(void)reserved;
	ENTER();
	initialized = false;
	LEAVE(CKR_OK);
}

static void pad(CK_UTF8CHAR *dst, size_t n, const char *s)
{
	memset(dst, ' ', n);
	memcpy(dst, s, strlen(s));
}

static CK_RV mock_get_info(CK_INFO_PTR info)
{
	ENTER();
	*info = (CK_INFO){ .cryptokiVersion = { 2, 40 }, .libraryVersion = { 1, 0 } };
	pad(info->manufacturerID, sizeof(info->manufacturerID), "hsmjwt tests");
	pad(info->libraryDescription, sizeof(info->libraryDescription), "hsmjwt mock module");
	LEAVE(CKR_OK);
}

static CK_RV mock_get_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n)
{
	(void)present;
	ENTER();
	if (list && *n < 1) {
		*n = 1;
		LEAVE(CKR_BUFFER_TOO_SMALL);
	}
	if (list)
		list[0] = MOCK_SLOT;
	*n = 1;
	LEAVE(CKR_OK);
}

static CK_RV mock_get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	ENTER();
	if (slot != MOCK_SLOT)
		LEAVE(CKR_SLOT_ID_INVALID);
	*info = (CK_SLOT_INFO){ .flags = CKF_TOKEN_PRESENT };
	pad(info->slotDescription, sizeof(info->slotDescription), "mock slot");
	pad(info->manufacturerID, sizeof(info->manufacturerID), "hsmjwt tests");
	LEAVE(CKR_OK);
}

static CK_RV mock_get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	ENTER();
	if (slot != MOCK_SLOT)
		LEAVE(CKR_SLOT_ID_INVALID);
	*info = (CK_TOKEN_INFO){ .flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED |
					 CKF_USER_PIN_INITIALIZED,
				 .ulMaxSessionCount = SESSIONS_MAX };
	pad(info->label, sizeof(info->label), "hsmjwt");
	pad(info->manufacturerID, sizeof(info->manufacturerID), "hsmjwt mock");
	pad(info->model, sizeof(info->model), "mock");
	pad(info->serialNumber, sizeof(info->serialNumber), "0000");
	LEAVE(CKR_OK);
}

static const struct {
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_INFO info;
} mechanisms[] = {
	{ CKM_SHA256_HMAC, { 32, 32, CKF_SIGN | CKF_VERIFY } },
	{ CKM_ECDSA, { 256, 256, CKF_SIGN | CKF_VERIFY | CKF_EC_F_P } },
};

static CK_RV mock_get_mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n)
{
	CK_ULONG k = 0;

	ENTER();
	if (slot != MOCK_SLOT)
		LEAVE(CKR_SLOT_ID_INVALID);
	for (size_t i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++) {
		if (mechanism_omitted(mechanisms[i].type))
			continue;
		if (list && k < *n)
			list[k] = mechanisms[i].type;
		k++;
	}
	if (list && k > *n) {
		*n = k;
		LEAVE(CKR_BUFFER_TOO_SMALL);
	}
	*n = k;
	LEAVE(CKR_OK);
}

static CK_RV mock_get_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
				     CK_MECHANISM_INFO_PTR info)
{
	ENTER();
	if (slot != MOCK_SLOT)
		LEAVE(CKR_SLOT_ID_INVALID);
	for (size_t i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++)
		if (mechanisms[i].type == type && !mechanism_omitted(type)) {
			*info = mechanisms[i].info;
			LEAVE(CKR_OK);
		}
	LEAVE(CKR_MECHANISM_INVALID);
}

static CK_RV mock_open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
			       CK_SESSION_HANDLE_PTR ret)
{
	(void)app, (void)notify;
	ENTER();
	if (slot != MOCK_SLOT)
		LEAVE(CKR_SLOT_ID_INVALID);
	if (!(flags & CKF_SERIAL_SESSION))
		LEAVE(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	for (CK_SESSION_HANDLE h = 1; h <= SESSIONS_MAX; h++)
		if (!sessions[h].open) {
			sessions[h] = (Session){ .open = true };
			*ret = h;
			LEAVE(CKR_OK);
		}
	LEAVE(CKR_SESSION_COUNT);
}

static CK_RV mock_close_session(CK_SESSION_HANDLE h)
{
	ENTER();
	if (!session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	sessions[h].open = false;
	/* Session objects go with the session that made them. */
	for (size_t i = 0; i < OBJECTS_MAX; i++)
		if (objects[i].handle && objects[i].owner == h)
			objects[i].handle = 0;
	LEAVE(CKR_OK);
}

static CK_RV mock_get_session_info(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	ENTER();
	if (!session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	*info = (CK_SESSION_INFO){ .slotID = MOCK_SLOT, .flags = CKF_SERIAL_SESSION,
				   .state = logged_in ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION };
	LEAVE(CKR_OK);
}

static CK_RV mock_login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG n)
{
	ENTER();
	if (!session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (faults.login_rv)
		LEAVE(faults.login_rv);
	if (user != CKU_USER)
		LEAVE(CKR_USER_TYPE_INVALID);
	if (logged_in)
		LEAVE(CKR_USER_ALREADY_LOGGED_IN);
	if (n != strlen(MOCK_PIN) || memcmp(pin, MOCK_PIN, n) != 0)
		LEAVE(CKR_PIN_INCORRECT);
	logged_in = true;
	LEAVE(CKR_OK);
}

static CK_RV mock_logout(CK_SESSION_HANDLE h)
{
	ENTER();
	if (!session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	logged_in = false;
	LEAVE(CKR_OK);
}

static CK_RV mock_get_attribute_value(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh,
				      CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	CK_RV rv = CKR_OK;
	Object *o;

	ENTER();
	if (!session_get(h))
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
		}
	}
	LEAVE(rv);
}

static CK_RV mock_find_objects_init(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	Session *s;

	ENTER();
	s = session_get(h);
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

static CK_RV mock_find_objects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR ret, CK_ULONG max,
			       CK_ULONG_PTR ret_n)
{
	Session *s;

	ENTER();
	s = session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (!s->finding)
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	*ret_n = 0;
	while (*ret_n < max && s->next_found < s->n_found)
		ret[(*ret_n)++] = s->found[s->next_found++];
	LEAVE(CKR_OK);
}

static CK_RV mock_find_objects_final(CK_SESSION_HANDLE h)
{
	Session *s;

	ENTER();
	s = session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	s->finding = false;
	LEAVE(CKR_OK);
}

static CK_RV mock_copy_object(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl,
			      CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
	Object *from, *to = NULL;

	ENTER();
	if (!session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (faults.copy_rv)
		LEAVE(faults.copy_rv);
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

static CK_RV mock_destroy_object(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
	Object *o;

	ENTER();
	if (!session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	o = object_get(oh);
	if (!o)
		LEAVE(CKR_OBJECT_HANDLE_INVALID);
	o->handle = 0;
	LEAVE(CKR_OK);
}

/* Under lock: may key do what with mech? */
static CK_RV op_init(Op *op, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key, CK_ATTRIBUTE_TYPE use)
{
	Object *o = object_get(key);
	const Attr *a;
	CK_KEY_TYPE want;

	if (op->active)
		return CKR_OPERATION_ACTIVE;
	if (!o)
		return CKR_KEY_HANDLE_INVALID;
	if (mechanism_omitted(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	if (mech->mechanism == CKM_SHA256_HMAC)
		want = CKK_GENERIC_SECRET;
	else if (mech->mechanism == CKM_ECDSA)
		want = CKK_EC;
	else
		return CKR_MECHANISM_INVALID;
	if (o->key_type != want)
		return CKR_KEY_TYPE_INCONSISTENT;
	a = attr_get(o, use);
	if (!a || a->bytes[0] != CK_TRUE)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!logged_in)
		return CKR_USER_NOT_LOGGED_IN;
	*op = (Op){ .active = true, .mech = mech->mechanism, .key = key };
	return CKR_OK;
}

static CK_RV mock_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	Session *s;

	ENTER();
	s = session_get(h);
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

static CK_RV mock_sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
		       CK_ULONG_PTR sig_len)
{
	CK_ULONG want;
	unsigned long call;
	Session *s;
	Op op;

	ENTER();
	s = session_get(h);
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
	call = ++sign_calls;
	if (faults.sign_sleep_ms && mock_when_matches(&faults.sign_sleep_when, call)) {
		unsigned long ms = faults.sign_sleep_ms;

		/* A stuck token holds its caller, not the other sessions. */
		pthread_mutex_unlock(&lock);
		sleep_ms(ms);
		pthread_mutex_lock(&lock);
	}
	if (faults.sign_rv && mock_when_matches(&faults.sign_rv_when, call))
		LEAVE(faults.sign_rv);
	if (!initialized || !object_get(op.key))
		LEAVE(CKR_KEY_HANDLE_INVALID);
	if (op.mech == CKM_ECDSA) {
		if (mock_ecdsa_sign(data, n, sig) < 0)
			LEAVE(CKR_FUNCTION_FAILED);
	} else {
		mock_hmac_sha256(hmac_key, data, n, sig);
	}
	*sig_len = want;
	LEAVE(CKR_OK);
}

static CK_RV mock_verify_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	Session *s;

	ENTER();
	s = session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	LEAVE(op_init(&s->verify, mech, key, CKA_VERIFY));
}

static CK_RV mock_verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
			 CK_ULONG sig_len)
{
	Session *s;
	bool ok;

	ENTER();
	s = session_get(h);
	if (!s)
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (!s->verify.active)
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	s->verify.active = false;
	if (s->verify.mech == CKM_ECDSA)
		ok = mock_ecdsa_verify(data, n, sig, sig_len);
	else
		ok = mock_hmac_verify(hmac_key, data, n, sig, sig_len);
	if (ok)
		LEAVE(CKR_OK);
	LEAVE(faults.verify_bad_mac ? faults.verify_bad_mac : CKR_SIGNATURE_INVALID);
}

static CK_FUNCTION_LIST functions = {
	.version = { 2, 40 },
	.C_Initialize = mock_initialize,
	.C_Finalize = mock_finalize,
	.C_GetInfo = mock_get_info,
	.C_GetSlotList = mock_get_slot_list,
	.C_GetSlotInfo = mock_get_slot_info,
	.C_GetTokenInfo = mock_get_token_info,
	.C_GetMechanismList = mock_get_mechanism_list,
	.C_GetMechanismInfo = mock_get_mechanism_info,
	.C_OpenSession = mock_open_session,
	.C_CloseSession = mock_close_session,
	.C_GetSessionInfo = mock_get_session_info,
	.C_Login = mock_login,
	.C_Logout = mock_logout,
	.C_CopyObject = mock_copy_object,
	.C_DestroyObject = mock_destroy_object,
	.C_GetAttributeValue = mock_get_attribute_value,
	.C_FindObjectsInit = mock_find_objects_init,
	.C_FindObjects = mock_find_objects,
	.C_FindObjectsFinal = mock_find_objects_final,
	.C_SignInit = mock_sign_init,
	.C_Sign = mock_sign,
	.C_VerifyInit = mock_verify_init,
	.C_Verify = mock_verify,
};

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	if (!ret)
		return CKR_ARGUMENTS_BAD;
	*ret = &functions;
	return CKR_OK;
}
