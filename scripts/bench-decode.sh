#!/usr/bin/env bash
# Decode benchmark on one core: ours over a capture, and the Python decoders on the same file when
# shared/corpus is beside the project. Without a capture argument it makes a 100k-event one with
# shared/corpus/gen_firehose.py, or falls back to 100k synthetic messages of our own generator.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product decode-bench --scratch-path .build-release
capture=${1:-}
corpus=../shared/corpus
if [ -z "$capture" ] && [ -f "$corpus/gen_firehose.py" ]; then
  capture=$(mktemp -d)/firehose.bin
  python3 "$corpus/gen_firehose.py" --events 100000 --seed 1 --out "$capture" --truth /dev/null >/dev/null
fi
if [ -n "$capture" ]; then
  taskset -c 0 .build-release/release/decode-bench --capture "$capture" --rounds 3
  if [ -f "$corpus/bench_decoders.py" ] && python3 -c "import libipld, atproto" 2>/dev/null; then
    taskset -c 0 python3 "$corpus/bench_decoders.py" "$capture"
  else
    echo "(peer figures: pip install -r $corpus/requirements.txt, then rerun)"
  fi
else
  taskset -c 0 .build-release/release/decode-bench --synthetic 100000 --rounds 3
fi
