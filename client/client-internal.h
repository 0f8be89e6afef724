/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "hsmjwt.h"
#include "hsmjwt.pb-c.h"

#define CLIENT_DEFAULT_TIMEOUT_MS 30000u
#define CLIENT_ERROR_MESSAGE_MAX 512

struct hsmjwt_client {
	int fd;
	char *socket_path; /* to reconnect after the daemon closed the connection */
	uint64_t next_id;
	uint32_t timeout_ms;
	uint32_t retry_after_ms;
	char error_message[CLIENT_ERROR_MESSAGE_MAX];
	int has_error_message;
	char error_rule[64];
};

/* A sign request's extra claims, in the wire's own form (libhsmjwt-claims.c). */
typedef struct ClientClaims {
	Hsmjwt__V1__ExtraClaim **items;
	size_t n;
} ClientClaims;

ClientClaims *client_sign_request_claims(hsmjwt_sign_request *r);
void client_claims_done(ClientClaims *c);

/*
 * Sends req (its id is assigned here) and waits for the response with that
 * id. An Error response becomes an HSMJWT_E_* return; the message is kept
 * on the client. On success *ret is the decoded response, for the caller to
 * free with client_response_free().
 */
int client_call(hsmjwt_client *c, Hsmjwt__V1__Request *req, Hsmjwt__V1__Response **ret);
void client_response_free(Hsmjwt__V1__Response *resp);

/* strdup that wipes the old value it replaces. */
int client_replace_string(char **field, const char *value);
void client_free_string(char *s);
