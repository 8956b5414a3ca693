#!/usr/bin/env bash
# labeler replay over a 200k-event capture with the corpus generator's reference rules plus 1,000
# extra keywords, storing signed labels: events/s and peak RSS, and the Python decoders on the same
# file when shared/corpus is beside the project. Without a capture argument it makes one with
# shared/corpus/gen_firehose.py (--events 200000 --seed 2), or falls back to synthetic-capture.
#   scripts/bench-replay.sh [CAPTURE] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-}
events=200000
if [ "${2:-}" = "--smoke" ] || [ "$capture" = "--smoke" ]; then
  [ "$capture" = "--smoke" ] && capture=""
  events=3000
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$events" = 3000 ]; then
  swift build --product labeler >/dev/null
  swift build --product synthetic-capture >/dev/null
  bin=.build/debug
else
  swift build -c release --scratch-path .build-release --product labeler >/dev/null
  swift build -c release --scratch-path .build-release --product synthetic-capture >/dev/null
  bin=.build-release/release
fi
corpus=../shared/corpus
if [ -z "$capture" ]; then
  capture=$work/firehose.bin
  if [ -f "$corpus/gen_firehose.py" ]; then
    python3 "$corpus/gen_firehose.py" --events "$events" --seed 2 --out "$capture" --truth /dev/null >/dev/null
  else
    "$bin/synthetic-capture" --count "$events" --plant-rate 20 --out "$capture" >/dev/null
  fi
fi

# The reference rules, and 1,000 extra keywords (made-up words: they cost a scan, rarely a hit).
mkdir -p "$work/rules/lists"
cp Tests/Fixtures/ground-truth/rules/reference.yaml "$work/rules/"
python3 - "$work/rules/lists/extra-keywords.txt" <<'PY'
import random, sys
random.seed(7)
letters = "abcdefghijklmnopqrstuvwxyz"
words = sorted({"".join(random.choice(letters) for _ in range(random.randint(5, 11))) for _ in range(1100)})[:1000]
open(sys.argv[1], "w").write("\n".join(words) + "\n")
PY
cat > "$work/rules/extra.yaml" <<'YAML'
rules:
  - id: extra-keywords
    on: [post, profile]
    match: {keywords: {file: lists/extra-keywords.txt}, in: [text, alt, display_name, description]}
    label: extra-keyword
YAML
"$bin/labeler" rules check "$work/rules"

echo "replay of $(basename "$capture") ($events events), reference rules + 1,000 keywords, labels stored:"
/usr/bin/time -f "peak RSS %M KB" "$bin/labeler" replay "$capture" --rules "$work/rules" --db "$work/labels.sqlite" \
  --key "$work/signing.key" --json
if [ "$events" != 3000 ] && [ -f "$corpus/bench_decoders.py" ] && python3 -c "import libipld, atproto" 2>/dev/null; then
  python3 "$corpus/bench_decoders.py" "$capture"
fi
