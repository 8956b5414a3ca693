#!/usr/bin/env bash
# Live ingest benchmark (scripts/bench_live.py): `labeler run` against a relay served at 500, 2 000
# and 20 000 events/s, with the starter rules, labels stored and one subscriber; CPU µs per event,
# peak RSS and event→label latency, and the Python peer's CPU per event in the same run when
# shared/corpus is beside the project. `--smoke` runs one short low rate (for CI).
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
venv=.build/bench-venv
if ! "$venv/bin/python" -c "import websockets, libipld, atproto" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q websockets libipld atproto
fi
if [ $smoke = 1 ]; then
  swift build --product labeler >/dev/null
  swift build --product synthetic-capture >/dev/null
  bin=.build/debug
else
  swift build -c release --product labeler --scratch-path .build-release >/dev/null
  swift build -c release --product synthetic-capture --scratch-path .build-release >/dev/null
  bin=.build-release/release
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
peer=()
if [ -f ../shared/corpus/live_consumer.py ]; then peer=(--peer ../shared/corpus/live_consumer.py); fi
if [ $smoke = 1 ]; then
  "$bin/synthetic-capture" --count 3000 --seed 5 --plant-rate 200 --out "$work/c.bin" >/dev/null
  "$venv/bin/python" scripts/bench_live.py --labeler "$bin/labeler" --capture "$work/c.bin" --rules rules \
    --rates 200 --seconds 4 --warmup 1 "$@"
else
  # 500 000 messages: 20 000/s for the 15 s window, the warm-up and the start. The shared corpus's
  # generator when it is beside the project (the figures in BENCHMARKS.md), else our own.
  if [ -f ../shared/corpus/gen_firehose.py ]; then
    python3 ../shared/corpus/gen_firehose.py --events 500000 --seed 1 --out "$work/c.bin" --truth /dev/null --no-info >/dev/null
  else
    "$bin/synthetic-capture" --count 500000 --seed 5 --plant-rate 20 --out "$work/c.bin" >/dev/null
  fi
  "$venv/bin/python" scripts/bench_live.py --labeler "$bin/labeler" --capture "$work/c.bin" --rules rules \
    --rates "${RATES:-500,2000,20000}" --seconds "${SECONDS_PER_RATE:-15}" "${peer[@]}" "$@"
fi
