#!/usr/bin/env bash
# The systemd units for real: boots systemd as PID 1 in a container (the
# runtime image plus systemd), installs this host's build
# and the units with deploy/systemd/install.sh as a user would, checks them
# with systemd-analyze verify, starts a cluster with systemctl and trains a
# small job to the end; mid-job a parameter server is SIGKILLed
# (systemctl kill) and systemd restarts it; then `systemctl stop` of a
# server exits 0 with its checkpoint written. Needs the runtime image
# (deploy/test-compose.sh builds it) and a build (scripts/build.sh).
#   bash deploy/test-systemd.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=$(realpath "${1:-build}")
start=$(date +%s)
log() { echo "test-systemd [$(($(date +%s) - start))s]: $*"; }
fail() { echo "test-systemd: FAILED: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/paramd-systemd.XXXXXX)
source deploy/docker/engine.sh
box=
cleanup() {
  if [ -n "$box" ]; then
    docker exec "$box" journalctl --no-pager -u 'paramd*' >"$work/journal.log" 2>&1 || true
    docker rm -f "$box" >/dev/null 2>&1 || true
  fi
  stop_docker
  echo "test-systemd: logs in $work"
}
trap cleanup EXIT
ensure_docker "$work" || fail "no Docker engine"
docker image inspect paramd:latest >/dev/null 2>&1 ||
  fail "no paramd:latest image (run deploy/test-compose.sh first)"
docker build -q -t paramd-systemd -f deploy/systemd/Dockerfile.test \
  deploy/systemd >/dev/null
log "image paramd-systemd built"

# What a user copies to the host: the checkout's deploy/ and a build.
DESTDIR=$work/root cmake --install "$build" --prefix /usr/local >/dev/null
/usr/bin/python3 - "$work/data" <<'PY'
import os, random, sys
out = sys.argv[1]; os.makedirs(out)
rng = random.Random(7)
def line():
    x = [rng.random() for _ in range(8)]
    y = int(sum(x[:4]) > sum(x[4:]))
    return f"{y} " + " ".join(f"{i + 1}:{v:.4f}" for i, v in enumerate(x)) + "\n"
for s in range(6):
    with open(f"{out}/train-{s}.svm", "w") as f: f.writelines(line() for _ in range(1500))
with open(f"{out}/eval.svm", "w") as f: f.writelines(line() for _ in range(300))
PY
cat >"$work/job.yaml" <<'YAML'
job: {name: systemd-test, consistency: bsp, epochs: 2, batch_size: 1,
      lease_timeout_s: 4, heartbeat_interval_s: 0.5, eval_interval_s: 0}
cluster: {num_servers: 2}
data: {train: /srv/paramd/data/train-*.svm, eval: /srv/paramd/data/eval.svm}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 0.05}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
checkpoint: {dir: /var/lib/paramd/ckpt, every_steps: 500, keep: 3}
YAML

# Not --privileged: this sandbox refuses it ("unable to apply caps:
# operation not permitted"). systemd needs the cgroup tree and, for the
# units' sandboxing (ProtectSystem=, PrivateTmp=), CAP_SYS_ADMIN.
box=$(docker run -d --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  --tmpfs /run --tmpfs /run/lock paramd-systemd)
for _ in $(seq 60); do
  state=$(docker exec "$box" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.5
done
case "$state" in running|degraded) ;; *)
  docker logs "$box" >"$work/boot.log" 2>&1 || true
  fail "systemd did not boot in the container (state '$state'; see $work/boot.log)" ;;
esac
log "systemd booted as PID 1 ($state)"
docker cp "$work/root/usr/local/." "$box:/usr/local/"
docker exec "$box" mkdir -p /src /srv/paramd
docker cp "$root/deploy" "$box:/src/deploy"
docker cp "$work/data" "$box:/srv/paramd/data"
docker cp "$work/job.yaml" "$box:/etc/paramd-job.yaml"
docker exec "$box" bash /src/deploy/systemd/install.sh /no-build-here
docker exec "$box" mv /etc/paramd-job.yaml /etc/paramd/job.yaml
units="paramd-coordinator.service paramd-ps@0.service paramd-ps@1.service
       paramd-worker@1.service paramd-worker@2.service paramd-evaluator.service"
docker exec "$box" systemd-analyze verify $units 2>"$work/verify.log" ||
  { cat "$work/verify.log"; fail "systemd-analyze verify"; }
log "systemd-analyze verify: passed$([ -s "$work/verify.log" ] && echo ", with: $(cat "$work/verify.log")")"

docker exec "$box" systemctl start $units || fail "systemctl start"
log "cluster started (every unit active once its health check said SERVING)"
field() {
  docker exec "$box" paramctl status --json --coordinator=127.0.0.1:7000 2>/dev/null |
    /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}
wait_for() {
  local deadline=$(($(date +%s) + $1))
  while (($(date +%s) < deadline)); do
    [ "$(field "$2" 2>/dev/null)" = True ] && return 0
    sleep 1
  done
  fail "not within $1 s: $2"
}
wait_for 120 'len(s["checkpoints"]) >= 1 and not s["done"]'
docker exec "$box" systemctl kill -s SIGKILL paramd-ps@1.service
for _ in $(seq 30); do
  restarts=$(docker exec "$box" systemctl show -p NRestarts --value paramd-ps@1.service)
  [ "$restarts" -ge 1 ] && break
  sleep 1
done
[ "$restarts" -ge 1 ] || fail "systemd did not restart paramd-ps@1"
log "paramd-ps@1 SIGKILLed; systemd restarted it ($restarts restart)"
wait_for 300 's["done"] and s["eval_final"]'
field 'all(e["shards_done"] == 6 and e["completions"] == 6 for e in s["epochs_status"]) and len(s["rollbacks"]) >= 1' |
  grep -x True >/dev/null || fail "ledger not exact, or no rollback after the restart"
log "job done: every shard once per epoch, $(field 'len(s["rollbacks"])') rollback(s)"

docker exec "$box" systemctl stop paramd-ps@0.service
code=$(docker exec "$box" systemctl show -p ExecMainStatus --value paramd-ps@0.service)
[ "$code" = 0 ] || fail "paramd-ps@0 exited $code on stop"
docker exec "$box" journalctl --no-pager -u paramd-ps@0.service >"$work/ps0.log"
sed -n '/shutting down/,$p' "$work/ps0.log" | grep "checkpoint v[0-9]* written" \
  >/dev/null || fail "paramd-ps@0 wrote no checkpoint on stop"
docker exec "$box" systemctl stop $units
log "PASSED in $(($(date +%s) - start)) s"
