#!/usr/bin/env bash
# Checks deploy/labeler.service: the settings docs/operations.md promises are there, and, when
# systemd-analyze is installed (Debian's `systemd` package), that systemd accepts every line
# (`verify`: an unknown key or a bad value is an error) and rates its exposure at most 2.0 of 10
# (`security`). systemd-analyze runs against a scratch root holding the system's own units and
# stand-ins for the binaries the unit names, so it needs neither a running systemd nor an
# installed labeler. Exit status 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
unit=deploy/labeler.service
status=0

for setting in DynamicUser=yes StateDirectory=labeler ProtectSystem=strict NoNewPrivileges=yes RestartSec= \
  Restart=on-failure 'ExecStart=/usr/local/bin/labeler run' 'ExecReload=/bin/kill -HUP $MAINPID' \
  TimeoutStopSec= WorkingDirectory=%S/labeler ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= \
  SystemCallFilter=@system-service RestrictAddressFamilies= WantedBy=multi-user.target; do
  if ! grep -qF -- "$setting" "$unit"; then echo "$unit: missing $setting"; status=1; fi
done

if ! command -v systemd-analyze >/dev/null; then
  echo "check-unit: systemd-analyze not installed (apt-get install systemd); only the settings were checked"
  exit $status
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/bin" "$root/etc/systemd/system" "$root/lib/systemd"
cp -r /lib/systemd/system "$root/lib/systemd/"
cp /bin/true "$root/usr/local/bin/labeler"
cp /bin/true "$root/bin/kill"
cp "$unit" "$root/etc/systemd/system/labeler.service"
if ! out=$(systemd-analyze verify --root="$root" --man=no --recursive-errors=no labeler.service 2>&1) || [ -n "$out" ]; then
  echo "$unit: systemd-analyze verify:"; echo "$out" | sed "s|$root/etc/systemd/system/labeler.service|$unit|"; status=1
fi
if ! out=$(systemd-analyze security --offline=yes --root="$root" --threshold=20 labeler.service 2>&1); then
  echo "$unit: systemd-analyze security: $(echo "$out" | tail -1)"; status=1
fi
[ $status -eq 0 ] && echo "check-unit: $unit verified ($(echo "$out" | tail -1 | sed 's/^→ //'))"
exit $status
