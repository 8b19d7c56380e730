"""What the Python worker's tests share: the build tree (PARAMD_BUILD_DIR,
default build/), its generated package on sys.path, and a local cluster
started by `paramctl launch` that Python trainers join."""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("PARAMD_BUILD_DIR", os.path.join(SOURCE, "build"))
PYTHON_PATH = os.path.join(BUILD, "python")
sys.path.insert(0, PYTHON_PATH)


def python_trainer(script):
    """The command of a Python trainer running python/examples/`script`."""
    return ["/usr/bin/python3", os.path.join(SOURCE, "python", "examples",
                                             script)]


def cpp_trainer():
    """The command of a C++ trainer."""
    return [os.path.join(BUILD, "bin", "paramd-worker"), "--role=trainer"]


class Run:
    """A job launched by paramctl with `cpp_workers` C++ trainers of its
    own, joined by a trainer for each command in `trainers` (each gets
    --coordinator=ADDRESS appended; its log is trainers/<i>.log)."""

    def __init__(self, folder, config, cpp_workers, trainers):
        self.dir = os.path.join(folder, "run")
        yaml_path = os.path.join(folder, "job.yaml")
        with open(yaml_path, "w") as f:
            f.write(config)
        self.launch = subprocess.Popen(
            [os.path.join(BUILD, "bin", "paramctl"), "launch",
             "--workers=%d" % cpp_workers, "--run_dir=" + self.dir,
             "--timeout_s=300", yaml_path],
            stdout=open(os.path.join(folder, "launch.out"), "w"),
            stderr=subprocess.STDOUT)
        port_file = os.path.join(self.dir, "coordinator.port")
        give_up = time.monotonic() + 60
        while not os.path.exists(port_file):
            assert self.launch.poll() is None, self.output()
            assert time.monotonic() < give_up, "the coordinator never started"
            time.sleep(0.1)
        with open(port_file) as f:
            self.coordinator = "127.0.0.1:" + f.read().strip()
        self.trainers = []
        for command in trainers:
            self.add_trainer(command)

    def add_trainer(self, command):
        log = open(os.path.join(self.dir, "trainer-%d.log" %
                                len(self.trainers)), "w")
        self.trainers.append(subprocess.Popen(
            command + ["--coordinator=" + self.coordinator],
            env=dict(os.environ, PYTHONPATH=PYTHON_PATH), stdout=log,
            stderr=subprocess.STDOUT))

    def wait_for_log(self, name, text, timeout_s=60):
        give_up = time.monotonic() + timeout_s
        while text not in self.log(name):
            assert time.monotonic() < give_up, self.log(name)
            time.sleep(0.1)

    def output(self):
        with open(os.path.join(os.path.dirname(self.dir), "launch.out")) as f:
            return f.read()

    def log(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def wait(self, timeout_s=300):
        """Waits for the job; returns its summary.json."""
        try:
            code = self.launch.wait(timeout=timeout_s)
        finally:
            self.stop()
        assert code == 0, self.output()
        for i, trainer in enumerate(self.trainers):
            assert trainer.wait(timeout=30) == 0, self.log(
                "trainer-%d.log" % i)
        with open(os.path.join(self.dir, "summary.json")) as f:
            return json.load(f)

    def stop(self):
        for process in [self.launch] + self.trainers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


@pytest.fixture
def folder():
    with tempfile.TemporaryDirectory(prefix="paramd-py-") as path:
        yield path


@pytest.fixture
def launch(folder):
    runs = []

    def start(config, cpp_workers, python_trainers, name="job"):
        os.makedirs(os.path.join(folder, name))
        runs.append(Run(os.path.join(folder, name), config, cpp_workers,
                        python_trainers))
        return runs[-1]

    yield start
    for run in runs:
        run.stop()


@pytest.fixture(scope="session")
def brown():
    """The shipped Brown slice, prepared as the NPLM reads it: (folder,
    vocab_size, pad_id)."""
    with tempfile.TemporaryDirectory(prefix="paramd-py-brown-") as out:
        subprocess.run(
            ["/usr/bin/python3", os.path.join(SOURCE, "tools", "data",
                                              "prepare_brown.py"),
             "--source", os.path.join(SOURCE, "tests", "testdata", "brown"),
             "--out", out, "--train", "6000", "--valid", "2000",
             "--min-count", "2", "--shards", "4"],
            check=True, capture_output=True)
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
        yield out, meta["vocab_size"], meta["pad_id"]
