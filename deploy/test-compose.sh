#!/usr/bin/env bash
# The compose cluster for real: builds the images from a local Debian base,
# prepares the Brown corpus in the prepare service, and trains a small job
# three times:
#   1. fault-free: every shard once per epoch, held-out perplexity recorded;
#   2. a parameter server SIGKILLed mid-job: its container exits, compose
#      restarts it, and the job completes with an exact ledger and
#      perplexity near run 1;
#   3. `docker-compose stop` mid-job: every daemon exits 0, the servers write
#      their final checkpoint; `up` resumes from it and finishes the job.
# Starts dockerd if none runs (and stops what it started). Run as root from
# anywhere: bash deploy/test-compose.sh
set -euo pipefail
cd "$(dirname "$0")"
deploy=$(pwd)
start=$(date +%s)
log() { echo "test-compose [$(($(date +%s) - start))s]: $*"; }
fail() { echo "test-compose: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/paramd-compose.XXXXXX)
project=paramdtest$$
source "$deploy/docker/engine.sh"
compose() { docker-compose -p "$project" -f "$deploy/docker-compose.yml" "$@"; }
cleanup() {
  compose logs --no-color >"$work/compose.log" 2>&1 || true
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  stop_docker
  echo "test-compose: logs in $work"
}
trap cleanup EXIT

ensure_docker "$work" || fail "no Docker engine"
bash "$deploy/docker/make-base.sh"
log "building the images"
compose build --quiet coordinator prepare
log "images built: $(docker image inspect paramd:latest \
  --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}') runtime"

# A small job: 2 Brown shards, 2 epochs, checkpoints every 5 s.
sed -e 's|train-0000\[0-5\]|train-0000[0-1]|' -e 's|every_s: 30|every_s: 5|' \
    -e 's|name: brown-nplm-compose|name: brown-compose-test|' \
    "$deploy/compose/brown-nplm.yaml" >"$work/job.yaml"
export PARAMD_JOB=$work/job.yaml
export PARAMD_COORDINATOR_PORT=  # any free host port
export PARAMD_PROMETHEUS_PORT=   # the same

status() {
  compose exec -T coordinator paramctl status --json \
    --coordinator=127.0.0.1:7000 2>/dev/null
}
# Prints FIELD of the status JSON (a Python expression over `s`).
field() { status | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
wait_for() {  # wait_for SECONDS EXPRESSION
  local deadline=$(($(date +%s) + $1))
  while (($(date +%s) < deadline)); do
    [ "$(field "$2" 2>/dev/null)" = True ] && return 0
    sleep 2
  done
  status || true
  fail "not within $1 s: $2"
}
check_ledger() {
  field 'all(e["shards_done"] == s["num_shards"] and e["completions"] == s["num_shards"] for e in s["epochs_status"]) and len(s["epochs_status"]) == s["epochs"]' |
    grep -x True >/dev/null || { status; fail "ledger not exact"; }
}
done_expr='s["done"] and s["eval_final"]'
# Waits (up to 60 s) for every container of the services to exit, and
# fails unless each exited 0.
exited_zero() {
  local id code
  for service in "$@"; do
    for id in $(compose ps -q "$service"); do
      for _ in $(seq 60); do
        [ "$(docker inspect -f '{{.State.Status}}' "$id")" = exited ] && break
        sleep 1
      done
      code=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id")
      [ "$code" = "exited 0" ] || fail "$service: $code"
    done
  done
}

# True once Prometheus scrapes every daemon (up == 1 for the coordinator,
# both servers, the evaluator and both trainers) and the trainers' step
# counter is above zero.
prometheus_sees_all() {
  local port
  port=$(compose port prometheus 9090 2>/dev/null | sed 's/.*://')
  [ -n "$port" ] || return 1
  /usr/bin/python3 - "$port" <<'PY'
import json, sys, urllib.parse, urllib.request
def query(expr):
    url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (
        sys.argv[1], urllib.parse.quote(expr))
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)["data"]["result"]
up = [r["metric"]["job"] for r in query("up == 1")]
steps = query("sum(paramd_worker_steps_total)")
ok = (sorted(set(up)) == ["paramd-coordinator", "paramd-evaluator",
                          "paramd-ps", "paramd-worker"] and
      up.count("paramd-ps") == 2 and up.count("paramd-worker") == 2 and
      steps and float(steps[0]["value"][1]) > 0)
sys.exit(0 if ok else 1)
PY
}

log "run 1: fault-free"
compose up -d --quiet-pull
for _ in $(seq 120); do prometheus_sees_all 2>/dev/null && break; sleep 2; done
prometheus_sees_all || fail "Prometheus does not scrape every daemon"
log "Prometheus scrapes all 6 daemons; the trainers' steps counter grows"
wait_for 600 "$done_expr"
check_ledger
ppl1=$(field 's["eval"]["eval_perplexity"]')
log "run 1 done: validation perplexity $ppl1"
exited_zero worker evaluator
compose down >/dev/null 2>&1
docker volume rm "${project}_checkpoints" >/dev/null

log "run 2: a parameter server killed mid-job"
compose up -d
wait_for 300 'len(s["checkpoints"]) >= 1 and int(s["examples"]) > 0 and not s["done"]'
ps1=$(compose ps -q ps1)
# The server process dies as in a crash: SIGKILL to tini's child. (`docker
# kill` would not do: Docker takes it for a deliberate stop, and its
# restart policy leaves the container down.)
pkill -KILL -P "$(docker inspect -f '{{.State.Pid}}' "$ps1")" paramd-ps
log "SIGKILLed paramd-ps in ps1; waiting for compose to restart it"
for _ in $(seq 60); do
  [ "$(docker inspect -f '{{.RestartCount}}' "$ps1")" -ge 1 ] && break
  sleep 1
done
[ "$(docker inspect -f '{{.RestartCount}}' "$ps1")" -ge 1 ] ||
  fail "ps1 was not restarted"
log "compose restarted ps1"
wait_for 600 "$done_expr"
check_ledger
ppl2=$(field 's["eval"]["eval_perplexity"]')
rollbacks=$(field 'len(s["rollbacks"])')
log "run 2 done: perplexity $ppl2 after $rollbacks rollback(s)"
[ "$rollbacks" -ge 1 ] || fail "no rollback after the restart"
/usr/bin/python3 -c "import sys; a, b = $ppl1, $ppl2; sys.exit(abs(a - b) > 0.15 * a)" ||
  fail "perplexity $ppl2 not within 15% of the fault-free $ppl1"
compose down >/dev/null 2>&1
docker volume rm "${project}_checkpoints" >/dev/null

log "run 3: stopped mid-job, then resumed"
compose up -d
wait_for 300 'len(s["checkpoints"]) >= 1 and len(s["epochs_status"]) >= 1 and s["epochs_status"][0]["shards_done"] >= 1 and not s["done"]'
compose stop >/dev/null 2>&1
exited_zero coordinator ps0 ps1 worker evaluator
for server in ps0 ps1; do
  compose logs --no-color "$server" >"$work/$server.log"
  # The last lines: shutting down, then the final checkpoint.
  sed -n '/shutting down/,$p' "$work/$server.log" |
    grep "checkpoint v[0-9]* written" >/dev/null ||
    fail "$server wrote no final checkpoint"
done
log "stopped: every daemon exited 0"
compose down >/dev/null 2>&1
compose up -d
wait_for 120 'len(s["rollbacks"]) >= 1 and int(s["rollbacks"][-1]) > 0'
log "resumed from version $(field 's["rollbacks"][-1]') of the servers' checkpoints"
wait_for 600 "$done_expr"
check_ledger
log "run 3 done: perplexity $(field 's["eval"]["eval_perplexity"]')"
log "PASSED in $(($(date +%s) - start)) s"
