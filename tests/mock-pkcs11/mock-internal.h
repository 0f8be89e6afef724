/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the mock module's files: one lock guards all of its state. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mock-faults.h"

#define MOCK_SLOT 1
#define MOCK_PIN "1234"
#define SESSIONS_MAX 64
#define OBJECTS_MAX 64
#define ATTRS_MAX 14
#define FOUND_MAX OBJECTS_MAX

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

extern pthread_mutex_t mock_lock;
extern bool mock_initialized, mock_logged_in;
extern Session mock_sessions[SESSIONS_MAX + 1]; /* handle i is mock_sessions[i]; 0 unused */
extern MockFaults mock_faults;
extern unsigned long mock_sign_calls;

/* Takes the lock, refuses before C_Initialize, reads the fault spec again if it changed. */
#define ENTER()                                           \
	pthread_mutex_lock(&mock_lock);                   \
	if (!mock_initialized) {                          \
		pthread_mutex_unlock(&mock_lock);         \
		return CKR_CRYPTOKI_NOT_INITIALIZED;      \
	}                                                 \
	mock_faults_refresh()

#define LEAVE(rv)                                 \
	do {                                      \
		pthread_mutex_unlock(&mock_lock); \
		return (rv);                      \
	} while (0)

void mock_faults_refresh(void);
bool mock_mechanism_omitted(CK_MECHANISM_TYPE m);
Session *mock_session_get(CK_SESSION_HANDLE h);

/* mock-objects.c: the token's objects. */
int mock_objects_create(void);
/* The key type of a key object, or -1 when h names none. */
long mock_key_type(CK_OBJECT_HANDLE h);
/* Whether the object's boolean attribute is CK_TRUE. */
bool mock_object_flag(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
/* Session objects go with the session that made them. */
void mock_objects_drop_session(CK_SESSION_HANDLE h);
extern uint8_t mock_hmac_key[32];

CK_RV mock_get_attribute_value(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl,
			       CK_ULONG n);
CK_RV mock_find_objects_init(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
CK_RV mock_find_objects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR ret, CK_ULONG max,
			CK_ULONG_PTR ret_n);
CK_RV mock_find_objects_final(CK_SESSION_HANDLE h);
CK_RV mock_copy_object(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl,
		       CK_ULONG n, CK_OBJECT_HANDLE_PTR ret);
CK_RV mock_destroy_object(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh);

/* mock-sign.c */
CK_RV mock_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV mock_sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
		CK_ULONG_PTR sig_len);
CK_RV mock_verify_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV mock_verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
		  CK_ULONG sig_len);
