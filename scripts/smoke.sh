#!/usr/bin/env bash
# Smoke checks of the built command-line tool (debug build): a short run of each user-facing path,
# including the decode benchmark on a small synthetic capture. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
check() {
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name"; cat "$tmp/out"; fi
}

check "decode benchmark smoke" "$bin/decode-bench" --synthetic 2000 --rounds 1
echo "smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
