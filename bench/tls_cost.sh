#!/usr/bin/env bash
# What TLS, mutual TLS and role tokens cost a training job: the same job
# through `paramctl launch`, plaintext and then with all three on (certs and
# tokens from scripts/make-certs.sh and make-tokens.sh), in one run on this
# machine. Prints each run's examples per second (from its summary) and the
# ratio.
#   bash bench/tls_cost.sh [BUILD_DIR]
# The job: config/brown-nplm-short.yaml on its first 2 shards, 1 epoch, no
# evaluation (needs data/brown: build/bin/paramctl data brown --out=data/brown).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[ -f "$root/data/brown/meta.json" ] ||
  "$build/bin/paramctl" data brown --out="$root/data/brown"
work=$(mktemp -d /tmp/paramd-tls-cost-XXXXXX)
"$root/scripts/make-certs.sh" "$work/sec" >/dev/null
"$root/scripts/make-tokens.sh" "$work/sec" >/dev/null

sed -e "s|\.\./data/brown/|$root/data/brown/|" \
    -e 's|train-0000\[0-5\]|train-0000[0-1]|' -e 's|epochs: 2 |epochs: 1 |' \
    -e '/^  eval:/d' -e '/^  test:/d' \
    "$root/config/brown-nplm-short.yaml" >"$work/plain.yaml"
cp "$work/plain.yaml" "$work/secure.yaml"
cat >>"$work/secure.yaml" <<YAML

security:
  tls_cert: sec/node.crt
  tls_key: sec/node.key
  tls_ca: sec/ca.crt
  mutual_tls: true
  tokens: sec/tokens
  worker_token: sec/worker.token
  server_token: sec/server.token
  admin_token: sec/admin.token
YAML

rate() {
  "$build/bin/paramctl" launch "$work/$1.yaml" --run_dir="$work/$1" \
    --summary="$work/$1.json" >/dev/null
  /usr/bin/python3 -c "import json; print(json.load(open('$work/$1.json'))['examples_per_s'])"
}
plain=$(rate plain)
secure=$(rate secure)
/usr/bin/python3 - "$plain" "$secure" <<'PY'
import sys
plain, secure = map(float, sys.argv[1:])
print("plaintext:               %8.0f examples/s" % plain)
print("TLS + mutual TLS + tokens: %6.0f examples/s (%.2fx plaintext)"
      % (secure, secure / plain))
PY
echo "runs in $work"
