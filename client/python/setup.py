# SPDX-License-Identifier: MIT
"""The metadata is in pyproject.toml; this only generates hsmjwt/hsmjwt_pb2.py
from the wire contract with protoc (Debian: protobuf-compiler) while building,
so the generated code is never edited nor checked in."""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# In the source tree the contract is proto/hsmjwt.proto at the top; an sdist carries a copy.
CANDIDATES = [os.path.join(HERE, "..", "..", "proto"), os.path.join(HERE, "proto")]


class BuildWithProtoc(build_py):
    def run(self):
        super().run()
        proto_dir = next((d for d in CANDIDATES if os.path.exists(os.path.join(d, "hsmjwt.proto"))),
                         None)
        if proto_dir is None:
            raise SystemExit("hsmjwt.proto not found (looked in ../../proto and ./proto)")
        protoc = os.environ.get("PROTOC") or shutil.which("protoc")
        if not protoc:
            raise SystemExit("protoc not found: install protobuf-compiler")
        out = os.path.join(self.build_lib, "hsmjwt")
        os.makedirs(out, exist_ok=True)
        subprocess.run([protoc, f"--proto_path={proto_dir}", f"--python_out={out}",
                        os.path.join(proto_dir, "hsmjwt.proto")], check=True)


setup(cmdclass={"build_py": BuildWithProtoc})
