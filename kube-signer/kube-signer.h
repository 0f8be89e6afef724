/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * hsmjwt-kube-signer: kube-apiserver's ExternalJWTSigner over gRPC on one
 * side, an ordinary hsmjwtd client on the other. The HTTP/2 and gRPC parsing
 * runs here, never in the process that holds token sessions, so a flaw in it
 * reaches neither the keys nor the audit trail (README, "Kubernetes
 * service-account tokens").
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "hsmjwt.pb-c.h"

#define KS_DEFAULT_CONFIG_NAME "kube-signer.conf"
#define KS_ID_LIST_MAX 64 /* uids or gids in one allow list */

typedef struct KsConfig {
	char *hsmjwtd_socket; /* the daemon's socket */
	char *key;	      /* the [key NAME] to sign with; NULL: the daemon's default */
	char *listen;	      /* without socket activation: a path, or @name (abstract) */
	uid_t allow_uids[KS_ID_LIST_MAX];
	size_t n_allow_uids;
	gid_t allow_gids[KS_ID_LIST_MAX];
	size_t n_allow_gids;
	bool uids_given;
	uint64_t refresh_hint;	  /* seconds, FetchKeysResponse.refresh_hint_seconds */
	uint64_t request_timeout; /* seconds, for calls without grpc-timeout */
	uint64_t handshake_timeout; /* seconds for the client preface and SETTINGS */
	uint64_t idle_timeout;	  /* seconds a connection may sit without a call */
	uint32_t max_connections;
	uint32_t max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS per connection */
	uint32_t max_message; /* bytes of one gRPC message, either way */
} KsConfig;

/* Defaults, then the file (missing is fine only when it is the default path). */
int ks_config_load(const char *path, bool required, KsConfig *ret);
void ks_config_done(KsConfig *c);

/* ---- the connection to hsmjwtd (upstream.c) ---- */

typedef struct Upstream Upstream;

/*
 * A call's outcome: resp is the daemon's answer (freed after the callback
 * returns), or NULL with error < 0 when the daemon could not be reached or
 * went away before answering.
 */
typedef void (*UpstreamDone)(void *userdata, const Hsmjwt__V1__Response *resp, int error);

int upstream_new(sd_event *e, const char *socket_path, uint32_t max_frame, Upstream **ret);
Upstream *upstream_free(Upstream *u);
/* Sends req (its id is set here); done runs later, exactly once, unless cancelled. */
int upstream_call(Upstream *u, Hsmjwt__V1__Request *req, UpstreamDone done, void *userdata,
		  uint64_t *ret_id);
/* The caller lost interest (deadline, stream reset): done runs now with -ECANCELED, not later. */
void upstream_cancel(Upstream *u, uint64_t id);

/* ---- the gRPC server (grpc.c, methods.c) ---- */

typedef struct Server Server;

int server_new(sd_event *e, const KsConfig *config, Upstream *up, int listen_fd, Server **ret);
Server *server_free(Server *s);
/* GOAWAY to every connection, no new ones; done() once the last one has gone. */
void server_shut_down(Server *s, void (*done)(void *userdata), void *userdata);

/* gRPC status codes (grpc/doc/statuscodes.md): the ones this server sends. */
enum {
	GRPC_OK = 0,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
};

/* One unary call as methods.c sees it; grpc.c owns it. */
typedef struct Call Call;

typedef enum Method {
	METHOD_UNKNOWN,
	METHOD_SIGN,
	METHOD_FETCH_KEYS,
	METHOD_METADATA,
} Method;

/* "/v1.ExternalJWTSigner/Sign" and the v1alpha1 twin; METHOD_UNKNOWN otherwise. */
Method method_from_path(const char *path);

/* Starts the method on the request message (its bytes, without gRPC's 5-byte prefix). */
void method_start(Server *s, Call *call, Method m, const uint8_t *msg, size_t n);
/* Answers: a packed reply message, or a status with a generic message (Trailers-Only). */
void call_reply(Call *call, const ProtobufCMessage *reply);
void call_fail(Call *call, int grpc_status, const char *message);
/* For methods.c: the upstream id the call waits on (0: none), so a reset can cancel it. */
void call_set_waiting(Call *call, uint64_t upstream_id);
uint32_t call_stream_id(const Call *call);

/* Shared by methods.c: the adapter's configuration and the daemon. */
const KsConfig *server_config(const Server *s);
Upstream *server_upstream(Server *s);
/* The FetchKeys state: when the key set last changed, by its digest. */
typedef struct KeySetClock {
	uint8_t digest[32];
	bool known;
	int64_t seconds;
	int32_t nanos;
} KeySetClock;
KeySetClock *server_key_clock(Server *s);
