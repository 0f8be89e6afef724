# SPDX-License-Identifier: MIT
"""A stand-in for kube-apiserver's side of the external JWT signer: the
ExternalJWTSigner messages built here from their description (on Debian's
python3-protobuf, with the real google.protobuf.Timestamp), gRPC calls on
python3-grpcio over the adapter's Unix socket, and every check kube-apiserver
applies to the answers. Nothing here comes from the adapter's own code."""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import harness as h

try:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2  # noqa: F401
    from google.protobuf import message_factory
except ImportError:
    h.skip("python3-grpcio or python3-protobuf is not installed")

if os.geteuid() != 0:
    h.skip("the adapter runs as another user (setpriv): needs root")
if not shutil.which("protoc"):
    h.skip("protoc (protobuf-compiler) is not installed")

KUBE_SIGNER = os.path.join(h.BUILD, "kube-signer/hsmjwt-kube-signer")
ISSUER = "https://kubernetes.default.svc.cluster.local"
NOBODY = 65534
KUBE_ALGS = ("RS256", "ES256", "ES384", "ES512")


def _messages():
    """SignJWTRequest ... MetadataResponse as in staging/src/k8s.io/externaljwt/apis/v1."""
    T = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="kube_externaljwt_test.proto", package="v1",
                                           syntax="proto3",
                                           dependency=["google/protobuf/timestamp.proto"])

    def msg(name, *fields):
        m = f.message_type.add(name=name)
        for num, fname, ftype, label, tname in fields:
            fd = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                fd.type_name = tname

    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    msg("SignJWTRequest", (1, "claims", T.TYPE_STRING, opt, None))
    msg("SignJWTResponse", (1, "header", T.TYPE_STRING, opt, None),
        (2, "signature", T.TYPE_STRING, opt, None))
    msg("FetchKeysRequest")
    msg("Key", (1, "key_id", T.TYPE_STRING, opt, None), (2, "key", T.TYPE_BYTES, opt, None),
        (3, "exclude_from_oidc_discovery", T.TYPE_BOOL, opt, None))
    msg("FetchKeysResponse", (1, "keys", T.TYPE_MESSAGE, rep, ".v1.Key"),
        (2, "data_timestamp", T.TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
        (3, "refresh_hint_seconds", T.TYPE_INT64, opt, None))
    msg("MetadataRequest")
    msg("MetadataResponse", (1, "max_token_expiration_seconds", T.TYPE_INT64, opt, None))
    pool = descriptor_pool.Default()
    pool.Add(f)
    factory = message_factory.MessageFactory(pool)
    out = {}
    for name in ("SignJWTRequest", "SignJWTResponse", "FetchKeysRequest", "FetchKeysResponse",
                 "MetadataRequest", "MetadataResponse"):
        out[name] = factory.GetPrototype(pool.FindMessageTypeByName("v1." + name))
    return out


M = _messages()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def kube_claims(lifetime=3600, now=None, **override):
    """A payload as kube-apiserver builds it for a bound service-account token."""
    now = int(time.time()) if now is None else now
    claims = {"aud": [ISSUER], "exp": now + lifetime, "iat": now, "iss": ISSUER,
              "jti": "5c8a2d3e-7f1b-4d6a-9e2f-0a1b2c3d4e5f",
              "kubernetes.io": {"namespace": "default",
                                "serviceaccount": {"name": "default",
                                                   "uid": "0f9b7c1e-1111-2222-3333-444455556666"}},
              "nbf": now, "sub": "system:serviceaccount:default:default"}
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


class Signer:
    """One hsmjwt-kube-signer, as the unit would run it, here as `nobody`."""

    def __init__(self, env, name, key=None, extra="", uid=NOBODY):
        self.env = env
        self.dir = os.path.join(env.dir, "kube-" + name)
        os.mkdir(self.dir)
        os.chown(self.dir, uid, uid)
        self.sock = os.path.join(self.dir, "signer.sock")
        self.conf = os.path.join(self.dir, "kube-signer.conf")
        self.log = os.path.join(self.dir, "signer.log")
        with open(self.conf, "w") as f:
            f.write(f"[kube-signer]\nhsmjwtd-socket = {env.sock}\nlisten = {self.sock}\n"
                    + (f"key = {key}\n" if key else "") + "allow-uids = 0\n" + extra)
        os.chmod(self.conf, 0o644)
        binary = os.path.join(env.dir, "other-users", "hsmjwt-kube-signer")
        if not os.path.exists(binary):
            shutil.copy2(KUBE_SIGNER, binary)
            os.chmod(binary, 0o755)
        cmd = ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
               *h.DAEMON_WRAPPER, binary, "--config", self.conf]
        self.proc = subprocess.Popen(cmd, env=self._env_for_other_user(),
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        # The file appears at bind(), a moment before listen(): wait for a connection.
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("hsmjwt-kube-signer did not come up:\n" + self.read_log())
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.02)
            finally:
                probe.close()
        os.chmod(self.dir, 0o755)

    def _env_for_other_user(self):
        """LeakSanitizer's suppressions may sit in a checkout only root can enter
        (a mktemp -d clone is 0700): the adapter, as another user, gets a copy."""
        e = dict(self.env.env)
        opts = e.get("LSAN_OPTIONS", "")
        parts = opts.split(":")
        for i, part in enumerate(parts):
            if part.startswith("suppressions="):
                copy = os.path.join(self.env.dir, "other-users", "lsan.supp")
                if not os.path.exists(copy):
                    shutil.copy(part.split("=", 1)[1], copy)
                    os.chmod(copy, 0o644)
                parts[i] = "suppressions=" + copy
        if opts:
            e["LSAN_OPTIONS"] = ":".join(parts)
        return e

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def channel(self):
        # kube-apiserver: plaintext HTTP/2 to the socket, :authority localhost.
        return grpc.insecure_channel("unix:" + self.sock,
                                     options=[("grpc.default_authority", "localhost")])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("hsmjwt-kube-signer ignored SIGTERM")
        return self.proc.returncode


def unary_call(channel, version, method):
    """A callable for one unary method of ExternalJWTSigner under /v1 or /v1alpha1, as
    grpcio builds it from the messages compiled out of kube-signer/externaljwt.proto."""
    req = {"Sign": "SignJWTRequest", "FetchKeys": "FetchKeysRequest",
           "Metadata": "MetadataRequest"}[method]
    resp = req.replace("Request", "Response")
    return channel.unary_unary(f"/{version}.ExternalJWTSigner/{method}",
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=M[resp].FromString)


# ---- kube-apiserver's checks (pkg/serviceaccount/externaljwt/plugin) ----

def check_metadata(resp):
    assert resp.max_token_expiration_seconds >= 600, resp


def check_keys(resp):
    """Every check that makes kube-apiserver refuse a FetchKeys answer; returns {kid: key}."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    assert len(resp.keys) > 0, "no keys"
    assert resp.refresh_hint_seconds > 0, resp.refresh_hint_seconds
    assert resp.HasField("data_timestamp"), "data_timestamp unset"
    ts = resp.data_timestamp
    assert 0 < ts.seconds < 253402300800 and 0 <= ts.nanos < 10**9, ts  # a valid Timestamp
    keys = {}
    for k in resp.keys:
        assert k.key_id and len(k.key_id.encode()) <= 1024, k.key_id
        assert k.key, "empty key"
        keys[k.key_id] = (load_der_public_key(k.key), k.exclude_from_oidc_discovery, k.key)
    return keys


def check_sign(resp, claims_b64, keys):
    """kube-apiserver's checks on SignJWTResponse; returns the assembled JWT."""
    header = json.loads(unb64url(resp.header))
    assert set(header) == {"alg", "kid", "typ"}, header
    assert header["typ"] == "JWT", header
    assert header["kid"] and len(header["kid"].encode()) <= 1024, header
    assert header["alg"] in KUBE_ALGS, header
    assert header["kid"] in keys and not keys[header["kid"]][1], (header, list(keys))
    assert "=" not in resp.header and "=" not in resp.signature
    return f"{resp.header}.{claims_b64}.{resp.signature}"


def verify_jwt(token, keys):
    """python3-jwcrypto on the DER key alone; returns the claims."""
    from cryptography.hazmat.primitives import serialization
    from jwcrypto import jwk, jws
    header = json.loads(unb64url(token.split(".")[0]))
    pem = keys[header["kid"]][0].public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    k = jwk.JWK.from_pem(pem)
    s = jws.JWS()
    s.deserialize(token)
    s.verify(k, alg=header["alg"])
    return json.loads(s.payload)


def hsmjwt_pb2():
    """The daemon's own messages, generated now from proto/hsmjwt.proto (protoc)."""
    import importlib
    import sys
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"hsmjwt-pb2-{os.getpid()}")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../proto")
    subprocess.run(["protoc", f"--proto_path={src}", f"--python_out={out}", "hsmjwt.proto"],
                   check=True)
    sys.path.insert(0, out)
    mod = importlib.import_module("hsmjwt_pb2")
    shutil.rmtree(out, ignore_errors=True)
    return mod
