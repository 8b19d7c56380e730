#!/usr/bin/env python3
"""Tests for tools/data/prepare_text.py (`paramctl data text`).

Run from the repo root: /usr/bin/python3 -m unittest tests/unit/tools/prepare_text_test.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import script_test_util as util  # noqa: E402  (tests/unit/tools/script_test_util.py)

CASES = util.ROOT / "tests" / "testdata" / "tokenize_cases.tsv"

# Three documents (two files; the first holds a form-feed line), paragraphs
# split by blank lines.
FILES = {
    "a.txt": "The cat sat on the mat. The dog sat too.\n\nA cat ran.\n"
             "\f\n"
             "Second document, the cat again.\n\nAnd the dog.\n",
    "b.txt": "Third document: the mat, the cat, the dog.\n\n\nThe end of it.\n",
}


def load_module():
    return util.load_script("prepare_text")


class TokenizeTest(unittest.TestCase):
    def test_agrees_with_the_shared_cases(self):
        tokenize = load_module().tokenize
        cases = 0
        for line in CASES.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            mode, text, expected = line.split("\t")
            self.assertEqual(" ".join(tokenize(text, mode == "lower")), expected, text)
            cases += 1
        self.assertGreaterEqual(cases, 8)


class PrepareTextTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="prepare_text_test.")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.src = os.path.join(self.tmp, "src")
        os.makedirs(self.src)
        for name, text in FILES.items():
            Path(self.src, name).write_text(text, encoding="utf-8")
        self.out = os.path.join(self.tmp, "out")

    def run_script(self, *args):
        return subprocess.run(
            [sys.executable, str(util.script_path("prepare_text")), "--out", self.out,
             *args], capture_output=True, text=True, timeout=60)

    def prepared(self, *args):
        proc = self.run_script(*args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        meta = json.loads(Path(self.out, "meta.json").read_text())
        vocab = Path(self.out, "vocab.txt").read_text(encoding="utf-8").splitlines()
        return meta, vocab

    def ids(self, name, vocab):
        return [vocab[int(i)] for i in Path(self.out, name).read_text().split()]

    def test_documents_paragraphs_and_splits(self):
        meta, vocab = self.prepared("--source", self.src, "--shards", "2",
                                    "--valid", "0.2", "--test", "0.2", "--min-count", "1")
        self.assertEqual(meta["documents"], 3)
        self.assertEqual(meta["paragraphs"], 6)
        self.assertEqual(vocab[0], "<unk>")
        self.assertEqual(meta["vocab_size"], len(vocab))
        self.assertEqual(vocab[meta["pad_id"]], "</d>")
        # Every token once across the splits and shards, cut at paragraphs.
        train = [t for n in meta["train_files"] for t in self.ids(n, vocab)]
        valid, test = self.ids("valid.ids", vocab), self.ids("test.ids", vocab)
        self.assertEqual(len(train) + len(valid) + len(test), meta["tokens"])
        for split in (train, valid, test):
            self.assertTrue(split, "a split is empty")
            self.assertIn(split[-1], ("</p>", "</d>"))
        # The last paragraph is test; words train never saw are <unk>.
        self.assertEqual(test, ["The", "<unk>", "<unk>", "<unk>", ".", "</p>", "</d>"])
        self.assertEqual(len(meta["train_files"]), 2)

    def test_job_yaml_matches_the_data(self):
        meta, _ = self.prepared("--source", self.src, "--shards", "2", "--min-count", "1",
                      "--valid", "0.2", "--test", "0.2")
        job = Path(self.out, "job.yaml").read_text()
        self.assertIn(f"vocab_size: {meta['vocab_size']}\n", job)
        self.assertIn(f"pad_id: {meta['pad_id']}", job)
        self.assertIn(f"shape: [{meta['vocab_size']}, 120]", job)
        self.assertIn("train: train-*.ids", job)

    def test_lowercase_and_min_count(self):
        meta, vocab = self.prepared("--source", self.src, "--shards", "1",
                                    "--lowercase", "--min-count", "3",
                                    "--valid", "0", "--test", "0")
        self.assertTrue(meta["lowercase"])
        self.assertNotIn("The", vocab)
        self.assertIn("the", vocab)
        self.assertNotIn("mat", vocab)  # 2 times in train: under --min-count 3
        self.assertIn("</p>", vocab)
        self.assertEqual(meta["valid"], 0)

    def test_the_same_input_gives_the_same_files(self):
        self.prepared("--source", self.src, "--shards", "2", "--min-count", "1",
                      "--valid", "0.2", "--test", "0.2")
        first = {p.name: p.read_bytes() for p in Path(self.out).iterdir()}
        shutil.rmtree(self.out)
        self.prepared("--source", self.src, "--shards", "2", "--min-count", "1",
                      "--valid", "0.2", "--test", "0.2")
        self.assertEqual(first, {p.name: p.read_bytes() for p in Path(self.out).iterdir()})

    def test_bad_input_is_named(self):
        cases = [
            (["--source", os.path.join(self.tmp, "none.txt")], "none.txt: no such file"),
            (["--source", self.src, "--shards", "50", "--valid", "0.2", "--test", "0.2"],
             "cannot cut it into 50 shards"),
        ]
        Path(self.tmp, "empty.txt").write_text(" \n\n")
        cases.append((["--source", os.path.join(self.tmp, "empty.txt")], "empty.txt: no text"))
        Path(self.tmp, "latin1.txt").write_bytes(b"caf\xe9\n")
        cases.append((["--source", os.path.join(self.tmp, "latin1.txt")],
                      "latin1.txt: not UTF-8 text (byte 3)"))
        for args, needle in cases:
            proc = self.run_script(*args)
            self.assertEqual(proc.returncode, 2, (args, proc.stderr))
            self.assertIn(needle, proc.stderr)
        proc = self.run_script("--source", self.src, "--valid", "0.6", "--test", "0.5")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("sum below 1", proc.stderr)


if __name__ == "__main__":
    unittest.main()
