"""A real Prometheus scrapes a running cluster.

Starts a job with `paramctl launch` (coordinator, 2 servers, 2 trainers, an
evaluator, each serving /metrics on an OS-picked port), checks every
daemon's own /metrics page, then starts Debian's Prometheus with a scrape
config naming those ports and asks its HTTP API for `up == 1` on every
daemon and for a training counter that grows. Finally every query of the
Grafana dashboard in deploy/grafana must name only metrics the daemons
export.

  /usr/bin/python3 tests/integration/prometheus_test.py BIN_DIR
"""

import glob
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

BIN = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/bin")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "deploy/grafana/paramd-dashboard.json")
DAEMONS = ["coordinator", "ps0", "ps1", "trainer0", "trainer1", "evaluator2"]

CONFIG = """
job: {name: prometheus, consistency: asp, epochs: 100000, batch_size: 8,
      heartbeat_interval_s: 0.5, eval_interval_s: 0.5}
cluster: {num_servers: 2, num_workers: 2}
data: {train: train-*.svm, eval: eval.svm}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
"""


def write_data(folder):
    rng = random.Random(7)

    def line():
        label = rng.randint(0, 1)
        features = sorted(rng.sample(range(1, 50), 4))
        return "%d %s\n" % (label, " ".join(
            "%d:%d" % (f + 50 * label, 1) for f in features))

    for shard in range(4):
        with open(os.path.join(folder, "train-%d.svm" % shard), "w") as out:
            out.writelines(line() for _ in range(200))
    with open(os.path.join(folder, "eval.svm"), "w") as out:
        out.writelines(line() for _ in range(100))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_for(what, check, timeout_s):
    give_up = time.time() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.time() > give_up:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.25)


def exported_names(page):
    """Metric names on a /metrics page, histograms under their base name."""
    names = set()
    for line in page.splitlines():
        match = re.match(r"# TYPE (\S+) (\S+)", line)
        if match:
            names.add(match.group(1))
    return names


class PrometheusTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="paramd-prometheus-")
        write_data(cls.dir)
        config = os.path.join(cls.dir, "job.yaml")
        with open(config, "w") as out:
            out.write(CONFIG)
        with open(os.path.join(cls.dir, "launch.out"), "w") as log:
            cls.launch = subprocess.Popen(
                [os.path.join(BIN, "paramctl"), "launch", config,
                 "--run_dir=" + cls.dir, "--timeout_s=300"],
                stdout=log, stderr=subprocess.STDOUT)
        cls.prometheus = None

        def ports():
            found = {}
            for name in DAEMONS:
                path = os.path.join(cls.dir, name + ".metrics_port")
                if not os.path.exists(path):
                    return None
                found[name] = int(open(path).read())
            return found

        cls.ports = wait_for("every daemon's metrics port", ports, 60)

    @classmethod
    def tearDownClass(cls):
        for process in (cls.prometheus, cls.launch):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
        # The folder stays, for post-mortems.

    def page(self, name):
        return get("http://127.0.0.1:%d/metrics" % self.ports[name])

    def test_1_each_daemon_serves_its_metrics(self):
        expected = {
            "coordinator": ["paramd_coordinator_live_workers",
                            "paramd_coordinator_shards_done",
                            "paramd_coordinator_leases_granted_total",
                            "paramd_rpc_server_handled_total"],
            "ps0": ["paramd_ps_version", "paramd_ps_table_bytes",
                    "paramd_ps_updates_applied_total",
                    "paramd_rpc_server_received_bytes_total",
                    "paramd_rpc_server_handling_seconds"],
            "trainer0": ["paramd_worker_steps_total",
                         "paramd_worker_step_seconds_total"],
            "evaluator2": ["paramd_eval_loss", "paramd_eval_accuracy"],
        }
        for name, metrics in expected.items():
            page = wait_for(
                name + "'s metrics",
                lambda: (lambda p: p if all(m in p for m in metrics) else None)(
                    self.page(name)), 30)
            for metric in metrics:
                self.assertIn(metric, exported_names(page), name)
        # The trainer's counters are there from its start; pushes follow.
        pushes = wait_for("a push counted by ps0", lambda: re.search(
            r'paramd_rpc_server_handled_total\{code="OK",'
            r'method="/paramd.v1.ParameterServer/Push"\} (\S+)',
            self.page("ps0")), 30)
        self.assertGreater(float(pushes.group(1)), 0)
        phases = re.findall(r'paramd_worker_step_seconds_total\{phase="(\w+)"\}',
                            self.page("trainer0"))
        self.assertEqual(sorted(phases), ["compute", "pull", "push"])

    def test_2_prometheus_scrapes_every_daemon(self):
        port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as out:
            out.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                      "scrape_configs:\n")
            for name, metrics_port in self.ports.items():
                out.write("  - job_name: paramd-%s\n"
                          "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                          % (name, metrics_port))
        with open(os.path.join(self.dir, "prometheus.log"), "w") as log:
            type(self).prometheus = subprocess.Popen(
                ["prometheus", "--config.file=" + config,
                 "--storage.tsdb.path=" + os.path.join(self.dir, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % port,
                 "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        api = "http://127.0.0.1:%d/api/v1/query?query=" % port

        def query(expr):
            try:
                answer = json.loads(get(api + urllib.parse.quote(expr)))
            except OSError:
                return []
            return answer["data"]["result"]

        def all_up():
            up = {r["metric"]["job"]: r["value"][1] for r in query("up")}
            return up if len(up) == len(DAEMONS) and set(
                up.values()) == {"1"} else None

        up = wait_for("up == 1 on every daemon", all_up, 60)
        self.assertEqual(sorted(up), sorted("paramd-" + d for d in DAEMONS))

        def steps():
            result = query("sum(paramd_worker_steps_total)")
            return float(result[0]["value"][1]) if result else None

        first = wait_for("a steps sample", steps, 30)
        wait_for("the steps counter to grow",
                 lambda: (steps() or 0) > first, 30)

    def test_3_dashboard_names_only_exported_metrics(self):
        exported = set()
        for name in DAEMONS:
            exported |= exported_names(self.page(name))
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = [target["expr"] for panel in dashboard["panels"]
                 for target in panel.get("targets", [])]
        self.assertGreater(len(exprs), 10)
        for expr in exprs:
            names = re.findall(r"\b(paramd_[a-z_]+)", expr)
            self.assertTrue(names or "up{" in expr, expr)
            for name in names:
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                self.assertTrue(name in exported or base in exported,
                                "%s: %s is not exported" % (expr, name))


if __name__ == "__main__":
    unittest.main(verbosity=2)
