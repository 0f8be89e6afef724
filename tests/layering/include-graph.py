#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints the include graph between the component folders (the daemon's and
client/'s) and fails (exit 1) on a cycle between folders, an include that
points up the layer order of docs/ARCHITECTURE.md, or a private header of
libhsmjwt included from outside client/lib.

Usage: include-graph.py [SOURCE_ROOT] [--dot]

A header belongs to the folder that holds it; an edge A -> B means a file in
A includes a header of B. Headers generated at build time (hsmjwt.pb-c.h,
hsmjwt-build.h) belong to proto/ and the build root.
"""
import os
import re
import sys

# Lowest first. A folder may include its own headers and those of folders
# before it, never one after it (docs/ARCHITECTURE.md, "Layers").
LAYERS = [
    "common", "proto", "client/lib", "client/cli",
    "daemon/util", "daemon/jwt", "daemon/token", "daemon/keys", "daemon/policy",
    "daemon/audit", "daemon/config", "daemon/service", "daemon/server",
    "daemon", "daemon/ctl",
]
# Folders whose headers are private but for these: other folders see only
# what an installed program would see.
PUBLIC = {"client/lib": {"hsmjwt.h"}}
GENERATED = {"hsmjwt.pb-c.h": "proto", "hsmjwt-build.h": "common"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(root, path):
    rel = os.path.relpath(os.path.dirname(path), root)
    return rel.replace(os.sep, "/")


def scan(root):
    owner = dict(GENERATED)
    files = []
    for layer in LAYERS:
        d = os.path.join(root, layer)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not os.path.isfile(p) or not name.endswith((".c", ".h")):
                continue
            files.append(p)
            if name.endswith(".h"):
                if name in owner and owner[name] != layer:
                    sys.exit(f"header {name} is in both {owner[name]} and {layer}: names must be unique")
                owner[name] = layer
    edges = {}
    problems = []
    for p in files:
        src = folder_of(root, p)
        with open(p, encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            dst = owner.get(os.path.basename(inc))
            if dst is None:
                problems.append(f"{os.path.relpath(p, root)}: includes unknown header \"{inc}\"")
                continue
            if dst == src:
                continue
            if dst in PUBLIC and os.path.basename(inc) not in PUBLIC[dst]:
                problems.append(f"{os.path.relpath(p, root)}: includes \"{inc}\", private to {dst}")
            edges.setdefault((src, dst), []).append(f"{os.path.relpath(p, root)} -> {inc}")
    return edges, problems


def find_cycle(nodes, edges):
    adj = {n: sorted({d for (s, d) in edges if s == n}) for n in nodes}
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in adj[n]:
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not state.get(m):
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in nodes:
        if not state.get(n):
            c = visit(n)
            if c:
                return c
    return None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), "../.."))
    edges, problems = scan(root)
    rank = {l: i for i, l in enumerate(LAYERS)}
    if "--dot" in sys.argv:
        print("digraph layers {")
        for (s, d) in sorted(edges):
            print(f'  "{s}" -> "{d}";')
        print("}")
    else:
        for layer in LAYERS:
            outs = sorted({d for (s, d) in edges if s == layer}, key=lambda d: rank[d])
            print(f"{layer:16} -> {', '.join(outs) if outs else '(nothing)'}")
    for (s, d), why in sorted(edges.items()):
        if rank[d] > rank[s]:
            problems.append(f"{s} includes {d}, a layer above it: " + "; ".join(why))
    cycle = find_cycle(LAYERS, edges)
    if cycle:
        problems.append("cycle between folders: " + " -> ".join(cycle))
    for p in problems:
        print("error: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
