/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * hsmjwt-bench: what a token costs through hsmjwtd, next to the token's own
 * limit and the alternative a team would deploy instead. One job per file:
 *   hsmjwt-bench.c   options, the list of cells, the order they run in
 *   bench-softhsm.c  the throwaway SoftHSM token, its keys, the daemon config
 *   bench-p11.c      a minimal PKCS#11 client (load, login, find key, sign)
 *   bench-raw.c      in-process C_Sign loops: the raw limit
 *   bench-remote.c   forked clients signing through p11-kit remote
 *   bench-daemon.c   hsmjwtd under systemd-socket-activate: start, memory, activation
 *   bench-load.c     the single-threaded epoll client driving hsmjwtd
 *   bench-proc.c     CPU and memory of other processes, from /proc
 *   bench-stats.c    clocks and the latency histogram
 *   bench-device.c   write() + fdatasync() of a record on the audit file's file system
 *   bench-report.c   the table, the ratios and --json
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- bench-stats.c: clocks and latency ---- */

uint64_t now_ns(void);
void sleep_ns(uint64_t ns);
/* CPU seconds this process used (all threads), user + system. */
double self_cpu_seconds(void);

/*
 * Log-linear histogram of nanosecond latencies: exact below 128 ns, then 64
 * buckets per power of two (error under 1.6 %). Fixed size, so forked
 * clients keep one in shared memory and the parent adds them up.
 */
#define HIST_BUCKETS (128 + 40 * 64)
typedef struct Histogram {
	uint64_t count;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
} Histogram;

void hist_add(Histogram *h, uint64_t ns);
void hist_merge(Histogram *into, const Histogram *from);
/* The value below which fraction q (0..1) of the samples lie, in ns. */
uint64_t hist_quantile(const Histogram *h, double q);

/* ---- algorithms ---- */

typedef enum AlgId {
	ALG_ID_HS256,
	ALG_ID_ES256,
	ALG_ID_RS256,
	_ALG_ID_MAX,
} AlgId;

typedef struct BenchAlg {
	AlgId id;
	const char *name;      /* JOSE name: "HS256" */
	unsigned long mech;    /* CK_MECHANISM_TYPE for C_SignInit */
	bool prehash;	       /* SHA-256 on the host first (SoftHSM has no CKM_ECDSA_SHA256) */
	bool asymmetric;       /* a key pair's private half, else a secret key */
	const char *label;     /* its key on the bench token: CKA_LABEL and [key NAME] */
	/* NULL when this algorithm can be measured; else why not, for the table. */
	const char *missing;
	/* NULL when hsmjwtd can sign it; else why not. */
	const char *daemon_missing;
} BenchAlg;

extern const BenchAlg bench_algs[_ALG_ID_MAX];
/* --algs: the algorithms this run measures (default: all). */
extern bool bench_alg_selected[_ALG_ID_MAX];

/* ---- results ---- */

typedef enum Group {
	GROUP_RAW,
	GROUP_RAW_INFO, /* measured for the lead, not part of the raw limit */
	GROUP_REMOTE,
	GROUP_DAEMON,
} Group;

#define MAX_PASSES 9

/* What a cell's clients ask for. */
typedef enum Op {
	OP_SIGN,
	OP_VERIFY,
} Op;

typedef struct Cell {
	Group group;
	AlgId alg;
	char what[64];	  /* "session copy, 2 threads", "16 conns, depth 32" */
	unsigned clients; /* threads, processes or connections: for equal-count ratios */
	unsigned depth;	  /* requests in flight per connection (hsmjwtd) */
	Op op;
	char audit_sync[8]; /* hsmjwtd cells: its [audit] sync; "": the daemon's default */
	bool preallocate;   /* hsmjwtd cells: with [audit] preallocate = yes */
	bool ran;
	char missing[96]; /* why it did not run */
	uint64_t tokens;
	uint64_t errors;
	double seconds;
	Histogram lat;
	double server_cpu; /* seconds: the signing process, p11-kit server tree, or hsmjwtd */
	double client_cpu; /* seconds used by the clients (this process or the forked ones) */
	long peak_rss_kib; /* server side; -1: not measured */
	unsigned n_passes; /* --repeat: tokens/s of each pass; the table shows the median */
	double pass_rate[MAX_PASSES];
} Cell;

typedef struct Memory {
	bool ran;
	long idle_kib;	      /* VmRSS after start and the first token */
	long idle_anon_kib;   /* ... of it anonymous (heap, stacks, relocated library data) */
	long idle_file_kib;   /* ... of it file-backed (mostly library code and constants) */
	long idle_pss_kib;    /* PSS then: depends on what else maps the same libraries */
	unsigned idle_conns;
	long conns_kib;	      /* VmRSS with idle_conns connections that never sent a byte */
	long conns_used_kib;  /* ... after each of them got one token */
	unsigned activation_runs;
	double activation_ms[16]; /* in the order measured */
} Memory;

/*
 * The device's own limit: a record-sized write() + fdatasync() on the file
 * system of the audit file, appending (the file grows: the size is metadata
 * too) and into a preallocated, zero-filled region (data only); and the
 * same with pwritev2(RWF_DSYNC), one system call instead of two; and an
 * append into blocks fallocate(FALLOC_FL_KEEP_SIZE) reserved beyond the end
 * (the file's size still changes, readers never see the reservation).
 */
typedef enum DeviceMode {
	DEVICE_APPEND,
	DEVICE_PREALLOCATED,
	DEVICE_APPEND_DSYNC,
	DEVICE_PREALLOCATED_DSYNC,
	DEVICE_APPEND_FALLOCATED, /* appended into fallocate(FALLOC_FL_KEEP_SIZE) blocks */
	_DEVICE_MAX,
} DeviceMode;

typedef struct Device {
	bool ran;
	Histogram lat[_DEVICE_MAX];
} Device;

extern const char *const device_mode_names[_DEVICE_MAX];

typedef struct Run {
	unsigned n_cells;
	Cell cells[160];
	Memory mem;
	Device dev;
	double duration, warmup;
	unsigned passes;
	char token_info[96]; /* "SoftHSM v2 2.6" */
	char module[256];
} Run;

Cell *run_new_cell(Run *run, Group g, AlgId alg, unsigned clients, unsigned depth,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* tokens/s: the median over passes, or this one pass. */
double cell_rate(const Cell *c);

typedef struct BenchEnv BenchEnv;
/* True (and c->missing says why) when alg cannot be measured here, or by hsmjwtd with daemon. */
bool cell_unavailable(Cell *c, const BenchEnv *env, const BenchAlg *alg, bool daemon);

/* ---- bench-softhsm.c ---- */

typedef struct BenchEnv {
	char dir[64];
	char softhsm_conf[128];
	char pin_file[128];
	char config[128];	/* hsmjwtd.conf */
	char socket[128];
	char daemon_log[128];
	const char *module;	/* libsofthsm2.so */
	const char *hsmjwtd;
	const char *hsmjwtctl;
	const char *pin;
	const char *token_label;
	const char *sessions;	/* [token] sessions for hsmjwtd; NULL: its default */
	const char *audit_sync; /* [audit] sync of the daemon started next; NULL: its default */
	const char *audit_syncs; /* --audit-sync: a comma-separated list, or NULL */
	bool preallocate;	 /* [audit] preallocate = yes */
	bool keep;
	bool has_key[_ALG_ID_MAX];
} BenchEnv;

/* Temp dir, softhsm2.conf, token initialised with softhsm2-util, keys, hsmjwtd.conf. */
int env_setup(BenchEnv *env);
void env_cleanup(BenchEnv *env);
/* Rewrites hsmjwtd.conf (after env->audit_sync changed). */
int env_write_daemon_config(const BenchEnv *env);
/* Runs argv with SOFTHSM2_CONF set, stdin from the string in_data (may be NULL). */
int env_run(const BenchEnv *env, char *const argv[], const char *in_data);

/* ---- bench-p11.c ---- */

typedef struct P11 P11;
typedef struct P11Session P11Session;

/* Loads module_path unmanaged and calls C_Initialize with CKF_OS_LOCKING_OK. */
int p11_open(const char *module_path, const char *token_label, P11 **ret);
void p11_close(P11 *p);
const char *p11_token_info(const P11 *p);
/* A session, logged in (the login is per application: once is enough). */
int p11_session_open(P11 *p, const char *pin, P11Session **ret);
void p11_session_close(P11Session *s);
/* Finds alg's key on the token; with session_copy, signs with a C_CopyObject copy (CKA_TOKEN=FALSE). */
int p11_session_use_key(P11Session *s, const BenchAlg *alg, bool session_copy);
/* C_SignInit + C_Sign (after SHA-256 on the host for prehash algorithms). */
int p11_sign(P11Session *s, const void *data, size_t n, uint8_t *sig, size_t *sig_len);
/*
 * After p11_session_use_key(): verifies with the same secret key, or with the
 * public key of the same label, copied to the session too with session_copy.
 */
int p11_session_use_verify_key(P11Session *s, bool session_copy);
/* C_VerifyInit + C_Verify; 0 when the signature is valid. */
int p11_verify(P11Session *s, const void *data, size_t n, const uint8_t *sig, size_t sig_len);

/* ---- bench-jwt.c ---- */

#define JWT_MAX 2048
/* Builds header.payload per the v2 profile with exp = now + 3600, as an app would. */
size_t jwt_signing_input(const BenchAlg *alg, char out[static JWT_MAX]);
/* Appends "." base64url(sig); returns the new length, 0 when it does not fit. */
size_t jwt_append_signature(char out[static JWT_MAX], size_t len, const uint8_t *sig, size_t n);
/* What a verifying app does per JWT before C_Verify: split at the last '.', decode. */
int jwt_split_signature(const char *jwt, size_t len, size_t *ret_input_len, uint8_t *sig,
			size_t sig_size, size_t *ret_sig_len);

/* ---- bench-raw.c, bench-remote.c ---- */

typedef struct Phases {
	uint64_t warmup_ns, duration_ns;
} Phases;

int raw_run(Run *run, const BenchEnv *env, const Phases *ph, bool quick);
/* ---- bench-device.c ---- */
int device_run(Run *run, const BenchEnv *env, const Phases *ph);
int remote_run(Run *run, const BenchEnv *env, const Phases *ph, bool quick,
	       const char *client_module);

/* ---- bench-proc.c ---- */

/* utime + stime of pid, and with tree of all its descendants, in seconds. */
double proc_cpu_seconds(pid_t pid, bool tree);
/*
 * A kB field of /proc/PID/status ("VmRSS", "VmHWM", "RssAnon"...) of pid,
 * summed over its descendants with tree; -1 on failure.
 */
long proc_status_kib(pid_t pid, const char *field, bool tree);
/* pid's proportional set size (shared pages split among their users), in KiB; -1 on failure. */
long proc_pss_kib(pid_t pid);
/* Resets pid's VmHWM to its current RSS (clear_refs 5), so the next peak is per cell. */
int proc_reset_peak(pid_t pid);
/* Sockets pid has open, -1 on failure. */
int proc_count_sockets(pid_t pid);
/* Raises RLIMIT_NOFILE's soft limit to the hard one: 1000 idle connections need it. */
void raise_fd_limit(void);

/* ---- bench-load.c ---- */

typedef struct LoadSpec {
	const char *socket;
	const char *key; /* [key NAME] to sign with; NULL: the daemon's default */
	const char *verify_jwt; /* NULL: sign requests; else verify requests of this JWT */
	unsigned conns;
	unsigned depth;
	Phases phases;
	pid_t daemon_pid; /* 0: do not sample the daemon */
} LoadSpec;

/* Drives conns connections with depth requests in flight each; fills the cell. */
int load_run(const LoadSpec *spec, Cell *cell);
/* A connected socket (fd) or -errno. */
int load_connect(const char *socket);
/* One sign request on fd; 0 once a token came back. */
int load_sign_on(int fd, uint64_t timeout_ns);
/* The same on a new connection. */
int load_one_token(const char *socket, uint64_t timeout_ns);
/* A JWT from [key NAME] (for the verify cells), NUL-terminated in out. */
int load_fetch_jwt(const char *socket, const char *key, char out[static JWT_MAX]);

/* ---- bench-daemon.c ---- */

typedef struct Daemon {
	pid_t pid; /* systemd-socket-activate, which becomes hsmjwtd on first connect */
} Daemon;

int daemon_start(const BenchEnv *env, Daemon *ret);
int daemon_stop(Daemon *d);
/* With startup: socket activation and memory first (once per run, not per pass). */
int daemon_run(Run *run, const BenchEnv *env, const Phases *ph, bool quick, bool startup);
/* Only socket activation to first token and memory, as daemon_run does first. */
int daemon_startup_run(Run *run, const BenchEnv *env, bool quick);

/* ---- bench-report.c ---- */

void report_table(const Run *run);
void report_json(const Run *run);
