// SPDX-License-Identifier: MIT
// Generates src/gen/hsmjwt_pb.ts from the wire contract with protoc (Debian:
// protobuf-compiler) and protoc-gen-es, and copies the contract into proto/
// for the package. The generated code is never edited nor checked in.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const candidates = [join(root, "..", "..", "proto"), join(root, "proto")];
const protoDir = candidates.find((d) => existsSync(join(d, "hsmjwt.proto")));
if (!protoDir) {
  console.error("hsmjwt.proto not found (looked in ../../proto and ./proto)");
  process.exit(1);
}
mkdirSync(join(root, "proto"), { recursive: true });
if (protoDir !== join(root, "proto")) {
  copyFileSync(join(protoDir, "hsmjwt.proto"), join(root, "proto", "hsmjwt.proto"));
}
mkdirSync(join(root, "src", "gen"), { recursive: true });
const plugin = join(root, "node_modules", ".bin", "protoc-gen-es");
try {
  execFileSync(process.env.PROTOC || "protoc", [
    `--plugin=protoc-gen-es=${plugin}`,
    `--es_out=${join(root, "src", "gen")}`,
    "--es_opt=target=ts,import_extension=js",
    `--proto_path=${join(root, "proto")}`,
    join(root, "proto", "hsmjwt.proto"),
  ], { stdio: "inherit" });
} catch (e) {
  console.error(`protoc failed (${e.message}): install protobuf-compiler, then npm ci`);
  process.exit(1);
}
