#!/usr/bin/env bash
# Installs paramd as systemd services on this host: the binaries, paramctl's
# data scripts and the example configs (cmake --install into /usr/local),
# the units, a `paramd` system user, and example settings in /etc/paramd
# (files already there are kept). Run as root from a built checkout:
#   bash scripts/build.sh && bash deploy/systemd/install.sh [BUILD_DIR]
# Then put the job's YAML at /etc/paramd/job.yaml (checkpoint.dir under
# /var/lib/paramd) and: systemctl enable --now paramd-coordinator \
#   paramd-ps@0 paramd-ps@1 paramd-worker@1 paramd-worker@2 paramd-evaluator
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
units=deploy/systemd
# Binaries already in /usr/local (copied from a build elsewhere) are kept.
if [ -d "$build" ]; then
  cmake --install "$build" --prefix /usr/local --strip >/dev/null
fi
[ -x /usr/local/bin/paramd-ps ] || { echo "no /usr/local/bin/paramd-ps" >&2; exit 1; }
id paramd >/dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/paramd --shell /usr/sbin/nologin paramd
install -m 644 "$units"/*.service "$units"/paramd.target /etc/systemd/system/
install -d -m 755 /etc/paramd
[ -e /etc/paramd/paramd.env ] || install -m 644 "$units/paramd.env" /etc/paramd/
for shard in 0 1; do
  [ -e "/etc/paramd/ps-$shard.env" ] ||
    sed "s/7100/710$shard/g; s/shard 0/shard $shard/; s/ps-0/ps-$shard/" \
      "$units/ps-0.env" >"/etc/paramd/ps-$shard.env"
done
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "installed: /usr/local/bin/paramd-*, units in /etc/systemd/system, settings in /etc/paramd"
