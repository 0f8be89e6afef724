/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
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
	struct client_pipeline *pipeline; /* created by the first pipelining call */
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

/* Maps a daemon Error to HSMJWT_E_* and keeps its message on c. */
int client_error_from_response(hsmjwt_client *c, const Hsmjwt__V1__Error *e);
/* Unpacks a response with the wiping allocator (free with client_response_free). */
Hsmjwt__V1__Response *client_response_unpack(const uint8_t *p, size_t n);
/* Connects c again (after the daemon closed): 0 or -errno. */
int client_reconnect(hsmjwt_client *c);

/* A sign request as protobuf, pointing into r: keep r alive while m is used. */
typedef struct ClientSignMessage {
	Hsmjwt__V1__Request req;
	Hsmjwt__V1__SignRequest sign;
	Hsmjwt__V1__Credentials cred;
} ClientSignMessage;
void client_sign_message_init(ClientSignMessage *m, const hsmjwt_sign_request *r);
/* A SignResponse becomes a token; any other body is HSMJWT_E_PROTOCOL. */
int client_token_from_response(const Hsmjwt__V1__Response *resp, hsmjwt_token **ret);

/*
 * libhsmjwt-pipeline.c: while pipelining is on and its connection is up,
 * client_call() hands requests to it so responses for other ids are kept.
 * client_pipeline_call() returns the response whatever its body.
 */
bool client_pipeline_active(const hsmjwt_client *c);
int client_pipeline_call(hsmjwt_client *c, Hsmjwt__V1__Request *req, Hsmjwt__V1__Response **ret);
void client_pipeline_free(struct client_pipeline *p);

/* strdup that wipes the old value it replaces. */
int client_replace_string(char **field, const char *value);
void client_free_string(char *s);
