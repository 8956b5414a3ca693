#!/usr/bin/env bash
# Formats Sources, Tests and Benchmarks in place with the project's .swift-format (swift-format,
# part of the toolchain: `swift format`). Check the result with scripts/lint.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
${SWIFT:-swift} format format --in-place --recursive --parallel --configuration .swift-format Sources Tests Benchmarks
