#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver,
# installed here when missing) driven by Selenium (PyPI, in a venv under .build/) through
# scripts/dashboard_test.py, against `labeler run` (debug build) fed by a local relay. Screenshots
# go to .build/dashboard-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
for p in chromium chromium-driver python3 python3-venv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
venv=.build/dashboard-test-venv
if ! "$venv/bin/python" -c "import selenium, websockets" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q selenium websockets
fi
swift build --product labeler >/dev/null
swift build --product synthetic-capture >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Enough planted content for the starter rules to label a few posts every second, for a minute.
.build/debug/synthetic-capture --count 6000 --seed 11 --plant-rate 100 --out "$work/c.bin" >/dev/null
rm -rf .build/dashboard-screenshots
"$venv/bin/python" scripts/dashboard_test.py --labeler .build/debug/labeler --capture "$work/c.bin" --rules rules \
  --work "$work" --screenshots .build/dashboard-screenshots
