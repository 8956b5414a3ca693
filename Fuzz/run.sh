#!/usr/bin/env bash
# Fuzz the frame + CAR + record decoders with libFuzzer and AddressSanitizer.
#   bash Fuzz/run.sh [SECONDS]      (default 600)
# Builds into .build-fuzz (ENABLE_FUZZ=1 adds the target), seeds the corpus with synthetic relay
# messages, and runs on one core. Crashing inputs are written to Fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
swift build --product synthetic-capture
mkdir -p Fuzz/corpus Fuzz/artifacts
if [ -z "$(ls -A Fuzz/corpus)" ]; then .build/debug/synthetic-capture --count 300 --seed 7 --split Fuzz/corpus; fi
ENABLE_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product frame-fuzzer \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
exec .build-fuzz/release/frame-fuzzer Fuzz/corpus -max_total_time="$seconds" -max_len=65536 \
  -artifact_prefix=Fuzz/artifacts/ -print_final_stats=1
