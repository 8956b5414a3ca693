#!/usr/bin/env bash
# What source.verify costs (BENCHMARKS.md, "Verifying commits"): verify-bench on one core (decode
# alone, then decode + verify, keys cached), then `labeler replay` over the same signed commits
# with --verify off, log and enforce, DIDs served by scripts/plc_directory.py.
# Usage: bash scripts/bench-verify.sh [COMMITS] [ACCOUNTS]
set -euo pipefail
cd "$(dirname "$0")/.."
commits=${1:-50000}
accounts=${2:-2000}
swift build -c release --product verify-bench --scratch-path .build-release
swift build -c release --product labeler --scratch-path .build-release
tmp=$(mktemp -d)
plc=""
trap 'rm -rf "$tmp"; [ -n "$plc" ] && kill "$plc" 2>/dev/null || true' EXIT

taskset -c 0 .build-release/release/verify-bench --commits "$commits" --accounts "$accounts" --rounds 3 \
  --out "$tmp/signed.bin" --keys "$tmp/keys.json"

python3 scripts/plc_directory.py "$tmp/keys.json" > "$tmp/plc.out" &
plc=$!
until grep -q LISTENING "$tmp/plc.out" 2>/dev/null; do sleep 0.1; done
port=$(awk '/LISTENING/ {print $2}' "$tmp/plc.out")
for mode in off log enforce; do
  echo "replay --verify $mode (both cores, no rules, no database):"
  LABELER_IDENTITY_PLC_URL="http://127.0.0.1:$port" \
    .build-release/release/labeler replay "$tmp/signed.bin" --verify "$mode" --json
done
