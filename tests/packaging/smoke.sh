#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke test of the installed packages (hsmjwtd, hsmjwt-client, libhsmjwt1,
# libhsmjwt-dev, python3-hsmjwt): the installed layout, then a fresh SoftHSM
# token, an HS256 key imported and an ES256 key pair generated with hsmjwtctl, hsmjwtd started
# by systemd-socket-activate as the hsmjwt user, tokens asked for by an
# unprivileged member of the hsmjwt group with the CLI, the Python client and
# a program built against libhsmjwt-dev, verified with python3-jwt (ES256 from the JWKS
# alone). Run as root; changes nothing outside a temporary directory.
# Also the autopkgtest of the Debian packages (debian/tests/control).
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "== $*"; }

[ "$(id -u)" -eq 0 ] || fail "run as root (it switches to the hsmjwt user)"
version=$(dpkg-query -W -f='${Version}' hsmjwtd)
version=${version%-*}

step "installed layout"
getent passwd hsmjwt >/dev/null || fail "no hsmjwt user: sysusers did not run"
getent group hsmjwt >/dev/null || fail "no hsmjwt group"
[ "$(stat -c %U:%G:%a /etc/hsmjwt)" = root:hsmjwt:750 ] ||
	fail "/etc/hsmjwt is $(stat -c %U:%G:%a /etc/hsmjwt), expected root:hsmjwt:750 (tmpfiles)"
for p in /usr/sbin/hsmjwtd /usr/sbin/hsmjwtctl /usr/bin/hsmjwt /usr/sbin/hsmjwt-kube-signer; do
	[ "$("$p" --version)" = "$(basename "$p") $version" ] || fail "$p --version: $("$p" --version)"
	"$p" --help | grep -q '^Usage:' || fail "$p --help"
done
for m in man1/hsmjwt.1 man3/libhsmjwt.3 man5/hsmjwtd.conf.5 man8/hsmjwtd.8 man8/hsmjwtctl.8 \
	man8/hsmjwt-kube-signer.8; do
	[ -s "/usr/share/man/$m.gz" ] || fail "missing man page $m"
done
for u in hsmjwtd.socket hsmjwtd.service hsmjwt-kube-signer.socket hsmjwt-kube-signer.service; do
	[ -f "/lib/systemd/system/$u" ] || fail "missing unit $u"
done
[ "$(pkg-config --modversion hsmjwt)" = "$version" ] || fail "pkg-config hsmjwt"
[ -s /usr/share/hsmjwt/hsmjwt.proto ] || fail "missing hsmjwt.proto"
hsmjwt-kube-signer --config /usr/share/doc/hsmjwt-kube-signer/examples/kube-signer.conf.example \
	--check >/dev/null || fail "the example kube-signer.conf does not load"
[ -s /usr/lib/systemd/catalog/hsmjwtd.catalog ] || fail "missing the audit records' journal catalog"
# shellcheck disable=SC2016
bash -c '. /usr/share/bash-completion/bash_completion
	for c in hsmjwt hsmjwtctl; do
		__load_completion "$c" && complete -p "$c" | grep -q -- "-F _hsmjwt" || exit 1
	done' || fail "bash completion does not load"

step "fresh SoftHSM token, key imported with hsmjwtctl"
dir=$(mktemp -d /tmp/hsmjwt-smoke.XXXXXX)
daemon=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
chgrp hsmjwt "$dir"
chmod 0750 "$dir"
mkdir "$dir/tokens"
export SOFTHSM2_CONF=$dir/softhsm2.conf
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" >"$SOFTHSM2_CONF"
chmod 0644 "$SOFTHSM2_CONF"
(
	umask 077
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/pin"
	head -c 24 /dev/urandom | base64 | tr -d '\n' >"$dir/master"
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/so-pin"
)
# softhsm2-util takes PINs only as arguments; these are throwaway ones.
softhsm2-util --init-token --free --label hsmjwt-smoke --pin "$(cat "$dir/pin")" \
	--so-pin "$(cat "$dir/so-pin")" >/dev/null
# The PIN as the shipped service gets it: LoadCredential=pin:... gives the
# daemon $CREDENTIALS_DIRECTORY/pin, owned by its user and readable by it only.
mkdir -m 0500 "$dir/credentials"
install -m 0400 "$dir/pin" "$dir/credentials/pin"
chown -R hsmjwt:hsmjwt "$dir/credentials"
# No module=: the token is found through p11-kit's registered modules, as on
# a production host (softhsm2 registers itself with p11-kit).
cat >"$dir/hsmjwtd.conf" <<CONF
[server]
socket = $dir/hsmjwtd.sock

[token]
uri = pkcs11:token=hsmjwt-smoke

# Where LogsDirectory= would put it under systemd; no journald needed here.
[audit]
file = $dir/log/audit.jsonl
journal = no

[key zumo]
uri = pkcs11:token=hsmjwt-smoke;object=zumo;type=secret-key

[key es1]
uri = pkcs11:token=hsmjwt-smoke;object=es1
alg = ES256
issuer = https://smoke.example

# Members of group hsmjwt (the socket's group) get these tokens; no one else.
[policy members]
group = hsmjwt
keys = *
audiences = Custom api
user-ids = *
verify = yes
CONF
chgrp hsmjwt "$dir/hsmjwtd.conf"
chmod 0640 "$dir/hsmjwtd.conf"
hsmjwtd --config "$dir/hsmjwtd.conf" --check-config
# As the README says for an installed host: root points hsmjwtctl at the PIN.
CREDENTIALS_DIRECTORY=$dir/credentials hsmjwtctl --config "$dir/hsmjwtd.conf" import-zumo zumo <"$dir/master"
CREDENTIALS_DIRECTORY=$dir/credentials hsmjwtctl --config "$dir/hsmjwtd.conf" generate es1
chown -R hsmjwt:hsmjwt "$dir/tokens"
mkdir -m 0750 "$dir/log"
chown hsmjwt:hsmjwt "$dir/log"

step "hsmjwtd by socket activation, as the hsmjwt user"
systemd-socket-activate -l "$dir/hsmjwtd.sock" -E "SOFTHSM2_CONF=$SOFTHSM2_CONF" \
	-E "CREDENTIALS_DIRECTORY=$dir/credentials" \
	setpriv --reuid=hsmjwt --regid=hsmjwt --init-groups --inh-caps=-all \
	/usr/sbin/hsmjwtd --config "$dir/hsmjwtd.conf" 2>"$dir/hsmjwtd.log" &
daemon=$!
# Listening, not just bound (the file appears a moment before listen()).
listening() { awk -v p="$1" '$8 == p && $4 == "00010000" { f = 1 } END { exit !f }' /proc/net/unix; }
for _ in $(seq 200); do listening "$dir/hsmjwtd.sock" && break; sleep 0.05; done
listening "$dir/hsmjwtd.sock" || fail "nothing listens on $dir/hsmjwtd.sock"
# As hsmjwtd.socket does: only the hsmjwt group may connect.
chgrp hsmjwt "$dir/hsmjwtd.sock"
chmod 0660 "$dir/hsmjwtd.sock"

as_client() { setpriv --reuid=nobody --regid=nogroup --groups="$(getent group hsmjwt | cut -d: -f3)" "$@"; }
as_stranger() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

step "hsmjwt sign, as nobody in group hsmjwt"
token=$(as_client hsmjwt --socket "$dir/hsmjwtd.sock" sign --aud Custom --uid Custom:42 --lifetime 600) ||
	fail "hsmjwt sign failed; daemon log:$(echo; cat "$dir/hsmjwtd.log")"

step "python3-hsmjwt: import, and a token and its verification, as nobody in group hsmjwt"
# From a neutral directory, so the installed module is what gets imported.
(cd / && /usr/bin/python3 -c 'import hsmjwt, hsmjwt.hsmjwt_pb2; assert hsmjwt.__file__.startswith("/usr/lib/python3/dist-packages/"), hsmjwt.__file__') ||
	fail "python3-hsmjwt does not import"
py_token=$(cd / && as_client /usr/bin/python3 -c '
import sys, hsmjwt
c = hsmjwt.Client(sys.argv[1])
t = c.sign("Custom", "Custom:py", lifetime=600)
assert c.verify(t, audience="Custom").claims["uid"] == "Custom:py"
print(t)' "$dir/hsmjwtd.sock") || fail "the Python client failed"
[ "$(echo "$py_token" | tr -cd . | wc -c)" = 2 ] || fail "the Python client printed $py_token"

step "hsmjwt sign --key es1 and hsmjwt keys (JWKS)"
token_es=$(as_client hsmjwt --socket "$dir/hsmjwtd.sock" sign --key es1 --aud api --uid alice) ||
	fail "hsmjwt sign --key es1 failed"
as_client hsmjwt --socket "$dir/hsmjwtd.sock" keys >"$dir/jwks.json" || fail "hsmjwt keys failed"

step "hsmjwt verify, and a request the policy does not grant"
as_client hsmjwt --socket "$dir/hsmjwtd.sock" verify --aud Custom "$token" >/dev/null ||
	fail "hsmjwt verify refused the token it was just given"
rc=0
as_client hsmjwt --socket "$dir/hsmjwtd.sock" sign --aud Other --uid Custom:1 2>/dev/null || rc=$?
[ $rc -eq 4 ] || fail "audience Other got exit $rc, expected 4 (permission denied)"

step "the daemon runs as hsmjwt with no capabilities"
status=/proc/$daemon/status
uid=$(id -u hsmjwt)
gid=$(id -g hsmjwt)
grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "$status" || fail "daemon uid: $(grep ^Uid "$status")"
grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "$status" || fail "daemon gid: $(grep ^Gid "$status")"
grep -Eq '^CapEff:\s+0+$' "$status" || fail "daemon capabilities: $(grep ^CapEff "$status")"
grep -q '/usr/sbin/hsmjwtd' "/proc/$daemon/cmdline" || fail "pid $daemon is not hsmjwtd"

step "a user outside the hsmjwt group is refused"
rc=0
as_stranger hsmjwt --socket "$dir/hsmjwtd.sock" sign --aud Custom --uid Custom:1 2>/dev/null || rc=$?
[ $rc -eq 7 ] || fail "stranger got exit $rc, expected 7 (daemon unreachable)"

step "a program built against libhsmjwt-dev"
cat >"$dir/client.c" <<'C'
#include <stdio.h>
#include <hsmjwt.h>

int main(int argc, char *argv[])
{
	hsmjwt_client *c = NULL;
	hsmjwt_sign_request *req = NULL;
	hsmjwt_token *tok = NULL;
	int r;

	if (argc != 2)
		return 2;
	r = hsmjwt_client_connect(argv[1], &c);
	if (r >= 0)
		r = hsmjwt_sign_request_new(&req);
	if (r >= 0)
		r = hsmjwt_sign_request_set_audience(req, "Custom");
	if (r >= 0)
		r = hsmjwt_sign_request_set_user_id(req, "Custom:libhsmjwt");
	if (r >= 0)
		r = hsmjwt_sign(c, req, &tok);
	if (r < 0)
		fprintf(stderr, "libhsmjwt: %s\n", hsmjwt_strerror(r));
	else
		printf("%s\n", hsmjwt_token_get_string(tok));
	hsmjwt_token_free(tok);
	hsmjwt_sign_request_free(req);
	hsmjwt_client_free(c);
	return r < 0;
}
C
# shellcheck disable=SC2046
cc -Wall -Werror -o "$dir/client" "$dir/client.c" $(pkg-config --cflags --libs hsmjwt)
chmod 0755 "$dir/client"
readelf -d "$dir/client" | grep -q 'NEEDED.*libhsmjwt.so.1' || fail "client not linked to libhsmjwt.so.1"
token2=$(as_client "$dir/client" "$dir/hsmjwtd.sock") || fail "libhsmjwt client failed"

step "verify the tokens with python3-jwt and find their audit records"
hsmjwtctl audit verify "$dir/log/audit.jsonl" || fail "the audit trail's chain is broken"
HSMJWT_TOKENS="$token $token2" HSMJWT_TOKEN_ES=$token_es \
	/usr/bin/python3 - "$dir/master" "$dir/log/audit.jsonl" "$dir/jwks.json" "$dir/hsmjwtd.log" <<'PY'
import hashlib, json, os, sys
import jwt
master = open(sys.argv[1], "rb").read().strip()
trail = open(sys.argv[2]).read()
jwks = json.load(open(sys.argv[3]))
log = open(sys.argv[4]).read()


def audited(token):
    fp = hashlib.sha256(token.encode()).hexdigest()
    assert f'"sha256":"{fp}"' in trail, f"no audit record with {fp}"
    assert token not in trail and token not in log, "the token itself is in the trail or log"
    return fp[:16]


key = hashlib.sha256(master + b"JWTSig").digest()  # spec/zumo-v2.md signing key
for token, uid in zip(os.environ["HSMJWT_TOKENS"].split(), ["Custom:42", "Custom:libhsmjwt"]):
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "0"}, header
    claims = jwt.decode(token, key, algorithms=["HS256"], audience="Custom")
    assert claims["uid"] == uid and claims["ver"] == 2, claims
    print(f"verified HS256: uid={uid} exp={claims['exp']} sha256={audited(token)}...")

# ES256: verified with nothing but the public key from `hsmjwt keys`.
token = os.environ["HSMJWT_TOKEN_ES"]
kid = jwt.get_unverified_header(token)["kid"]
jwk = [k for k in jwks["keys"] if k["kid"] == kid]
assert len(jwk) == 1, f"kid {kid} not once in the JWKS {jwks}"
claims = jwt.decode(token, jwt.PyJWK(jwk[0]).key, algorithms=["ES256"], audience="api",
                    issuer="https://smoke.example")
assert claims["sub"] == "alice", claims
print(f"verified ES256 from the JWKS: kid={kid[:16]}... sha256={audited(token)}...")
PY

step "SIGTERM stops the daemon cleanly"
kill -TERM "$daemon"
rc=0
wait "$daemon" || rc=$?
daemon=
[ $rc -eq 0 ] || fail "hsmjwtd exited with $rc; log:$(echo; cat "$dir/hsmjwtd.log")"
echo "smoke test passed"
