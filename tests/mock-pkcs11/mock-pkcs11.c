/* SPDX-License-Identifier: MIT */
/*
 * A mock PKCS#11 module for tests: one slot, one token labelled "hsmjwt"
 * (PIN 1234) holding an HMAC key "zumo" (the key spec/zumo-v2.md derives
 * from "shared-vector-1 master key") and a P-256 key pair "es". It does
 * what hsmjwtd calls and nothing more; other entries of the function list
 * are NULL. Faults come from mock-faults.h's spec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mock-crypto.h"
#include "mock-internal.h"

pthread_mutex_t mock_lock = PTHREAD_MUTEX_INITIALIZER;
bool mock_initialized, mock_logged_in;
Session mock_sessions[SESSIONS_MAX + 1];
MockFaults mock_faults;
unsigned long mock_sign_calls;
static bool faults_loaded;
static struct stat control_st;

/* ---- faults ---- */

static void faults_load(const char *spec)
{
	(void)mock_faults_parse(spec, &mock_faults);
	mock_sign_calls = 0;
}

/* Under lock: reads the control file again if it changed (a new inode, size or mtime). */
void mock_faults_refresh(void)
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

bool mock_mechanism_omitted(CK_MECHANISM_TYPE m)
{
	for (unsigned i = 0; i < mock_faults.n_omit; i++)
		if (mock_faults.omit[i] == m)
			return true;
	return false;
}

/* ---- entry points ---- */

Session *mock_session_get(CK_SESSION_HANDLE h)
{
	return h >= 1 && h <= SESSIONS_MAX && mock_sessions[h].open ? &mock_sessions[h] : NULL;
}

/* A module's own thread (tpm2-pkcs11's TCTI runs GLib's D-Bus threads): it only waits. */
static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* The init string a module like NSS softokn wants in pReserved; the mock wants this one. */
#define MOCK_INIT_STRING "hsmjwt-mock-init"

static CK_RV mock_initialize(CK_VOID_PTR args)
{
	CK_C_INITIALIZE_ARGS *a = args;

	pthread_mutex_lock(&mock_lock);
	if (mock_initialized)
		LEAVE(CKR_CRYPTOKI_ALREADY_INITIALIZED);
	/* The spec and its counts outlive C_Finalize, as a device's troubles do. */
	if (!faults_loaded) {
		faults_load(getenv("HSMJWT_MOCK_PKCS11"));
		faults_loaded = true;
	}
	mock_faults_refresh();
	if (mock_faults.init_rv)
		LEAVE(mock_faults.init_rv);
	if (mock_faults.init_string &&
	    (!a || !a->pReserved || strcmp(a->pReserved, MOCK_INIT_STRING) != 0))
		LEAVE(CKR_ARGUMENTS_BAD); /* as NSS softokn without its configdir */
	if (mock_faults.init_thread) {
		pthread_t th;

		if (pthread_create(&th, NULL, idle_thread, NULL) != 0)
			LEAVE(CKR_HOST_MEMORY);
		pthread_detach(th);
	}
	if (mock_objects_create() < 0)
		LEAVE(CKR_GENERAL_ERROR);
	memset(mock_sessions, 0, sizeof(mock_sessions));
	mock_logged_in = false;
	mock_initialized = true;
	LEAVE(CKR_OK);
}

static CK_RV mock_finalize(CK_VOID_PTR reserved)
{
	(void)reserved;
	ENTER();
	mock_initialized = false;
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
		if (mock_mechanism_omitted(mechanisms[i].type))
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
		if (mechanisms[i].type == type && !mock_mechanism_omitted(type)) {
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
		if (!mock_sessions[h].open) {
			mock_sessions[h] = (Session){ .open = true };
			*ret = h;
			LEAVE(CKR_OK);
		}
	LEAVE(CKR_SESSION_COUNT);
}

static CK_RV mock_close_session(CK_SESSION_HANDLE h)
{
	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	mock_sessions[h].open = false;
	mock_objects_drop_session(h);
	LEAVE(CKR_OK);
}

static CK_RV mock_get_session_info(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	*info = (CK_SESSION_INFO){ .slotID = MOCK_SLOT, .flags = CKF_SERIAL_SESSION,
				   .state = mock_logged_in ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION };
	LEAVE(CKR_OK);
}

static CK_RV mock_login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG n)
{
	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	if (mock_faults.login_rv)
		LEAVE(mock_faults.login_rv);
	if (user != CKU_USER)
		LEAVE(CKR_USER_TYPE_INVALID);
	if (mock_logged_in)
		LEAVE(CKR_USER_ALREADY_LOGGED_IN);
	if (n != strlen(MOCK_PIN) || memcmp(pin, MOCK_PIN, n) != 0)
		LEAVE(CKR_PIN_INCORRECT);
	mock_logged_in = true;
	LEAVE(CKR_OK);
}

static CK_RV mock_logout(CK_SESSION_HANDLE h)
{
	ENTER();
	if (!mock_session_get(h))
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	mock_logged_in = false;
	LEAVE(CKR_OK);
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
