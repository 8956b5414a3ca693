#!/usr/bin/env bash
# createReport against an independent client: scripts/report-client.py makes its own keys and
# service-auth tokens with `cryptography` (PyPI), serves its reporters' DID documents, runs
# `labeler run` with reports enabled and checks the answers and `reports list`. Needs python3
# (skipped, saying so, without it) and PyPI for `cryptography`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then echo "report client: skipped (no python3)"; exit 0; fi
venv=.build/report-client-venv
if ! "$venv/bin/python" -c "import cryptography" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q cryptography
fi
swift build --product labeler >/dev/null
"$venv/bin/python" scripts/report-client.py .build/debug/labeler
