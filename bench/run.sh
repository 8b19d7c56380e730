#!/usr/bin/env bash
# The transport benchmark in one command: installs what it needs, builds,
# measures loopback TCP with iperf3, then runs paramd-bench (1 server,
# 1 client) and prints each dense cell's GB/s as a ratio of iperf3's from
# this same run, beside ps-lite's ratios (measured outside the project on
# this machine class; see bench/README.md). Writes bench/out/.
#   bash bench/run.sh [paramd-bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: run as root (it installs iperf3 and the build's packages with apt)" >&2
  exit 1
fi
bash scripts/install-deps.sh --bench >/dev/null
BUILD_DIR=$build_dir bash scripts/build.sh >/dev/null
out=bench/out
mkdir -p "$out"

# iperf3 on loopback for 3 s. It cannot take port 0, so a free port is
# picked and, should another process take it first, picked again.
rm -f "$out/iperf3.json"
for _ in 1 2 3; do
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  timeout 20 iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 50); do
    timeout 10 iperf3 -c 127.0.0.1 -p "$port" -t 3 -J >"$out/iperf3.json" 2>/dev/null && break
    rm -f "$out/iperf3.json"
    sleep 0.1
  done
  wait "$server" || true
  [ -s "$out/iperf3.json" ] && break
done
if ! grep -q '"sum_received"' "$out/iperf3.json" 2>/dev/null; then
  echo "bench/run.sh: iperf3 on loopback gave no result" >&2
  exit 1
fi

timeout 1200 "$build_dir/bin/paramd-bench" --json="$out/paramd.json" "$@" |
  tee "$out/paramd.txt"

/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
iperf = json.load(open(f"{out}/iperf3.json"))
limit = iperf["end"]["sum_received"]["bits_per_second"] / 8 / 1e9
cells = json.load(open(f"{out}/paramd.json"))["cells"]
# ps-lite (ZeroMQ) push / pull as a fraction of iperf3 (3.46 GB/s) in the
# issue's run: one at a time, and push with 8 in flight.
pslite = {(64 << 10, 1): "0.11 / 0.09", (1 << 20, 1): "0.70 / 0.70",
          (4 << 20, 1): "0.37 / 0.55", (16 << 20, 1): "0.44 / 0.52",
          (64 << 10, 8): "0.24 / -", (1 << 20, 8): "0.61 / -",
          (4 << 20, 8): "0.63 / -", (16 << 20, 8): "0.73 / -"}
lines = [f"iperf3 loopback: {limit:.2f} GB/s", "",
         "| value size | in flight | paramd push / pull GB/s | "
         "paramd / iperf3 | ps-lite / iperf3 | server CPU s/GB push / pull |",
         "| --- | --- | --- | --- | --- | --- |"]
dense = {}
for c in cells:
    if c["kind"] == "dense" and c["threads"] == 1:
        dense.setdefault((c["bytes"], c["in_flight"]), {})[c["op"]] = c
for (size, n), ops in sorted(dense.items()):
    if "push" not in ops or "pull" not in ops:
        continue
    push, pull = ops["push"], ops["pull"]
    ref = pslite.get((size, n), "")
    name = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
    lines.append(
        f"| {name} | {n} | {push['gb_per_s']:.2f} / {pull['gb_per_s']:.2f} | "
        f"{push['gb_per_s'] / limit:.2f} / {pull['gb_per_s'] / limit:.2f} | "
        f"{ref} | "
        f"{push['server_cpu_s_per_gb']:.2f} / "
        f"{pull['server_cpu_s_per_gb']:.2f} |")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
