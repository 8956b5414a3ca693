#!/usr/bin/env bash
# Checks Sources, Tests and Benchmarks against the project's .swift-format: layout and rules. Every
# finding is an error, so the exit status is non-zero when there is any. scripts/format.sh fixes
# the layout and most rules; the rest are fixed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
${SWIFT:-swift} format lint --strict --recursive --parallel --configuration .swift-format Sources Tests Benchmarks
