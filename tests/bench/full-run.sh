#!/bin/sh
# SPDX-License-Identifier: MIT
# The full table of docs/PERFORMANCE.md from one run, on a quiet machine:
#   tests/bench/full-run.sh [BUILD_DIR [OUT_DIR [MORE BENCH OPTIONS]]]
# (then again with --preallocate, for [audit] preallocate = yes)
# writes OUT_DIR/bench-<UTC time>.txt (the table, as pasted into
# PERFORMANCE.md) and OUT_DIR/bench-<UTC time>.json (the same run's figures).
# Every cell, 3 interleaved passes of 3 s, the hsmjwtd cells once with
# sync = always and once with sync = batch: about 25 minutes on the 2-core VM.
# Nothing else should run meanwhile; the load average before and after is
# printed so the record can say.
set -eu
build=${1:-build}
out=${2:-.}
shift $(($# < 2 ? $# : 2))
stamp=$(date -u +%Y%m%dT%H%M%SZ)
bench="$build/tests/bench/hsmjwt-bench"
[ -x "$bench" ] || { echo "no $bench: meson setup $build && ninja -C $build" >&2; exit 1; }
mkdir -p "$out"
echo "load before: $(cat /proc/loadavg)" >&2
"$bench" --repeat 3 --audit-sync always,batch --json-out "$out/bench-$stamp.json" \
	"$@" >"$out/bench-$stamp.txt"
echo "load after: $(cat /proc/loadavg)" >&2
echo "$out/bench-$stamp.txt $out/bench-$stamp.json"
