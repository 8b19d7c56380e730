"""paramd-bench against the servers it starts: every cell measured, and
every pipelined push applied exactly once (the bench checks the servers'
versions against the pushes acknowledged and fails otherwise).

  /usr/bin/python3 tests/integration/bench_test.py BIN_DIR
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

BIN = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/bin")


def bench(run_dir, *flags):
    return subprocess.run(
        [os.path.join(BIN, "paramd-bench"), "--run_dir=" + run_dir, *flags],
        capture_output=True, text=True, timeout=240)


class BenchTest(unittest.TestCase):

    def test_every_cell_is_measured_and_every_push_applied(self):
        with tempfile.TemporaryDirectory() as run_dir:
            out = os.path.join(run_dir, "bench.json")
            done = bench(run_dir, "--servers=2", "--seconds=0.2",
                         "--dense_kib=4,64", "--sparse_keys=1000",
                         "--widths=1,8", "--in_flight=1,8", "--threads=1,2",
                         "--json=" + out)
            self.assertEqual(done.returncode, 0, done.stderr)
            with open(out) as f:
                cells = json.load(f)["cells"]
        # 2 ops x (2 dense + 2 sparse) x 2 in flight x 2 threads.
        self.assertEqual(len(cells), 32)
        self.assertEqual(done.stdout.count("\n"), 1 + 1 + 32)  # + header
        for cell in cells:
            self.assertGreater(cell["requests"], 0, cell)
            self.assertGreater(cell["gb_per_s"], 0, cell)
            self.assertGreater(cell["server_cpu_s_per_gb"], 0, cell)
            self.assertLessEqual(cell["p50_ms"], cell["p99_ms"], cell)
            if cell["kind"] == "sparse":
                self.assertEqual(cell["bytes"],
                                 cell["keys"] * cell["width"] * 4, cell)
                self.assertGreater(cell["keys_per_s"], 0, cell)
        self.assertEqual({(c["op"], c["kind"]) for c in cells},
                         {("push", "dense"), ("push", "sparse"),
                          ("pull", "dense"), ("pull", "sparse")})

    def test_bad_flags_are_named(self):
        with tempfile.TemporaryDirectory() as run_dir:
            for flag, named in [("--in_flight=0", "--in_flight: '0'"),
                                ("--ops=fetch", "--ops: 'fetch'"),
                                ("--dense_kib=big", "--dense_kib: 'big'")]:
                done = bench(run_dir, flag)
                self.assertEqual(done.returncode, 1, flag)
                self.assertIn(named, done.stderr)

    def test_an_unreachable_coordinator_is_named(self):
        with tempfile.TemporaryDirectory() as run_dir:
            done = bench(run_dir, "--coordinator=127.0.0.1:1")
            self.assertEqual(done.returncode, 1)
            self.assertIn("cannot reach the coordinator at 127.0.0.1:1",
                          done.stderr)

if __name__ == "__main__":
    unittest.main()
