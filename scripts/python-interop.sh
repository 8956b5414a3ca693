#!/usr/bin/env bash
# The label server against an independent client, the Python atproto SDK (PyPI): labels made by a
# replay are served by `labeler run`, streamed and queried by scripts/python-interop.py, and every
# signature is verified. Needs python3 (skipped, saying so, without it) and PyPI for the SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then echo "python interop: skipped (no python3)"; exit 0; fi
venv=.build/python-interop-venv
if ! "$venv/bin/python" -c "import atproto, libipld" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q atproto libipld
fi
swift build --product labeler >/dev/null
swift build --product synthetic-capture >/dev/null
bin=$PWD/.build/debug
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

# Labels to serve: the reference rules over a capture with planted content, and one negation.
"$bin/synthetic-capture" --count 4000 --seed 9 --plant-rate 60 --out "$work/c.bin"
"$bin/labeler" replay "$work/c.bin" --rules Tests/Fixtures/ground-truth/rules --db "$work/labels.sqlite" \
  --key "$work/signing.key" --did did:plc:interoplabeler --json >/dev/null 2>&1
first=$("$bin/labeler" labels list --db "$work/labels.sqlite" --limit 1 --json | head -1)
uri=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["uri"])' "$first")
val=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["val"])' "$first")
cid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cid"])' "$first")
"$bin/labeler" label negate "$uri" "$val" --cid "$cid" --db "$work/labels.sqlite" --key "$work/signing.key" \
  --did did:plc:interoplabeler --reason interop >/dev/null
stats=$("$bin/labeler" labels stats --db "$work/labels.sqlite" --json)
rows=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["labels"]+s["negated"])' "$stats")
active=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["labels"])' "$stats")
didkey=$("$bin/labeler" keys show --key "$work/signing.key")

# Serve them; the relay is unreachable on purpose (the service keeps retrying it).
LABELER_SOURCE_URL=ws://127.0.0.1:9 LABELER_STORE_PATH="$work/labels.sqlite" LABELER_SIGNING_KEY="$work/signing.key" \
  LABELER_DID=did:plc:interoplabeler LABELER_RULES_PATH=Tests/Fixtures/ground-truth/rules LABELER_SERVER_PORT=0 \
  "$bin/labeler" run >"$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "serving labels" "$work/run.log" && break; sleep 0.1; done
port=$(grep -o 'port=[0-9]*' "$work/run.log" | head -1 | cut -d= -f2)
[ -n "$port" ] || { echo "labeler run did not start:"; cat "$work/run.log"; exit 1; }
"$venv/bin/python" scripts/python-interop.py "$port" "$didkey" "$rows" "$active"
kill -TERM $pid
wait $pid
pid=""
