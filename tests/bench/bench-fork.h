/* SPDX-License-Identifier: MIT */
#pragma once

#include "bench.h"

/*
 * Signing in separate processes, each loading a PKCS#11 module itself,
 * logging in and signing in a loop: the p11-kit remote clients, and the
 * two-process raw figure. Results travel back through shared memory.
 */
typedef struct ForkSpec {
	const char *module; /* libsofthsm2.so, or p11-kit-client.so */
	const BenchEnv *env;
	const BenchAlg *alg;
	unsigned procs;
	bool session_copy;
	bool full_jwt;	  /* build header.payload and append the signature per token */
	bool verify;	  /* instead: split and decode one JWT, C_Verify its signature, per token */
	Phases phases;
	pid_t server_pid; /* p11-kit server: its tree's CPU and memory are the server side */
} ForkSpec;

/* Fills tokens, latencies, seconds, client_cpu (the children) and the server figures. */
int fork_run(const ForkSpec *spec, Cell *cell);
