#!/usr/bin/env bash
# Prints the labeler's version, or sets it: `scripts/version.sh 0.2.0`. The version lives in
# Sources/Labeler/VERSION, which the build compiles in (`labeler --version`, `/xrpc/_health`);
# setting it checks the form (X.Y.Z, optionally -suffix) so a typo does not ship.
set -euo pipefail
cd "$(dirname "$0")/.."
file=Sources/Labeler/VERSION
if [ $# -eq 0 ]; then cat "$file"; exit 0; fi
if [ $# -ne 1 ] || ! [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "usage: scripts/version.sh [X.Y.Z[-suffix]]" >&2; exit 64
fi
printf '%s\n' "$1" > "$file"
echo "version $1 (rebuild to compile it in)"
