#!/usr/bin/env bash
# What source.verify costs (BENCHMARKS.md, "Verifying commits"): verify-bench on one core (decode
# alone, then decode + verify, keys cached), the Python peer on the same commits and core
# (scripts/bench_verify_peer.py: libipld and the atproto SDK, in .build/bench-venv), then
# `labeler replay` over the same signed commits with --verify off, log and enforce, DIDs served by
# scripts/plc_directory.py. SKIP_BUILD=1 uses the release binaries already in .build-release.
# Usage: bash scripts/bench-verify.sh [COMMITS] [ACCOUNTS]
set -euo pipefail
cd "$(dirname "$0")/.."
commits=${1:-50000}
accounts=${2:-2000}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  swift build -c release --product verify-bench --scratch-path .build-release
  swift build -c release --product labeler --scratch-path .build-release
fi
venv=.build/bench-venv
if ! "$venv/bin/python" -c "import libipld, atproto" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q libipld atproto
fi
tmp=$(mktemp -d)
plc=""
trap 'rm -rf "$tmp"; [ -n "$plc" ] && kill "$plc" 2>/dev/null || true' EXIT

taskset -c 0 .build-release/release/verify-bench --commits "$commits" --accounts "$accounts" --rounds 3 \
  --out "$tmp/signed.bin" --keys "$tmp/keys.json"
echo "Python peer (libipld + atproto SDK), one core, same commits:"
taskset -c 0 "$venv/bin/python" scripts/bench_verify_peer.py "$tmp/signed.bin" "$tmp/keys.json" --rounds 3

python3 scripts/plc_directory.py "$tmp/keys.json" > "$tmp/plc.out" &
plc=$!
until grep -q LISTENING "$tmp/plc.out" 2>/dev/null; do sleep 0.1; done
port=$(awk '/LISTENING/ {print $2}' "$tmp/plc.out")
for mode in off log enforce; do
  echo "replay --verify $mode (both cores, the rules in rules/, no database):"
  LABELER_IDENTITY_PLC_URL="http://127.0.0.1:$port" \
    .build-release/release/labeler replay "$tmp/signed.bin" --verify "$mode" --json
done
